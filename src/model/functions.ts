import * as tf from '@tensorflow/tfjs';
import { OptionError } from '../errors.js';
import type { FnSpec } from './layers-spec.js';

/** A loss or metric as tfjs-layers calls it: per-sample values (or their mean) of (yTrue, yPred). */
export type LossOrMetricFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/**
 * Note [functions as source]: a user's loss or metric function cannot be posted to
 * a worker thread (structured clone refuses functions), so it travels as its
 * source text and each worker rebuilds it with `new Function`, with `tf` (this
 * package's tfjs, the user's own copy: it is a peer dependency) in scope. That
 * works for self-contained functions, which losses usually are:
 *   (yTrue, yPred) => tf.mean(tf.square(tf.sub(yTrue, yPred)))
 * A function that closes over other variables of the user's module fails when it
 * is rebuilt; the coordinator rebuilds and calls it once on a tiny batch before
 * any worker starts, so that failure is a one-line OptionError, not a dead worker.
 */
export function describeFunction(kind: 'loss' | 'metric', fn: (...args: never[]) => unknown): FnSpec {
  const builtin = BUILTIN.get(fn);
  if (builtin !== undefined) return { name: fn.name || builtin, source: `tf.${builtin}` };
  const source = Function.prototype.toString.call(fn);
  if (source.includes('[native code]'))
    throw new OptionError(`${kind} ${fn.name || '(anonymous)'}: a native function cannot be sent to the workers`);
  return { name: fn.name || `custom ${kind}`, source };
}

/**
 * tfjs's own losses and metrics (tf.metrics.*, tf.losses.*), by the path that names
 * them: their source calls helpers of tfjs's modules, so they travel as that path
 * (`tf.metrics.meanAbsoluteError`), which each worker's rebuild reads from its own tf.
 */
const BUILTIN: ReadonlyMap<unknown, string> = new Map([
  ...Object.entries(tf.metrics).map(([k, f]): [unknown, string] => [f, `metrics.${k}`]),
  ...Object.entries(tf.losses).map(([k, f]): [unknown, string] => [f, `losses.${k}`]),
]);

export function rebuildFunction(kind: 'loss' | 'metric', spec: FnSpec & { source: string }): LossOrMetricFn {
  let fn: unknown;
  try {
    // Method shorthand `name(a, b) { ... }` is not an expression; as a property of an object literal it is.
    fn = new Function('tf', `"use strict"; return (${spec.source});`)(tf);
  } catch {
    try {
      fn = new Function('tf', `"use strict"; return ({${spec.source}})[${JSON.stringify(spec.name)}];`)(tf);
    } catch (err) {
      throw new OptionError(
        `${kind} ${spec.name}: its source cannot be rebuilt in a worker (${(err as Error).message}); pass a self-contained function that uses only tf`,
      );
    }
  }
  if (typeof fn !== 'function')
    throw new OptionError(`${kind} ${spec.name}: its source does not evaluate to a function`);
  return fn as LossOrMetricFn;
}

/** A metric spec as the argument tfjs's compile() takes: the name (tfjs picks the function), or the rebuilt function. */
export function metricArg(spec: FnSpec): string | LossOrMetricFn {
  return spec.source === undefined ? spec.name : rebuildFunction('metric', spec);
}

/**
 * The loss function itself: tfjs-layers' own functions for the names
 * (tf.metrics.* are the very functions model.fit uses; tfjs-layers 4.22 losses.ts),
 * or the user's function rebuilt from its source.
 */
export function lossFunction(spec: FnSpec): LossOrMetricFn {
  if (spec.source !== undefined) return rebuildFunction('loss', spec);
  const fn = NAMED_LOSSES[spec.name];
  if (fn === undefined)
    throw new OptionError(
      `loss ${JSON.stringify(spec.name)} is not supported (supported: ${Object.keys(NAMED_LOSSES).join(', ')}, or a function)`,
    );
  return fn;
}

const NAMED_LOSSES: Record<string, LossOrMetricFn | undefined> = {
  categoricalCrossentropy: (y, p) => tf.metrics.categoricalCrossentropy(y, p),
  // tfjs's sparseCategoricalCrossentropy, which tf.metrics does not export: one-hot of
  // floor(y), then the categorical loss (its clip to [eps, 1 - eps] is idempotent).
  sparseCategoricalCrossentropy: (y, p) =>
    tf.metrics.categoricalCrossentropy(
      tf.reshape(tf.oneHot(tf.cast(tf.floor(tf.reshape(y, [-1])), 'int32'), p.shape[p.shape.length - 1]), p.shape),
      p,
    ),
  binaryCrossentropy: (y, p) => tf.metrics.binaryCrossentropy(y, p),
  meanSquaredError: (y, p) => tf.metrics.meanSquaredError(y, p),
  meanAbsoluteError: (y, p) => tf.metrics.meanAbsoluteError(y, p),
};

/** The loss names lossFunction() knows. */
export const LOSS_NAMES = Object.keys(NAMED_LOSSES);
