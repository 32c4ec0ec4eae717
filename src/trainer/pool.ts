import { Piscina } from 'piscina';
import { largestSemiSpaceMb, startSemiSpacesAt, workerResourceLimits } from '../runtime.js';
import { PEER_ABORTED } from '../shm/barrier.js';

/**
 * The worker pool: a Piscina pool of exactly `size` threads, driven in
 * "collective" calls that give every thread one task at once.
 *
 * Contract: collective() resolves with one result per rank, or rejects with the
 * first real failure (not the PeerAborted echoes it causes in the other ranks),
 * within `stallMs` of the last sign of progress, and only once every task has
 * settled (so the caller may then reset what onFailure aborted). A hung worker
 * is terminated (Piscina ends the thread of an aborted task and starts a fresh
 * one, as it does for a thread that exits), so no wait in here is unbounded and
 * the pool is whole again for the next call.
 */
const WORKER = new URL('../../workers/train-worker.js', import.meta.url).href;

export interface CollectiveOptions {
  /** Fails the call when `progress()` has not changed for this long. */
  readonly stallMs: number;
  /** A counter that moves while the call makes progress (e.g. barrier arrivals). */
  readonly progress?: () => number;
  /**
   * Note [start-up is not a stall]: a thread that replaced a failed one must first
   * start its tfjs engine (seconds on a loaded machine) before it can show any
   * progress. Until `started()` holds (every rank has checked in), the call is
   * allowed max(stallMs, startupMs) without progress.
   */
  readonly startupMs?: number;
  readonly started?: () => boolean;
  /** Describes a stall (which rank is behind) for the error message. */
  readonly describeStall?: () => string;
  /** Names task i in a failure message (default `worker i`). */
  readonly describeTask?: (i: number) => string;
  /** Called once when the call fails, before waiting for the other ranks: release their barriers. */
  readonly onFailure?: () => void;
}

/**
 * Called instead of recovering when a call fails in an MPI job, where a
 * thread may be blocked in a collective that no JS can interrupt: it must end
 * the process (Note [a failure ends the MPI job] in trainer.ts).
 */
export type Fatal = (err: Error) => never;

export class WorkerPool {
  private readonly piscina: Piscina;

  /**
   * Note [young generation]: each thread's V8 young generation is
   * `youngGenerationMb` (options.youngGenerationMb), not V8's default (48 MB
   * here, whose 16 MB semi-space the generic path fills every ~16 steps). At
   * the default, V8 promoted what survived each scavenge to the old generation
   * (~300 KB of tfjs's objects that die a few steps later): 3.1-5.0 ms of
   * parallel phase per scavenge. With room to spare it keeps them young, where
   * they die: 7-17 KB promoted, 0.25-0.43 ms (`--trace-gc-nvp`, 3,000 steps at 2
   * workers: 196 scavenges, 811 ms of pauses at 48 MB; 187, 234 ms at 96; the
   * same ~15.6 MB allocated between two). Measured (scratch A/B, 2026-11-29:
   * two Trainers in one process, both scavenging together, 16 interleaved pairs
   * of 800 steps, paired ratios) against the default: the generic MLP at 2 workers
   * 1.147x with 96 MB (middle half 1.07-1.21), 1.166x with 192, 1.105x with 384;
   * at 96 MB the convnet 1.093x (1.07-1.16) and the hand-written MLP 1.039x
   * (0.99-1.07). `npm run bench:scaling` repeats it (--young 48): 1.23x for the
   * generic path at 2 workers (middle half of 7 pairs 1.16-1.60). The price: up to
   * ~64 MB more resident per thread.
   *
   * Note [no shrinking]: V8 starts a young generation small (2 MB of new space
   * here), grows it only as objects survive (tfjs's die young, so slowly), and
   * shrinks it back after a collection that finds the thread allocating slowly,
   * as a pool's threads do while the coordinator evaluates or the process does
   * something else for a few seconds. Seen in `npm run bench:scaling`, whose
   * rows wait ~20 s for the others between repetitions: V8's new space (its heap
   * space statistics) was 2-8 MB at most worker threads' scavenges, against 32
   * MB in a run of two rows (a logging build, 2026-11-29), and the scavenge
   * phase took 10-16% of the generic and convnet rows' worker time, against
   * 1-2%. So every thread starts with semi-spaces of a quarter of their largest
   * (V8's `--min-semi-space-size`; 8 MB at 96 MB), below which V8 does not
   * shrink them. The bench's `gc` column since: 1-4% of every row's worker time
   * in two full runs at half their largest (03:26, 03:33 UTC), 2-8% in a third
   * at a quarter (03:55). Measured (scratch A/B: two Trainers in one process,
   * the one started first without it, blocks of steps alternating ABBA, paired
   * ratios), with 5 s of idling before each block: examples/mlp.js at 2 workers
   * 1.124x (middle half of 8 pairs 1.096-1.269; scavenge phase 7.9% -> 2.6% of
   * worker time), the convnet 1.149x (1.071-1.257); without idling the MLP
   * 1.002x. Half their largest (16 MB) gained a little more after idling
   * (1.177x, 1.177x) but cost the first epoch from a cold start ~10% (`npm run
   * train -- --workers 1 --epochs 1`, 3 alternating runs: 41,000 against 46,000
   * samples/s): on this VM a page fault costs microseconds, and a thread then
   * touches all of its new space at once; a quarter costs nothing there
   * (46,400-50,100 against 47,200-48,000). Their largest (32 MB) was slower even
   * without idling (the MLP 0.933x and 0.903x, its scavenges 6.1-6.9% of worker
   * time against 2.5-2.9%). The flag is process-wide and read when an isolate
   * starts: it is raised, never lowered, so worker threads started later in this
   * process start at min(it, their own maximum) too.
   */
  constructor(
    readonly size: number,
    youngGenerationMb: number,
    private readonly fatal?: Fatal,
  ) {
    startSemiSpacesAt(semiSpacesMb(youngGenerationMb).start);
    this.piscina = new Piscina({
      filename: WORKER,
      minThreads: size,
      maxThreads: size,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      resourceLimits: workerResourceLimits(youngGenerationMb),
    });
  }

