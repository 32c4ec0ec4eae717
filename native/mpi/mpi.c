/*
 * worker_ddp_mpi: the few MPI calls worker-ddp needs, for Node-API (node_api.h).
 *
 *   init()                 -> { rank, size, threadLevel }   MPI_Init_thread(MPI_THREAD_MULTIPLE), main thread, once
 *   split(color, key)      -> comm handle (int)             MPI_Comm_split of MPI_COMM_WORLD, collective
 *   allreduce(comm, view)                                   MPI_Allreduce(MPI_IN_PLACE, sum) on a Float32Array or Float64Array
 *   barrier(comm)
 *   finalize()
 *   abort(code)                                             MPI_Abort(MPI_COMM_WORLD): ends every process of the job
 *   watchdog(ms, message) / disarm()                        a deadline for calls on the main thread (below)
 *
 * Note [handles, not objects]: a communicator is created on the main thread
 * and used from a worker thread, which has its own JS heap, so it crosses as a
 * plain integer: an index into the process-wide table `comms` below (one copy
 * of this library per process, shared by every thread's instance of the
 * module). Handle 0 is MPI_COMM_WORLD.
 *
 * Note [context-aware]: NAPI_MODULE_INIT makes the module loadable in every
 * worker thread (each thread gets its own exports; the module keeps no
 * per-thread state). Node refuses non-context-aware addons in workers.
 *
 * Note [RTLD_GLOBAL]: Node loads an addon with RTLD_LOCAL, so libmpi's symbols
 * would be invisible to the Open MPI plugins (mca_*.so) it dlopens during
 * MPI_Init, which then fail with "undefined symbol". init() reopens libmpi
 * with RTLD_GLOBAL first.
 *
 * Note [native watchdog]: MPI_Init, and the collectives that set up the job,
 * wait for every process, and while the main thread waits in them no JS timer
 * can fire. watchdog(ms, message) arms a deadline on a thread of its own: when
 * it passes before disarm(), the message goes to stderr and the process exits
 * with code 1, after which mpirun ends the rest of the job.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <mpi.h>
#include <node_api.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_COMMS 1024

static MPI_Comm comms[MAX_COMMS];
static int comm_count = 0;

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

#define CHECK_NAPI(call)                                              \
  do {                                                                \
    if ((call) != napi_ok) return fail(env, "worker_ddp_mpi: " #call " failed"); \
  } while (0)

static napi_value mpi_fail(napi_env env, const char *what, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  char msg[MPI_MAX_ERROR_STRING + 64];
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", code);
  snprintf(msg, sizeof msg, "%s failed: %s", what, text);
  return fail(env, msg);
}

static napi_value int_value(napi_env env, int v) {
  napi_value out;
  if (napi_create_int32(env, v, &out) != napi_ok) return fail(env, "worker_ddp_mpi: napi_create_int32 failed");
  return out;
}

/* The i-th argument as an int32, or NULL after throwing. */
static int arg_int(napi_env env, napi_callback_info info, size_t i, int *out) {
  size_t argc = 4;
  napi_value argv[4];
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc <= i) {
    fail(env, "worker_ddp_mpi: missing integer argument");
    return 0;
  }
  if (napi_typeof(env, argv[i], &t) != napi_ok || t != napi_number || napi_get_value_int32(env, argv[i], out) != napi_ok) {
    fail(env, "worker_ddp_mpi: argument must be an integer");
    return 0;
  }
  return 1;
}

static int arg_comm(napi_env env, napi_callback_info info, size_t i, MPI_Comm *out) {
  int h;
  if (!arg_int(env, info, i, &h)) return 0;
  if (h < 0 || h >= comm_count) {
    fail(env, "worker_ddp_mpi: unknown communicator handle");
    return 0;
  }
  *out = comms[h];
  return 1;
}

/* Note [native watchdog]. */
static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv;
static int wd_started = 0, wd_armed = 0;
static struct timespec wd_deadline;
static char wd_message[1024];

static void *wd_main(void *unused) {
  (void)unused;
  pthread_mutex_lock(&wd_mu);
  for (;;) {
    if (!wd_armed) {
      pthread_cond_wait(&wd_cv, &wd_mu);
      continue;
    }
    if (pthread_cond_timedwait(&wd_cv, &wd_mu, &wd_deadline) == ETIMEDOUT && wd_armed) {
      ssize_t ignored = write(2, wd_message, strlen(wd_message));
      (void)ignored;
      _exit(1);
    }
  }
  return NULL;
}

static napi_value js_watchdog(napi_env env, napi_callback_info info) {
  size_t argc = 2, len = 0;
  napi_value argv[2];
  int ms;
  if (!arg_int(env, info, 0, &ms)) return NULL;
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || ms < 0) return fail(env, "worker_ddp_mpi: watchdog(ms >= 0, message)");
  pthread_mutex_lock(&wd_mu);
  if (napi_get_value_string_utf8(env, argv[1], wd_message, sizeof wd_message - 1, &len) != napi_ok) {
    pthread_mutex_unlock(&wd_mu);
    return fail(env, "worker_ddp_mpi: watchdog message must be a string");
  }
  if (!wd_started) {
    pthread_condattr_t attr;
    pthread_t thread;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wd_cv, &attr);
    if (pthread_create(&thread, NULL, wd_main, NULL) != 0) {
      pthread_mutex_unlock(&wd_mu);
      return fail(env, "worker_ddp_mpi: cannot start the watchdog thread");
    }
    pthread_detach(thread);
    wd_started = 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &wd_deadline);
  wd_deadline.tv_sec += ms / 1000;
  wd_deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (wd_deadline.tv_nsec >= 1000000000L) {
    wd_deadline.tv_sec += 1;
    wd_deadline.tv_nsec -= 1000000000L;
  }
  wd_armed = 1;
  pthread_cond_signal(&wd_cv);
  pthread_mutex_unlock(&wd_mu);
  return NULL;
}

