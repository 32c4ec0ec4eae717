/**
 * Workers and the threads they run on.
 *
 * Note [workers on fewer threads]: a run's N workers split each batch into N
 * shards; they run on T = min(N, cores) threads by default, thread t computing
 * the shards of its block of consecutive workers as one shard (their union is
 * contiguous). With more threads than free cores every barrier crossing waits
 * for the OS to schedule the last thread, at every step; and computing a
 * block's shards one after another pays a step's fixed cost per shard (the MLP
 * runs 4 shards of 8 samples at about half the speed of one of 32). Invariant:
 * the gradient is the batch mean however the batch is split, so N workers on T
 * threads equal N workers on N threads up to float rounding, as any two worker
 * counts do (the equivalence tests), and T workers bit for bit where the blocks
 * split the batch as T workers would (test/lanes.test.ts). Not folded: an MPI job
 * (each worker holds its own communicator) and a model with non-trainable
 * weights (each worker's batch-norm statistics come from its own shard).
 * Re-measure: `npm run bench:oversubscription -- --workers 2,4,8 --hog`.
 */
import { partition, type Range } from '../partition.js';

/** The workers [lo, hi) that thread `thread` of `threads` computes. */
export function workersOf(thread: number, threads: number, workers: number): Range {
  return { lo: Math.floor((thread * workers) / threads), hi: Math.floor(((thread + 1) * workers) / threads) };
}

/** The samples [lo, hi) of a batch of `len` that thread `thread` computes: the union of its workers' shards. */
export function threadShard(len: number, workers: number, threads: number, thread: number): Range {
  const { lo, hi } = workersOf(thread, threads, workers);
  return { lo: partition(len, workers, lo).lo, hi: partition(len, workers, hi - 1).hi };
}

/** The workers of thread `thread` as messages and traces name them: `3`, or `2-4` for a block. */
export function workersName(thread: number, threads: number, workers: number): string {
  const { lo, hi } = workersOf(thread, threads, workers);
  return hi - lo > 1 ? `${lo}-${hi - 1}` : `${lo}`;
}

/**
 * How many threads N workers run on: `requested` when given (1 to N), else
 * min(N, cores); N where the run cannot fold (above).
 */
export function threadsFor(workers: number, cores: number, canFold: boolean, requested: number | undefined): number {
  if (!canFold) return workers;
  return requested ?? Math.min(workers, Math.max(1, cores));
}
