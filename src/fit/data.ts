import * as tf from '@tensorflow/tfjs';
import type { Dataset, Split } from '../data/dataset.js';
import { OptionError } from '../errors.js';
import type { LayersSpec } from '../model/layers-spec.js';

/** Inputs or targets as fitParallel takes them: a tensor, or a typed array with its shape (batch axis first). */
export type ArrayData = tf.Tensor | { readonly data: ArrayLike<number>; readonly shape: readonly number[] };

export interface FitData {
  readonly train: Split;
  /** The validation samples (validationData or validationSplit); count 0 when there are none. */
  readonly validation: Split;
}

/**
 * Copies x and y once into SharedArrayBuffers (the workers read them there, as the
 * idx data), checking their shapes against the model's first, and splits off the
 * validation samples with tfjs's semantics: validationSplit takes the LAST fraction
 * of the samples, before any shuffling (tfjs-layers training.js fit).
 */
export function fitData(spec: LayersSpec, x: ArrayData, y: ArrayData, validation: { split?: number; data?: readonly [ArrayData, ArrayData] }): FitData {
  const all = split(spec, 'x', x, 'y', y);
  if (validation.data !== undefined) {
    if (!Array.isArray(validation.data) || validation.data.length !== 2) throw new OptionError('validationData must be [xVal, yVal]');
    return { train: all, validation: split(spec, 'validationData[0]', validation.data[0], 'validationData[1]', validation.data[1]) };
  }
  const v = validation.split ?? 0;
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new OptionError(`validationSplit must be a number from 0 to less than 1, got ${String(v)}`);
  const at = v > 0 ? Math.floor(all.count * (1 - v)) : all.count;
  if (at < 1) throw new OptionError(`validationSplit ${v} leaves no training samples of ${all.count}`);
  return { train: rows(all, 0, at), validation: rows(all, at, all.count) };
}

/** A Dataset for the Trainer: the validation samples stand where the idx data's test split does. */
export function asDataset(d: FitData, spec: LayersSpec): Dataset {
  return { dir: '(arrays in memory)', train: d.train, test: d.validation, numClasses: spec.outputShape[spec.outputShape.length - 1] ?? 1 };
}

function split(spec: LayersSpec, xName: string, x: ArrayData, yName: string, y: ArrayData): Split {
  const xs = read(xName, x);
  const ys = read(yName, y);
  const count = xs.shape[0];
  if (ys.shape[0] !== count) throw new OptionError(`${xName} has ${count} samples but ${yName} has ${ys.shape[0]}`);
  if (count < 1) throw new OptionError(`${xName} has no samples`);
  expectShape(xName, xs.shape.slice(1), spec.inputShape, "the model's input");
  const sparse = spec.loss.name === 'sparseCategoricalCrossentropy' && spec.loss.source === undefined;
  const yShape = ys.shape.slice(1);
  if (sparse) {
    if (yShape.length > 1 || (yShape.length === 1 && yShape[0] !== 1)) {
      throw new OptionError(`${yName} has shape [${ys.shape.join(', ')}]; sparseCategoricalCrossentropy takes class indices, shape [${count}] or [${count}, 1]`);
    }
  } else expectShape(yName, yShape, spec.outputShape, "the model's output");
  const features = xs.data.length / count;
  return {
    count,
    features,
    rows: 1,
    cols: features,
    images: shared(xs.data),
    labels: new Uint8Array(0),
    targets: { data: shared(ys.data), shape: sparse ? [1] : yShape },
  };
}

function read(name: string, a: ArrayData): { data: ArrayLike<number>; shape: number[] } {
  if (a instanceof tf.Tensor) return { data: a.dataSync(), shape: a.shape };
  if (typeof a !== 'object' || a === null || !('data' in a) || !('shape' in a) || !Array.isArray(a.shape)) {
    throw new OptionError(`${name} must be a tf.Tensor or { data, shape }`);
  }
  const size = a.shape.reduce((p, d) => p * d, 1);
  if (a.shape.some((d) => !Number.isInteger(d) || d < 0) || a.data.length !== size) {
    throw new OptionError(`${name}: shape [${a.shape.join(', ')}] needs ${size} values, got ${a.data.length}`);
  }
  return { data: a.data, shape: [...a.shape] };
}

function expectShape(name: string, got: readonly number[], want: readonly number[], what: string): void {
  if (got.join(',') !== want.join(',')) {
    throw new OptionError(`${name} has samples of shape [${got.join(', ')}] but ${what} is [${want.join(', ')}]`);
  }
}

function shared(values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer(4 * values.length));
  out.set(values);
  return out;
}

/** Samples [lo, hi) of a split, sharing its memory (views, no copy). */
function rows(s: Split, lo: number, hi: number): Split {
  const t = s.targets;
  const k = t === undefined ? 0 : t.data.length / s.count;
  return {
    ...s,
    count: hi - lo,
    images: s.images.subarray(lo * s.features, hi * s.features),
    targets: t === undefined ? undefined : { data: t.data.subarray(lo * k, hi * k), shape: t.shape },
  };
}