static napi_value js_disarm(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  pthread_mutex_lock(&wd_mu);
  wd_armed = 0;
  if (wd_started) pthread_cond_signal(&wd_cv);
  pthread_mutex_unlock(&wd_mu);
  return NULL;
}

static napi_value js_init(napi_env env, napi_callback_info info) {
  (void)info;
  int initialized = 0, provided = 0, rank = 0, size = 0, rc;
  MPI_Initialized(&initialized);
  if (initialized) return fail(env, "worker_ddp_mpi: MPI is already initialised in this process");
  /* Note [RTLD_GLOBAL] above; the soname is Open MPI's (libmpi.so.40 since 3.0). */
  if (dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == NULL) dlopen("libmpi.so", RTLD_NOW | RTLD_GLOBAL);
  rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
  if (rc != MPI_SUCCESS) return mpi_fail(env, "MPI_Init_thread", rc);
  /* Errors come back as codes (then JS exceptions), not as an abort inside MPI. */
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  comms[0] = MPI_COMM_WORLD;
  comm_count = 1;
  napi_value out;
  CHECK_NAPI(napi_create_object(env, &out));
  CHECK_NAPI(napi_set_named_property(env, out, "rank", int_value(env, rank)));
  CHECK_NAPI(napi_set_named_property(env, out, "size", int_value(env, size)));
  CHECK_NAPI(napi_set_named_property(env, out, "threadLevel",
                                     int_value(env, provided == MPI_THREAD_MULTIPLE ? 3 : provided == MPI_THREAD_SERIALIZED ? 2 : provided == MPI_THREAD_FUNNELED ? 1 : 0)));
  return out;
}

static napi_value js_split(napi_env env, napi_callback_info info) {
  int color, key, rc;
  MPI_Comm c;
  if (!arg_int(env, info, 0, &color) || !arg_int(env, info, 1, &key)) return NULL;
  if (comm_count == 0) return fail(env, "worker_ddp_mpi: init() first");
  if (comm_count == MAX_COMMS) return fail(env, "worker_ddp_mpi: too many communicators");
  rc = MPI_Comm_split(MPI_COMM_WORLD, color, key, &c);
  if (rc != MPI_SUCCESS) return mpi_fail(env, "MPI_Comm_split", rc);
  MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
  comms[comm_count] = c;
  return int_value(env, comm_count++);
}

static napi_value js_allreduce(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool is_typed;
  napi_typedarray_type type;
  size_t length;
  void *data;
  MPI_Comm comm;
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!arg_comm(env, info, 0, &comm)) return NULL;
  if (argc < 2 || napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed) {
    return fail(env, "worker_ddp_mpi: allreduce needs a Float32Array or Float64Array");
  }
  /* Works on views of a SharedArrayBuffer (a WebAssembly.Memory's too): data points at the view's first element. */
  CHECK_NAPI(napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL));
  if (type != napi_float32_array && type != napi_float64_array) {
    return fail(env, "worker_ddp_mpi: allreduce needs a Float32Array or Float64Array");
  }
  if (length > 0x7fffffff) return fail(env, "worker_ddp_mpi: allreduce of more than 2^31-1 elements");
  if (length == 0) return NULL;
  int rc = MPI_Allreduce(MPI_IN_PLACE, data, (int)length, type == napi_float32_array ? MPI_FLOAT : MPI_DOUBLE, MPI_SUM, comm);
  if (rc != MPI_SUCCESS) return mpi_fail(env, "MPI_Allreduce", rc);
  return NULL;
}

static napi_value js_barrier(napi_env env, napi_callback_info info) {
  MPI_Comm comm;
  if (!arg_comm(env, info, 0, &comm)) return NULL;
  int rc = MPI_Barrier(comm);
  if (rc != MPI_SUCCESS) return mpi_fail(env, "MPI_Barrier", rc);
  return NULL;
}

static napi_value js_finalize(napi_env env, napi_callback_info info) {
  (void)info;
  int rc = MPI_Finalize();
  if (rc != MPI_SUCCESS) return mpi_fail(env, "MPI_Finalize", rc);
  comm_count = 0;
  return NULL;
}

static napi_value js_abort(napi_env env, napi_callback_info info) {
  int code;
  if (!arg_int(env, info, 0, &code)) return NULL;
  MPI_Abort(MPI_COMM_WORLD, code);
  return NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_enumerable, NULL},
      {"split", NULL, js_split, NULL, NULL, NULL, napi_enumerable, NULL},
      {"allreduce", NULL, js_allreduce, NULL, NULL, NULL, napi_enumerable, NULL},
      {"barrier", NULL, js_barrier, NULL, NULL, NULL, napi_enumerable, NULL},
      {"finalize", NULL, js_finalize, NULL, NULL, NULL, napi_enumerable, NULL},
      {"abort", NULL, js_abort, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watchdog", NULL, js_watchdog, NULL, NULL, NULL, napi_enumerable, NULL},
      {"disarm", NULL, js_disarm, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
