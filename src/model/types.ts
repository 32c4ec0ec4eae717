/**
 * What the parallel machinery needs from a model, and nothing more.
 *
 * A model declares named variables; the machinery lays them end to end in one
 * flat Float32 vector (see layout.ts), all-reduces gradients of that vector and
 * steps the optimizer on it. The model only has to turn (flat params, a shard of
 * samples) into (sum of per-sample losses, flat gradient of that sum). That is
 * the whole contract, the same for the tutorial MLP and every user model.
 */
import type { Targets } from '../data/dataset.js';
import type { Clock } from '../profile/record.js';

/** One trainable variable as a model declares it. */

export interface VariableSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/**
 * A shard: `indices` select rows of `images` (row-major, `features` floats each)
 * and entries of `labels`. The images are the SharedArrayBuffer-backed dataset
 * itself, so a replica gathers exactly the rows it needs, in the layout it wants.
 */
export interface Batch {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly features: number;
  readonly indices: Int32Array;
  /** Non-label targets, (count, ...shape) (data/dataset.ts). */
  readonly targets?: Targets;
  /** Further inputs and targets, and per-sample loss weights, as on a Split (data/dataset.ts). */
  readonly extraInputs?: readonly Targets[];
  readonly extraTargets?: readonly Targets[];
  readonly sampleWeights?: readonly (Float32Array | undefined)[];
}

/** A batch's sums in inference mode: of the per-sample loss, and of each metric. */
export interface EvalSums {
  readonly lossSum: number;
  /** In the model's metric order (LayersSpec.metricNames). */
  readonly metricSums: readonly number[];
}

/**
 * What a worker thread trains, evaluates and predicts with: a rebuilt
 * tf.LayersModel (layers-replica.ts), or its tape-free form (sequential-replica.ts).
 */
export interface WorkerModel {
  /**
   * Writes d(sum of the shard's per-sample losses)/d(params) into `grad` (same
   * flat layout as `params`) and returns that loss sum; also the sums of the
   * training metrics into `metricSums`, when it has any. The *sum*, not the
   * mean: the all-reduce divides by the global batch size once, so any split of
   * a batch gives the full-batch mean gradient. `clock`, when profiling, is
   * called with 'uploaded' and 'computed' at the end of those phases.
   */
  lossAndGradSum(
    params: Float32Array,
    batch: Batch,
    grad: Float32Array,
    clock?: Clock,
    metricSums?: Float64Array,
  ): number;
  evaluate(params: Float32Array, batch: Batch): EvalSums;
  /** The model's outputs for the batch, row-major (n, ...outputShape). */
  predict(params: Float32Array, batch: Batch): Float32Array;
  /** The non-trainable weights (batch-norm moving statistics), end to end; empty when there are none. */
  nonTrainable(): Float32Array;
}
