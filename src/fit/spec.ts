import * as tf from '@tensorflow/tfjs';
import { OptionError, showValue } from '../errors.js';
import { LOSS_NAMES, describeFunction, rebuildFunction } from '../model/functions.js';
import { assignFlat, readFlat, variablesOf } from '../model/flat-weights.js';
import type { FnSpec, LayersSpec, TargetMode } from '../model/layers-spec.js';
import type { ModelSource } from '../trainer/trainer.js';

/** The losses the generic path trains with, by tfjs-layers name; any other loss must be a function. */
export const LOSSES: readonly string[] = LOSS_NAMES;

export interface SourceOptions {
  /** Modules (paths or URLs) each worker imports before rebuilding the model, to register custom layers. */
  readonly modules?: readonly string[];
  /** How targets are made (default 'given': the data carries them). */
  readonly targets?: TargetMode;
}

/**
 * A compiled tf.LayersModel as a ModelSource: its topology, inputs, outputs with
 * their losses and metrics, and current weights as plain data (layers-spec.ts).
 * Refuses, with one line naming what is missing, what the workers could not
 * rebuild or train: an uncompiled model, a loss or metric function that cannot be
 * rebuilt from its source, a custom layer whose module was not given, class
 * labels (targets other than 'given') for a model of several inputs or outputs.
 */
export function layersSource(model: tf.LayersModel, opts: SourceOptions = {}): ModelSource {
  if (!(model instanceof tf.LayersModel)) {
    throw new OptionError(
      `the model must be a tf.LayersModel (from tf.sequential, tf.model or tf.loadLayersModel), got ${describe(model)}`,
    );
  }
  if (model.optimizer === undefined || model.optimizer === null || model.loss === undefined) {
    throw new OptionError('the model is not compiled: call model.compile({ optimizer, loss }) first');
  }
  const targets = opts.targets ?? 'given';
  const single = model.inputs.length === 1 && model.outputs.length === 1;
  if (!single && targets !== 'given') {
    throw new OptionError(
      `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; targets made from class labels feed a model with one of each`,
    );
  }
  const inputs = model.inputNames.map((name, i) => ({
    name,
    shape: concrete(single ? 'input' : `input "${name}"`, model.inputs[i].shape),
  }));
  const losses = lossSpecs(model.loss, model.outputNames);
  const metrics = collectMetrics(model.metrics, model.outputNames);
  const outputs = model.outputNames.map((name, i) => ({
    name,
    shape: concrete(single ? 'output' : `output "${name}"`, model.outputs[i].shape),
    loss: losses[i],
    metrics: metrics[i],
  }));
  if (opts.modules !== undefined && !Array.isArray(opts.modules))
    throw new OptionError(`modules must be an array of module paths or URLs, got ${showValue(opts.modules)}`);
  const modules = (opts.modules ?? []).map(moduleUrl);
  checkRebuildable(model, modules);
  const trainable = model.trainableWeights.map((w) => ({ name: w.originalName, shape: [...w.shape] as number[] }));
  const nonTrainable = model.nonTrainableWeights.map((w) => ({
    name: w.originalName,
    shape: [...w.shape] as number[],
  }));
  const spec: LayersSpec = {
    kind: 'layers',
    topology: JSON.stringify(model.toJSON(null, false)),
    loss: outputs[0].loss,
    metrics: outputs[0].metrics,
    inputs,
    outputs,
    metricNames: dedupe(model.metricsNames).slice(1),
    modules,
    trainable,
    nonTrainable,
    nonTrainableValues: readFlat(model.nonTrainableWeights.map((w) => w.read())),
    inputShape: inputs[0].shape,
    outputShape: outputs[0].shape,
    targets,
  };
  for (const o of outputs) {
    if (o.loss.source !== undefined) tryFunction('loss', o.loss, o.shape);
    for (const m of o.metrics) if (m.source !== undefined) tryFunction('metric', m, o.shape);
  }
  return { spec, params: readFlat(model.trainableWeights.map((w) => w.read())) };
}

/**
 * Trained weights into the user's own model object, by order (Note [weights by
 * order] in layers-replica.ts): trainable ones from the flat vector, then the rest.
 */
export function writeWeights(model: tf.LayersModel, params: Float32Array, nonTrainable: Float32Array): void {
  assignFlat(variablesOf(model.trainableWeights), params);
  assignFlat(variablesOf(model.nonTrainableWeights), nonTrainable);
}

