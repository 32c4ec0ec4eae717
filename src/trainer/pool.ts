import { Piscina } from 'piscina';
import { largestSemiSpaceMb, startSemiSpacesAt, tierUpSooner, workerResourceLimits } from '../runtime.js';
import { PEER_ABORTED } from '../collective/barrier.js';

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
   * Note [young generation]: decision: each thread's V8 young generation is
   * `youngGenerationMb` (options.youngGenerationMb, 96 MB), not V8's default (48
   * MB). At the default each scavenge promotes the tfjs objects alive at that
   * moment, which die a few steps later in the old generation; with room to
   * spare they die young and a scavenge is a fraction of the pause. Invariant:
   * the setting changes pauses only, never results. Price: up to ~64 MB more
   * resident per thread. Re-measure: `npm run bench:scaling -- --young 48`
   * (an A/B row; the figures are in docs/performance.md, "Garbage collection").
   *
   * Note [no shrinking]: decision: every thread starts with semi-spaces of a
   * quarter of their largest (V8's `--min-semi-space-size`, runtime.ts), below
   * which V8 does not shrink them. V8 shrinks a young generation after a
   * collection that finds the thread allocating slowly (a pool idles while the
   * coordinator evaluates), and the thread then scavenges every few steps for
   * thousands of steps. A quarter, not a half: a larger start costs the first
   * epoch page faults. Invariant: the flag is process-wide, read when an isolate
   * starts, and only ever raised. Re-measure: `npm run bench:scaling` (its `gc`
   * column) and `npm run train -- --workers 1 --epochs 1` for the cold start.
   */
  constructor(
    readonly size: number,
    youngGenerationMb: number,
    private readonly fatal?: Fatal,
  ) {
    startSemiSpacesAt(semiSpacesMb(youngGenerationMb).start);
    tierUpSooner(); // Note [tier up sooner] in runtime.ts
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
