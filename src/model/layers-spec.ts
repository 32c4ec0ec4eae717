import type { VariableSpec } from './types.js';

/**
 * A user's tf.LayersModel as plain data: what crosses to the worker threads,
 * since a model object cannot (its variables live in one thread's tfjs engine).
 * Each worker rebuilds the model from `topology` with tf.models.modelFromJSON,
 * compiles it with the same loss and metrics, and takes its weights from the
 * shared parameter vector, so every replica starts from the user's exact weights.
 */
export interface LayersSpec {
  readonly kind: 'layers';
  /** model.toJSON(null, false), stringified: the topology without weights. */
  readonly topology: string;
  /** The first output's loss and metrics (a one-output model's only ones): what the one-output fast paths read. */
  readonly loss: FnSpec;
  readonly metrics: readonly FnSpec[];
  /** Every input, in model.inputNames order; inputs[0].shape is inputShape. */
  readonly inputs: readonly InputSpec[];
  /** Every output, in model.outputNames order, with its loss and metrics; outputs[0] is outputShape, loss, metrics. */
  readonly outputs: readonly OutputSpec[];
  /**
   * tfjs's log names of the metrics, as History keys (model.metricsNames without
   * 'loss', deduplicated as model.fit does), e.g. ['acc']; with several outputs the
   * per-output losses first, then each output's metrics: ['out_loss', ..., 'out_acc', ...].
   */
  readonly metricNames: readonly string[];
  /** Module URLs each worker imports before rebuilding the model: they register custom layers. */
  readonly modules: readonly string[];
  /** The trainable weights in model.trainableWeights order: the flat parameter layout. */
  readonly trainable: readonly VariableSpec[];
  /** The other weights (e.g. batch-norm moving statistics), in model.nonTrainableWeights order. */
  readonly nonTrainable: readonly VariableSpec[];
  /** Their initial values, end to end. */
  readonly nonTrainableValues: Float32Array;
  /** Per-sample input and output shapes (the model's, without the batch axis). */
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  /** How a shard's targets are made: taken as given, or built from class labels for the loss. */
  readonly targets: TargetMode;
}

export interface InputSpec {
  readonly name: string;
  /** Per sample, without the batch axis. */
  readonly shape: readonly number[];
}

export interface OutputSpec extends InputSpec {
  readonly loss: FnSpec;
  /** This output's compiled metrics, in tfjs's order (compile's metrics array, or its entry by output name). */
  readonly metrics: readonly FnSpec[];
}

/**
 * given:  the data carries targets (count, ...outputShape) (fitParallel's y).
 * onehot: class labels become one-hot rows (categorical crossentropy on idx data).
 * index:  class labels become one float each (sparse categorical crossentropy on idx data).
 */
export type TargetMode = 'given' | 'onehot' | 'index';

/**
 * A loss or metric: a name tfjs-layers knows ('categoricalCrossentropy', 'acc'), or a
 * user function carried as its source text and rebuilt in each worker (Note [functions
 * as source] in fit/functions.ts).
 */
export type FnSpec =
  { readonly name: string; readonly source?: undefined } | { readonly name: string; readonly source: string };
