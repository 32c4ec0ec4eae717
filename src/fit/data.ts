import * as tf from '@tensorflow/tfjs';
import type { Dataset, Split, Targets } from '../data/dataset.js';
import { OptionError, showValue } from '../errors.js';
import { rebuildFunction } from '../model/functions.js';
import type { FnSpec, InputSpec, LayersSpec, OutputSpec } from '../model/layers-spec.js';
import { firstNonFinite } from '../simd/finite.js';
import {
  classWeightsOf,
  sampleWeights,
  type ClassWeightArg,
  type OutputClassWeights,
  type TargetColumn,
} from './class-weight.js';

/** Inputs or targets as fitParallel takes them: a tensor, or a typed array with its shape (batch axis first). */
export type ArrayData = tf.Tensor | { readonly data: ArrayLike<number>; readonly shape: readonly number[] };

/** x or y as model.fit takes them: one array of samples, an array of them in model.inputNames / outputNames order, or a map by those names. */
export type FitInput = ArrayData | readonly ArrayData[] | Readonly<Record<string, ArrayData>>;

export interface FitData {
  readonly train: Split;
  /** The validation samples (validationData or validationSplit); count 0 when there are none. */
  readonly validation: Split;
}

export interface FitDataArgs {
  readonly split?: number;
  readonly data?: readonly [FitInput, FitInput];
  readonly classWeight?: ClassWeightArg;
}

/**
 * Copies x and y once into SharedArrayBuffers (the workers read them there, as the
 * idx data), checking them against the model first: as many inputs and targets as
 * it has, by position or by name, of its shapes, all with the same sample count,
 * every value finite (a NaN is named here, by sample and input, not as a non-finite
 * loss steps later). classWeight becomes per-sample weights (class-weight.ts), over
 * all of x before the split, as tfjs does. The validation samples are split off with
 * tfjs's semantics: validationSplit takes the LAST fraction of the samples, before
 * any shuffling (tfjs-layers training.js fit); they are never weighted.
 */
export function fitData(spec: LayersSpec, x: FitInput, y: FitInput, args: FitDataArgs): FitData {
  const weights = args.classWeight === undefined ? undefined : classWeightsOf(args.classWeight, spec.outputs);
  const all = toSplit(spec, 'x', x, 'y', y, weights);
  if (args.data !== undefined) {
    if (!Array.isArray(args.data) || args.data.length !== 2)
      throw new OptionError('validationData must be [xVal, yVal]');
    return {
      train: all,
      validation: toSplit(spec, 'validationData[0]', args.data[0], 'validationData[1]', args.data[1], undefined),
    };
  }
  const v = args.split ?? 0;
  if (typeof v !== 'number' || !(v >= 0 && v < 1))
    throw new OptionError(`validationSplit must be a number from 0 to less than 1, got ${showValue(v)}`);
  const at = v > 0 ? Math.floor(all.count * (1 - v)) : all.count;
  if (at < 1) throw new OptionError(`validationSplit ${v} leaves no training samples of ${all.count}`);
  return { train: rows(all, 0, at), validation: rows(all, at, all.count) };
}

/** A Dataset for the Trainer: the validation samples stand where the idx data's test split does. */
export function asDataset(d: FitData, spec: LayersSpec): Dataset {
  return {
    dir: '(arrays in memory)',
    train: d.train,
    test: d.validation,
    numClasses: spec.outputShape[spec.outputShape.length - 1] ?? 1,
  };
}

/** One input's or target's samples, copied: where they came from (for messages), values, per-sample shape, sample count. */
type Column = TargetColumn & { readonly count: number };

/** How an input's or target's values are kept: copied into a SharedArrayBuffer (`shared`, the default), or staged (staging.ts). */
export interface Keep {
  /** An array's values as float32. */
  values(values: ArrayLike<number>): Float32Array;
  /** A numeric tensor's values as float32. */
  tensor(t: tf.Tensor): Float32Array;
}

/** Values copied into a SharedArrayBuffer of their own: data the workers read for the whole fit. */
const shared: Keep = { values: sharedCopy, tensor: (t) => sharedCopy(t.dataSync()) };

/**
 * x and y (named xName and yName in messages) as one Split of their samples,
 * checked against the model as fitData says, with their per-sample loss weights
 * where `classWeights` weighs an output; `keep` says where the values go.
 */
