import type { BatchHooks } from './callbacks.js';

/** Training time a chunk aims at while batch hooks read only logs: their lag behind training. */
const TARGET_MS = 100;
/** Steps per chunk in an MPI job, where every process must stop at the same step. */
const GROUP_STEPS = 16;

/**
 * How many optimizer steps fitParallel gives each pool task, by what the callbacks'
 * batch hooks need (Callbacks.batchHooks): the rest of the epoch for 'none', one step
 * for 'live', and for 'logs' steps for about TARGET_MS, from the speed of the chunk
 * before (the first chunk of a fit is one step).
 *
 * Note [logs-only chunks]: a pool task costs a round trip, and the live model a copy
 * of the weights per hook; logs-only batch hooks need neither, so they run after their
 * chunk's steps, each batch's onBatchBegin then onBatchEnd, in order, with model.fit's
 * logs, and before the epoch's onEpochEnd. A display lags training by a chunk at most.
 * The steps and their logs do not depend on the chunks, only where a stop lands: a
 * stopTraining set in a batch hook stops at the end of its chunk, after the hooks of
 * the chunk's other batches (trained, and counted in the epoch's logs). Chunks are
 * timed so that a small model runs many steps per task and a large one stays live; in
 * an MPI job (`paced` false) they are GROUP_STEPS, so every process stops at the same
 * step. `node dist/bench/tensorboard.js --fit` re-measures the cost against no callback.
 */
export class StepChunks {
  private steps: number;

  constructor(
    private readonly hooks: BatchHooks,
    private readonly paced: boolean,
  ) {
    this.steps = paced ? 1 : GROUP_STEPS;
  }

  /** Steps of the next task, when `left` steps remain in the epoch. */
  next(left: number): number {
    if (this.hooks === 'none') return left;
    if (this.hooks === 'live') return 1;
    return Math.min(this.steps, left);
  }

  /** Records that the last task trained `steps` steps in `ms`. */
  took(steps: number, ms: number): void {
    if (this.paced) this.steps = Math.max(1, Math.floor((steps * TARGET_MS) / Math.max(ms, 1e-3)));
  }
}
