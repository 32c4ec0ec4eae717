import { OptionError } from '../errors.js';
import { loadMpi, type MpiBinding } from './native.js';

/**
 * The processes of one training run, across machines: an MPI job.
 *
 * Contract: ProcessGroup.join(workers) is called once per process, on the main
 * thread, by every process of the job with the same worker count; it returns
 * this process's rank and the job's size, and one communicator per local
 * worker rank (`comms[r]` spans worker r of every process), as plain integers
 * that travel to the worker threads in the Session (Note [handles, not
 * objects] in native/mpi/mpi.c). It fails, with the same error in every
 * process, when the worker counts differ.
 *
 * Note [engine: Open MPI]: decision: the cross-process all-reduce runs on Open
 * MPI, not gloo. On loopback both move large vectors over TCP alike, but for
 * the MLP's vector, the size every step of the tutorial sends, Open MPI is an
 * order of magnitude faster, and between processes of one host it takes shared
 * memory on its own; its launcher, mpirun, is what cluster users know. gloo's
 * one advantage, a timeout on its collectives, is covered by the coordinator's
 * watchdog (Note [a failure ends the MPI job] in trainer.ts). Re-measure:
 * `mpirun -np 2 node dist/bench/collective/mpi-allreduce.js` against
 * bench/collective/gloo-allreduce.cc (figures: docs/multi-process.md).
 *
 * Note [ring allreduce]: Open MPI 4.1's default algorithm for a 40 MB vector
 * between 2 processes was far slower than the ring, and for the MLP's vector
 * the ring is as fast as the default. Decision: join() selects the ring unless
 * the user set OMPI_MCA_coll_tuned_allreduce_algorithm (mpirun -x, or --mca)
 * already. Re-measure: the mpi-allreduce bench above with and without that
 * variable.
 */
/** How long joining (and leaving) may wait for the other processes: starting Node and MPI on every machine. */
const JOIN_TIMEOUT_MS = 120_000;

export class ProcessGroup {
  private constructor(
    private readonly mpi: MpiBinding,
    /** This process, 0 to size-1; rank 0 prints, evaluates, checkpoints and saves. */
    readonly rank: number,
    readonly size: number,
    /** One communicator per local worker rank. */
    readonly comms: readonly number[],
  ) {}

  /**
   * Joins the MPI job this process was started in (mpirun). Throws OptionError when
   * the addon is missing. When the other processes have not all joined within
   * `timeoutMs`, prints why and exits 1 (Note [native watchdog] in native/mpi/mpi.c).
   */
  static join(workers: number, timeoutMs = JOIN_TIMEOUT_MS): ProcessGroup {
    const loaded = loadMpi();
    if (loaded.mpi === undefined) throw new OptionError(`running under mpirun, but ${loaded.reason}`);
    const mpi = loaded.mpi;
    if (process.env.OMPI_MCA_coll_tuned_allreduce_algorithm === undefined) {
      // Note [ring allreduce]; MPI_Init reads these from the environment.
      process.env.OMPI_MCA_coll_tuned_use_dynamic_rules = '1';
      process.env.OMPI_MCA_coll_tuned_allreduce_algorithm = '4';
    }
    mpi.watchdog(
      timeoutMs,
      `error: the MPI job's processes did not all start within ${timeoutMs / 1000} s; ending this one\n`,
    );
    const { rank, size, threadLevel } = mpi.init();
    if (threadLevel !== 3) {
      mpi.disarm();
      mpi.finalize();
      throw new Error(
        `MPI provides thread level ${threadLevel}, worker-ddp needs MPI_THREAD_MULTIPLE (3): one collective per worker thread at once`,
      );
    }
    // Same worker count everywhere iff sum(N)^2 = size * sum(N^2) (Cauchy-Schwarz); every process gets the same sums.
    const counts = Float64Array.of(workers, workers * workers);
    mpi.allreduce(0, counts);
    if (counts[0] * counts[0] !== size * counts[1]) {
      mpi.disarm();
      mpi.finalize();
      throw new OptionError(
        `every process needs the same --workers (this one has ${workers}, the ${size} processes ${counts[0]} in all)`,
      );
    }
    // One call per local rank r, in which every process passes color r: comm r spans worker r of every process.
    // Separate communicators keep the N concurrent allreduces of a step from matching each other's messages.
    const comms = Array.from({ length: workers }, (_, r) => mpi.split(r, rank));
    mpi.disarm();
    return new ProcessGroup(mpi, rank, size, comms);
  }

  /** Ends every process of the job now (MPI_Abort): for a collective that can no longer complete. */
  abort(code: number): never {
    return this.mpi.abort(code);
  }

  /** Leaves the job cleanly; the last call on the group. MPI_Finalize waits for the other processes: for `timeoutMs` at most. */
  finalize(timeoutMs = JOIN_TIMEOUT_MS): void {
    this.mpi.watchdog(
      timeoutMs,
      `error: MPI rank ${this.rank} of ${this.size}: the other processes did not finish within ${timeoutMs / 1000} s; ending this one\n`,
    );
    this.mpi.finalize();
    this.mpi.disarm();
  }
}

/** True when this process was started by Open MPI's mpirun with more than one process. */
export function underMpirun(env: NodeJS.ProcessEnv = process.env): boolean {
  return Number(env.OMPI_COMM_WORLD_SIZE ?? '1') > 1;
}