export function toSplit(
  spec: LayersSpec,
  xName: string,
  x: FitInput,
  yName: string,
  y: FitInput,
  classWeights: OutputClassWeights | undefined,
  keep: Keep = shared,
): Split {
  const xs = columns(xName, x, spec.inputs, 'input', keep);
  const ys = columns(yName, y, spec.outputs, 'output', keep);
  const count = xs[0].count;
  for (const c of [...xs, ...ys])
    if (c.count !== count) throw new OptionError(`${xs[0].label} has ${count} samples but ${c.label} has ${c.count}`);
  if (count < 1) throw new OptionError(`${xName} has no samples`);
  xs.forEach((c, i) =>
    expectShape(
      c,
      spec.inputs[i].shape,
      spec.inputs.length === 1 ? "the model's input" : `the model's input "${spec.inputs[i].name}"`,
    ),
  );
  const targets = ys.map((c, i): Targets => {
    const o = spec.outputs[i];
    const what = spec.outputs.length === 1 ? "the model's output" : `the model's output "${o.name}"`;
    if (o.loss.name === 'sparseCategoricalCrossentropy' && o.loss.source === undefined) {
      if (c.shape.length > 1 || (c.shape.length === 1 && c.shape[0] !== 1)) {
        throw new OptionError(
          `${c.label} has shape [${[count, ...c.shape].join(', ')}]; sparseCategoricalCrossentropy takes class indices, shape [${count}] or [${count}, 1]`,
        );
      }
      return { data: c.data, shape: [1] };
    }
    if (o.loss.source === undefined) expectShape(c, o.shape, what);
    checkFunctionsTake(c, o, what);
    return { data: c.data, shape: c.shape };
  });
  xs.forEach((c, i) => checkFinite(c, `input "${spec.inputs[i].name}"`));
  ys.forEach((c, i) => checkFinite(c, `output "${spec.outputs[i].name}"`));
  const weights = classWeights === undefined ? undefined : sampleWeights(classWeights, ys);
  const features = size(xs[0].shape);
  return {
    count,
    features,
    rows: 1,
    cols: features,
    images: xs[0].data,
    labels: new Uint8Array(0),
    targets: targets[0],
    ...(xs.length > 1 ? { extraInputs: xs.slice(1).map(({ data, shape }) => ({ data, shape })) } : {}),
    ...(ys.length > 1 ? { extraTargets: targets.slice(1) } : {}),
    ...(weights?.some((w) => w !== undefined) ? { sampleWeights: weights } : {}),
  };
}

/**
 * x or y as model.fit takes them, in the model's order: one array of samples for a
 * model of one input (output), an array of as many as it has, or a map by name.
 * Each is copied into shared memory.
 */
function columns(
  name: string,
  given: FitInput,
  model: readonly InputSpec[],
  kind: 'input' | 'output',
  keep: Keep,
): Column[] {
  const names = model.map((m) => m.name);
  const list = `the model's ${kind}s: ${names.join(', ')}`;
  const plural = (n: number): string => `${n} ${kind}${n === 1 ? '' : 's'}`;
  if (isArrayData(given)) {
    if (names.length !== 1)
      throw new OptionError(
        `${name} is one array but the model has ${plural(names.length)} (${names.join(', ')}): pass an array of ${names.length} or a map by name`,
      );
    return [read(name, given, keep)];
  }
  if (Array.isArray(given)) {
    const arrays = given as readonly ArrayData[];
    if (arrays.length !== names.length)
      throw new OptionError(
        `${name} has ${arrays.length} array${arrays.length === 1 ? '' : 's'} but the model has ${plural(names.length)} (${names.join(', ')})`,
      );
    return arrays.map((a, i) => read(`${name}[${i}]`, a, keep));
  }
  if (typeof given !== 'object' || given === null) {
    throw new OptionError(
      `${name} must be a tf.Tensor or { data, shape }, an array of them (one per ${kind}) or a map by ${kind} name`,
    );
  }
  const map = given as Readonly<Record<string, ArrayData>>;
  for (const key of Object.keys(map))
    if (!names.includes(key)) throw new OptionError(`${name} has no ${kind} named "${key}" (${list})`);
  return names.map((n) => {
    if (map[n] === undefined) throw new OptionError(`${name} has no data for ${kind} "${n}" (${list})`);
    return read(`${name}.${n}`, map[n], keep);
  });
}