  async collective<T>(name: string, tasks: readonly object[], opts: CollectiveOptions): Promise<T[]> {
    const controller = new AbortController();
    let failed: Error | undefined;
    const fail = (err: Error): void => {
      if (failed !== undefined) return;
      failed = err;
      if (this.fatal !== undefined) this.fatal(err);
      opts.onFailure?.();
    };
    const runs = tasks.map((task, i) =>
      this.piscina.run(task, { name, signal: controller.signal }).catch((err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        const who = opts.describeTask?.(i) ?? `worker ${i}`;
        if (!e.message.includes(PEER_ABORTED) && !controller.signal.aborted) fail(new Error(`${who}: ${e.message}`));
        throw e;
      }),
    );
    const watchdog = this.watch(opts, (ms) => {
      const why = opts.describeStall?.() ?? 'a worker';
      const recovery = this.fatal === undefined ? "; the pool's threads were terminated and replaced" : '';
      fail(new Error(`${why} made no progress for ${ms} ms (hung?)${recovery}`));
      controller.abort();
    });
    try {
      const settled = await Promise.allSettled(runs);
      if (failed !== undefined) throw failed;
      const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (rejected !== undefined) throw rejected.reason;
      return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
    } finally {
      clearInterval(watchdog);
    }
  }

  /** Polls progress; calls onStall once when it stays unchanged for stallMs (Note [start-up is not a stall]). */
  private watch(opts: CollectiveOptions, onStall: (ms: number) => void): NodeJS.Timeout {
    let last = opts.progress?.();
    let since = Date.now();
    const timer = setInterval(
      () => {
        const now = opts.progress?.();
        if (now !== last) {
          last = now;
          since = Date.now();
        } else {
          const limit = opts.started?.() === false ? Math.max(opts.stallMs, opts.startupMs ?? 0) : opts.stallMs;
          if (Date.now() - since > limit) {
            clearInterval(timer);
            onStall(limit);
          }
        }
      },
      Math.min(1000, Math.max(10, opts.stallMs / 10)),
    );
    timer.unref();
    return timer;
  }

  /** Ends every thread; tasks still running are rejected. */
  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}

/**
 * The semi-spaces of a `youngGenerationMb` young generation, MB: its largest
 * (runtime.ts), and the quarter of it a pool's threads start at (Note [no shrinking]).
 */
export function semiSpacesMb(youngGenerationMb: number): { readonly largest: number; readonly start: number } {
  const largest = largestSemiSpaceMb(youngGenerationMb);
  return { largest, start: Math.floor(largest / 4) };
}
