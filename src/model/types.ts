/**
 * What the parallel machinery needs from a model, and nothing more.
 *
 * A model declares named variables; the machinery lays them end to end in one
 * flat Float32 vector (see layout.ts), all-reduces gradients of that vector and
 * steps the optimizer on it. The model only has to turn (flat params, a shard of
 * samples) into (sum of per-sample losses, flat gradient of that sum). That is
 * the whole contract, so a user-defined tfjs model plugs in the same way as the MLP.
 */

/** One trainable variable as a model declares it. */
import type { Targets } from '../data/dataset.js';
import type { Clock } from '../profile/record.js';

export interface VariableSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** The pure description of a model: no tensors, usable on the coordinator and in workers alike. */
export interface ModelDef {
  readonly name: string;
  readonly inputSize: number;
  readonly numClasses: number;
  readonly variables: readonly VariableSpec[];
  /** Fills `params` (laid out by layout.ts from `variables`) with initial values drawn from `random` (uniform [0,1)). */
  init(params: Float32Array, random: () => number): void;
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
  /** Non-label targets, (count, ...shape) (data/dataset.ts): only the layers replica reads them. */
  readonly targets?: Targets;
  /** Further inputs and targets, and per-sample loss weights, as on a Split (data/dataset.ts): only the layers replica reads them. */
  readonly extraInputs?: readonly Targets[];
  readonly extraTargets?: readonly Targets[];
  readonly sampleWeights?: readonly (Float32Array | undefined)[];
}

/** A model instantiated on one thread's tfjs engine. */
export interface Replica {
  /**
   * Writes d(sum of the shard's per-sample NLL losses)/d(params) into `grad`
   * (same flat layout as `params`) and returns that loss sum. The *sum*, not the
   * mean: the all-reduce divides by the global batch size once, so any split of a
   * batch gives the full-batch mean gradient. `clock`, when profiling, is called
   * with 'uploaded' and 'computed' at the end of those phases.
   */
  lossAndGradSum(params: Float32Array, batch: Batch, grad: Float32Array, clock?: Clock): number;
  /** Log-probabilities, row-major (indices.length, numClasses). */
  logProbs(params: Float32Array, batch: Batch): Float32Array;
}

/** A batch's sums in inference mode: of the per-sample loss, and of each metric. */
export interface EvalSums {
  readonly lossSum: number;
  /** In the model's metric order; the MLP's one metric is the count of correct predictions. */
  readonly metricSums: readonly number[];
}

/**
 * What a worker thread trains, evaluates and predicts with: a Replica behind the
 * classifier adapter (classifier.ts), or a rebuilt tf.LayersModel (layers-replica.ts).
 */
export interface WorkerModel {
  /**
   * As Replica.lossAndGradSum: the shard's loss sum, and d(that sum)/d(params) into
   * `grad`; also the sums of the training metrics into `metricSums`, when it has any.
   */
  lossAndGradSum(
    params: Float32Array,
    batch: Batch,
    grad: Float32Array,
    clock?: Clock,
    metricSums?: Float64Array,
  ): number;
  evaluate(params: Float32Array, batch: Batch): EvalSums;
  /** The model's outputs for the batch, row-major (n, ...outputShape); for the MLP, class probabilities. */
  predict(params: Float32Array, batch: Batch): Float32Array;
  /** The non-trainable weights (batch-norm moving statistics), end to end; empty when there are none. */
  nonTrainable(): Float32Array;
}