/** One loss per output from compile's loss: one for all, an array in output order, or a map by output name. */
function lossSpecs(loss: tf.LayersModel['loss'], outputNames: readonly string[]): FnSpec[] {
  if (Array.isArray(loss)) return outputNames.map((_, i) => lossSpec(loss[i]));
  if (typeof loss === 'object' && loss !== null) {
    const byName = loss as Record<string, string | LossFunction | undefined>;
    return outputNames.map((name) => {
      const l = byName[name];
      if (l === undefined) throw new OptionError(`the compiled loss map has no loss for output "${name}"`);
      return lossSpec(l);
    });
  }
  const one = lossSpec(loss);
  return outputNames.map(() => one);
}

type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

function lossSpec(loss: string | LossFunction | undefined): FnSpec {
  if (typeof loss === 'function') return describeFunction('loss', loss);
  if (typeof loss === 'string' && LOSSES.includes(loss)) return { name: loss };
  throw new OptionError(
    `loss ${JSON.stringify(loss)} is not supported (supported: ${LOSSES.join(', ')}, or a function (yTrue, yPred) => tf.Scalar)`,
  );
}

/**
 * Each output's metrics from compile's metrics, as tfjs-layers 4.22's collectMetrics
 * reads them (training.js): one metric or an array for every output, or a map by
 * output name (an output it does not name has none).
 */
function collectMetrics(metrics: tf.LayersModel['metrics'] | undefined, outputNames: readonly string[]): FnSpec[][] {
  type Metric = string | LossFunction;
  const spec = (m: Metric): FnSpec => (typeof m === 'string' ? { name: m } : describeFunction('metric', m));
  const list = (m: Metric | readonly Metric[] | undefined): FnSpec[] =>
    m === undefined || m === null ? [] : Array.isArray(m) ? m.map(spec) : [spec(m as Metric)];
  if (metrics === undefined || metrics === null || typeof metrics !== 'object' || Array.isArray(metrics))
    return outputNames.map(() => list(metrics));
  const byName = metrics as Record<string, Metric | Metric[] | undefined>;
  return outputNames.map((name) => list(byName[name]));
}

/** tfjs's History keys from model.metricsNames: a name that repeats gets _0, _1, ... (LayersModel.getDedupedMetricsNames). */
function dedupe(names: readonly string[]): string[] {
  const count = (a: readonly string[], x: string): number => a.filter((y) => y === x).length;
  return names.map((n, i) => (count(names, n) > 1 ? `${n}_${count(names.slice(0, i), n)}` : n));
}

/**
 * Rebuilds a function from its source and calls it on zeros, as a worker will: a
 * failure is the user's to fix, now. Targets are the output's shape, or class
 * indices, (2, 1) or (2), for a sparse loss or metric (its data decides which).
 */
function tryFunction(kind: 'loss' | 'metric', f: FnSpec & { source: string }, outputShape: readonly number[]): void {
  const fn = rebuildFunction(kind, f);
  const yPred = (): tf.Tensor => tf.fill([2, ...outputShape], 0.5);
  const targets = [[2, ...outputShape], [2, 1], [2]];
  let first: unknown;
  for (const shape of targets) {
    try {
      tf.tidy(() => fn(tf.zeros(shape), yPred()));
      return;
    } catch (err) {
      first ??= err;
    }
  }
  throw new OptionError(
    `${kind} ${f.name}: rebuilt from its source it fails (${(first as Error).message}); it must be self-contained, using only tf`,
  );
}

/**
 * A worker can rebuild only the layer classes registered in its own thread: tfjs's,
 * and those of the modules it imports first. A custom layer with no module given
 * would fail in every worker; say so here, in one line.
 */
function checkRebuildable(model: tf.LayersModel, modules: readonly string[]): void {
  const custom = model.layers.map((l) => l.getClassName()).filter((name) => !BUILT_IN.has(name));
  if (custom.length > 0 && modules.length === 0) {
    throw new OptionError(
      `the model has custom layers (${[...new Set(custom)].join(', ')}): pass modules: [the file that registers them with tf.serialization.registerClass], which each worker imports first`,
    );
  }
}

/** tfjs-layers' own layer classes, recorded when this module loads (before any user module can register more). */
const BUILT_IN = new Set(Object.keys(tf.serialization.SerializationMap.getMap().classNameMap));

function moduleUrl(m: string): string {
  if (typeof m !== 'string' || m === '')
    throw new OptionError(`modules must list module paths or URLs, got ${JSON.stringify(m)}`);
  return /^[a-z]+:/.test(m) ? m : new URL(m, `file://${process.cwd()}/`).href;
}

function concrete(what: string, shape: readonly (number | null)[]): number[] {
  const rest = shape.slice(1);
  if (rest.some((d) => d === null))
    throw new OptionError(
      `the model's ${what} shape [${shape.map(String).join(', ')}] has unknown dimensions besides the batch`,
    );
  return rest as number[];
}

function describe(v: unknown): string {
  return v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'an object') : typeof v;
}
