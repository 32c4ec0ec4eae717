/**
 * Workers and the threads they run on.
 *
 * A run's N workers are ranks: rank r computes shard r of every batch into its
 * own gradient row and owns slice r of the reduce-scatter and the optimizer
 * state. They run on T <= N threads ("lanes"); lane t computes ranks t, t + T,
 * t + 2T, ... one after another, between the same two barriers a step has.
 *
 * Note [workers on fewer threads]: with more threads than free cores, every
 * barrier crossing waits for the OS to schedule the last thread, at every step;
 * so T = min(N, cores) by default. Invariant: folding changes no arithmetic:
 * each rank's shard, row, slice and the rank-ordered sums are the same, so T
 * threads give N workers' parameters bit for bit (test/lanes.test.ts asserts
 * Object.is against T = N). Not folded: an MPI job (each worker holds its own
 * communicator) and a model with non-trainable weights (each rank keeps its own
 * batch-norm statistics in its model; Note [buffers from rank 0]). Re-measure:
 * `npm run bench:oversubscription -- --workers 2,4,8 --hog`.
 */

/** The ranks lane `lane` of `lanes` computes, in order. */
export function ranksOf(lane: number, lanes: number, workers: number): number[] {
  const out: number[] = [];
  for (let r = lane; r < workers; r += lanes) out.push(r);
  return out;
}

/**
 * How many threads N workers run on: `requested` when given (1 to N), else
 * min(N, cores); N where the run cannot fold (above).
 */
export function lanesFor(workers: number, cores: number, canFold: boolean, requested: number | undefined): number {
  if (!canFold) return workers;
  return requested ?? Math.min(workers, Math.max(1, cores));
}
