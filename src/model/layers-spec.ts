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
  readonly loss: FnSpec;
  /** The compiled metrics, in order; their log names are `metricNames`. */
  readonly metrics: readonly FnSpec[];
  /** tfjs's log names of the metrics (model.metricsNames without 'loss'), e.g. ['acc']. */
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
export type FnSpec = { readonly name: string; readonly source?: undefined } | { readonly name: string; readonly source: string };