function isArrayData(a: unknown): a is ArrayData {
  if (a instanceof tf.Tensor) return true;
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return false;
  const o = a as { data?: unknown; shape?: unknown };
  return o.data !== undefined && Array.isArray(o.shape) && !(o.data instanceof tf.Tensor);
}

function read(label: string, a: ArrayData, keep: Keep): Column {
  if (a instanceof tf.Tensor) {
    if (a.dtype === 'string' || a.dtype === 'complex64')
      throw new OptionError(`${label} is a ${a.dtype} tensor; the model takes numbers (float32, int32 or bool)`);
    return { label, data: keep.tensor(a), shape: a.shape.slice(1), count: a.shape[0] ?? 0 };
  }
  if (typeof a !== 'object' || a === null || !('data' in a) || !('shape' in a) || !Array.isArray(a.shape)) {
    throw new OptionError(`${label} must be a tf.Tensor or { data, shape }`);
  }
  const n = size(a.shape);
  if (a.shape.length < 1 || a.shape.some((d) => !Number.isInteger(d) || d < 0) || a.data.length !== n) {
    throw new OptionError(`${label}: shape [${a.shape.join(', ')}] needs ${n} values, got ${a.data.length}`);
  }
  return { label, data: keep.values(a.data), shape: a.shape.slice(1), count: a.shape[0] };
}

/** NaN or ±Infinity anywhere: one line naming the array, the sample and the model's input or output. */
function checkFinite(c: Column, what: string): void {
  const at = firstNonFinite(c.data);
  if (at < c.data.length)
    throw new OptionError(
      `${c.label} holds ${c.data[at]} at sample ${Math.floor(at / size(c.shape))} (${what}): the data must be finite`,
    );
}

function expectShape(c: Column, want: readonly number[], what: string): void {
  if (c.shape.join(',') !== want.join(',')) {
    throw new OptionError(
      `${c.label} has samples of shape [${c.shape.join(', ')}] but ${what} is [${want.join(', ')}]`,
    );
  }
}

/** The target shapes each loss or metric function was seen to take (checkFunctionsTake). */
const taken = new WeakMap<FnSpec, Set<string>>();

/**
 * A loss or metric function takes the targets as they are, as model.fit passes
 * them (class indices, for one, or one-hot rows). Each of the output's functions is
 * called on zeros of their shape, once per shape: one that cannot take them (a
 * function of class indices given one-hot rows) fails here, naming the targets,
 * not in every worker's step.
 */
function checkFunctionsTake(c: Column, o: OutputSpec, what: string): void {
  const key = c.shape.join(',');
  for (const f of [o.loss, ...o.metrics]) {
    const seen = taken.get(f) ?? new Set<string>();
    if (f.source === undefined || seen.has(key)) continue;
    const kind = f === o.loss ? 'loss' : 'metric';
    const fn = rebuildFunction(kind, { ...f, source: f.source });
    try {
      tf.tidy(() => fn(tf.zeros([2, ...c.shape]), tf.fill([2, ...o.shape], 0.5)));
    } catch (err) {
      throw new OptionError(
        `${c.label} has samples of shape [${c.shape.join(', ')}] (${what} is [${o.shape.join(', ')}]), which the ${kind} ${f.name} fails on (${(err as Error).message})`,
      );
    }
    taken.set(f, seen.add(key));
  }
}

function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

function sharedCopy(values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer(4 * values.length));
  out.set(values);
  return out;
}

/** Samples [lo, hi) of a split, sharing its memory (views, no copy). */
export function rows(s: Split, lo: number, hi: number): Split {
  const cut = (t: Targets): Targets => {
    const k = t.data.length / s.count;
    return { data: t.data.subarray(lo * k, hi * k), shape: t.shape };
  };
  return {
    ...s,
    count: hi - lo,
    images: s.images.subarray(lo * s.features, hi * s.features),
    targets: s.targets === undefined ? undefined : cut(s.targets),
    ...(s.extraInputs === undefined ? {} : { extraInputs: s.extraInputs.map(cut) }),
    ...(s.extraTargets === undefined ? {} : { extraTargets: s.extraTargets.map(cut) }),
    ...(s.sampleWeights === undefined ? {} : { sampleWeights: s.sampleWeights.map((w) => w?.subarray(lo, hi)) }),
  };
}
