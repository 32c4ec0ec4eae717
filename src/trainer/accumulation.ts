import { stepsPerEpoch } from '../data/shuffle.js';
import type { Range } from '../partition.js';

/**
 * How an epoch's batches group into optimizer steps under gradient accumulation
 * (options.accumulateSteps = k): step s of an epoch takes batches [s*k, (s+1)*k),
 * the last step the batches that remain; batch b is samples [b*B, (b+1)*B) of the
 * epoch's order, the last batch the samples that remain. k = 1: a step is a batch.
 */
export interface Grouping {
  /** Training samples per epoch. */
  readonly count: number;
  readonly batchSize: number;
  readonly accumulate: number;
  /**
   * A streamed run's batch sizes (data/ring.ts): batch b has sizes[b] samples, at
   * most batchSize; `count` is then sizes.length * batchSize.
   */
  readonly sizes?: Int32Array;
}

/** Batches per epoch: what tfjs's callbacks count. */
export function batchesPerEpoch(g: Grouping): number {
  return stepsPerEpoch(g.count, g.batchSize);
}

/** Optimizer steps per epoch. */
export function optimizerSteps(g: Grouping): number {
  return Math.ceil(batchesPerEpoch(g) / g.accumulate);
}

/** The batches [lo, hi) of step s (0-based, within its epoch). */
export function stepBatches(g: Grouping, s: number): Range {
  const lo = s * g.accumulate;
  return { lo, hi: Math.min(lo + g.accumulate, batchesPerEpoch(g)) };
}

/** The samples [lo, hi) of batch b (0-based, within its epoch), as positions in the epoch's order. */
export function batchSamples(g: Grouping, b: number): Range {
  const lo = b * g.batchSize;
  return { lo, hi: g.sizes === undefined ? Math.min(lo + g.batchSize, g.count) : lo + Atomics.load(g.sizes, b) };
}
