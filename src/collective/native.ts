import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * The optional MPI addon (native/mpi/mpi.c), built by `npm run build:mpi`
 * (node-gyp against the system's Node headers and Open MPI). Single-machine
 * runs never load it, so `npm ci` and the README's commands need neither.
 */
export interface MpiBinding {
  /** MPI_Init_thread(MPI_THREAD_MULTIPLE); threadLevel 3 is MULTIPLE. Main thread, once per process. */
  init(): { readonly rank: number; readonly size: number; readonly threadLevel: number };
  /** MPI_Comm_split of the world: processes with the same color share the new communicator, ordered by key. Collective. */
  split(color: number, key: number): number;
  /** In-place sum over the communicator's processes; views of a SharedArrayBuffer or WebAssembly.Memory work. */
  allreduce(comm: number, data: Float32Array | Float64Array): void;
  barrier(comm: number): void;
  finalize(): void;
  /** MPI_Abort(MPI_COMM_WORLD, code): ends every process of the job (mpirun tears it down). */
  abort(code: number): never;
  /** Unless disarm() comes first, in `ms` prints `message` to stderr and exits 1, from a native thread (Note [native watchdog]). */
  watchdog(ms: number, message: string): void;
  disarm(): void;
}

/** Where `npm run build:mpi` puts the addon, from dist/src/collective/. */
export const ADDON = new URL('../../../native/mpi/build/Release/worker_ddp_mpi.node', import.meta.url);

/** The addon, or why not: not built, or built but not loadable (libmpi missing). */
export function loadMpi(): { readonly mpi: MpiBinding } | { readonly mpi: undefined; readonly reason: string } {
  if (!existsSync(ADDON))
    return {
      mpi: undefined,
      reason: `the MPI addon is not built (${ADDON.pathname}): apt-get install openmpi-bin libopenmpi-dev, then npm run build:mpi`,
    };
  try {
    return { mpi: createRequire(import.meta.url)(ADDON.pathname) as MpiBinding };
  } catch (err) {
    return { mpi: undefined, reason: `the MPI addon does not load: ${(err as Error).message}` };
  }
}
