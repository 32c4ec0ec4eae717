// fitDatasetParallel's classWeight against tfjs's own model.fitDataset with the same classWeight
// (wasm, one thread), on the same tf.data.generator of a 3-class problem with unbalanced classes in
// batches of 16 with a short last one: the same weights and History for 1, 2 and 3 workers, for
// one-hot and sparse targets and per output by name; a bad classWeight gives fitParallel's message.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, OptionError, fitDatasetParallel, fitParallel, type BatchSource } from '../dist/src/index.js';
import { CLASS_WEIGHTS, classifier, onWasm, twoByTwo, type Data } from './class-fixtures.js';
import { flatWeights as flat, maxAbsDiff, rejection } from './helpers.js';

const B = 16;

let train: Data;
let val: Data;

beforeAll(async () => void ({ train, val } = await onWasm()));

/** One batch's { xs, ys } from samples [lo, lo + size) of `d`. */
type Pick = (d: Data, lo: number, size: number) => tf.TensorContainer;

/** Rows [lo, lo + size) of a (n, k) tensor. */
const rows = (t: tf.Tensor2D, lo: number, size: number): tf.Tensor2D => t.slice([lo, 0], [size, -1]);
/** xs (size, 4), ys one-hot (size, 3). */
const oneHot: Pick = (d, lo, size) => ({ xs: rows(d.a, lo, size), ys: rows(d.cls, lo, size) });
/** xs (size, 4), ys class indices (size). */
const sparse: Pick = (d, lo, size) => ({
  xs: rows(d.a, lo, size),
  ys: tf.tidy(() => rows(d.cls, lo, size).argMax(1).toFloat()),
});
/** Both inputs and both targets of twoByTwo, by name. */
const byName: Pick = (d, lo, size) => ({
  xs: { a: rows(d.a, lo, size), b: rows(d.b, lo, size) },
  ys: { cls: rows(d.cls, lo, size), reg: rows(d.reg, lo, size) },
});

/** A tf.data.generator of all of `d` in batches of 16, the last one short. */
function generator(d: Data, pick: Pick): tf.data.Dataset<tf.TensorContainer> {
  const n = d.a.shape[0];
  return tf.data.generator(function* () {
    for (let lo = 0; lo < n; lo += B) yield pick(d, lo, Math.min(B, n - lo));
  });
}

/** max over epochs and keys of |a - b|; the key sets must be equal. */
function historyDiff(a: Record<string, number[]>, b: Record<string, unknown[]>): number {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  return Math.max(...Object.keys(a).map((k) => maxAbsDiff(a[k], b[k] as number[])));
}

describe('a tf.sequential 3-class classifier, one-hot targets, sgd, validation as a dataset, 2 epochs', () => {
  const args = { epochs: 2, classWeight: CLASS_WEIGHTS };
  const validationData = (): tf.data.Dataset<tf.TensorContainer> => generator(val, oneHot);
  let ref: tf.Sequential;
  let refHistory: tf.History;
  let unweighted: tf.Sequential;

  beforeAll(async () => {
    ref = classifier();
    refHistory = await ref.fitDataset(generator(train, oneHot), {
      ...args,
      validationData: validationData(),
      verbose: 0,
    });
    unweighted = classifier();
    await unweighted.fitDataset(generator(train, oneHot), { epochs: 2, verbose: 0 });
  });

  it('the classes are unbalanced', () => {
    const classes = Array.from(train.cls.argMax(1).dataSync());
    const counts = [0, 1, 2].map((c) => classes.filter((k) => k === c).length);
    expect(counts[0]).toBeGreaterThan(2 * counts[2]);
    expect(Math.min(...counts)).toBeGreaterThan(0);
  });

  it.each([1, 2, 3])('%i workers leave the weights and History of model.fitDataset', async (workers) => {
    const m = classifier();
    const h = await fitDatasetParallel(m, generator(train, oneHot), {
      ...args,
      validationData: validationData(),
      workers,
      backend: 'wasm',
    });
    expect(maxAbsDiff(flat(m), flat(ref))).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(flat(m), flat(unweighted))).toBeGreaterThan(1e-3); // the weights did change training
    expect(h.epoch).toEqual([0, 1]);
    expect(historyDiff(h.history, refHistory.history)).toBeLessThanOrEqual(1e-5); // val_* unweighted, as tfjs
  });
});

it('sparse targets (class indices, shape [n]) at 2 workers leave the weights and History of model.fitDataset', async () => {
  const ref = classifier('sparseCategoricalCrossentropy');
  const args = { epochs: 2, classWeight: CLASS_WEIGHTS };
  const refHistory = await ref.fitDataset(generator(train, sparse), { ...args, verbose: 0 });
  const m = classifier('sparseCategoricalCrossentropy');
  const h = await fitDatasetParallel(m, generator(train, sparse), { ...args, workers: 2, backend: 'wasm' });
  expect(maxAbsDiff(flat(m), flat(ref))).toBeLessThanOrEqual(1e-5);
  expect(historyDiff(h.history, refHistory.history)).toBeLessThanOrEqual(1e-5);
});

it('per output by name on a model of two inputs and two outputs, 3 workers, as model.fitDataset', async () => {
  const args = { epochs: 2, classWeight: { cls: CLASS_WEIGHTS } };
  const ref = twoByTwo(tf.train.sgd(0.1));
  const refHistory = await ref.fitDataset(generator(train, byName), { ...args, verbose: 0 });
  const m = twoByTwo(tf.train.sgd(0.1));
  const h = await fitDatasetParallel(m, generator(train, byName), { ...args, workers: 3, backend: 'wasm' });
  expect(maxAbsDiff(flat(m), flat(ref))).toBeLessThanOrEqual(1e-5);
  expect(historyDiff(h.history, refHistory.history)).toBeLessThanOrEqual(1e-5);
});

describe('a bad classWeight: one line', () => {
  it("a class the output cannot have: fitParallel's message, before the dataset is read", async () => {
    const classWeight = { cls: { 0: 1, 1: 2, 2: 3, 5: 4 } };
    const unread: BatchSource = {
      iterator: () => Promise.reject(new Error('the dataset was read')),
    };
    const err = await rejection(
      fitDatasetParallel(twoByTwo(tf.train.sgd(0.1)), unread, { epochs: 1, workers: 1, backend: 'wasm', classWeight }),
    );
    const fitErr = await rejection(
      fitParallel(twoByTwo(tf.train.sgd(0.1)), [train.a, train.b], [train.cls, train.reg], {
        workers: 1,
        backend: 'wasm',
        classWeight,
      }),
    );
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toBe(
      'classWeight has a weight for class 5, but output "cls" has 3 classes (0 to 2)',
    );
    expect((err as Error).message).toBe((fitErr as Error).message);
  });

  it('a class of the data without a weight: a DatasetError naming the batch and the sample', async () => {
    const first = Array.from(train.cls.argMax(1).dataSync()).indexOf(2);
    const err = await rejection(
      fitDatasetParallel(twoByTwo(tf.train.sgd(0.1)), generator(train, byName), {
        epochs: 1,
        workers: 2,
        backend: 'wasm',
        classWeight: { cls: { 0: 1, 1: 2 } },
      }),
    );
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).toBe(
      `the dataset's batch ${Math.floor(first / B)} of epoch 0: classWeight has no weight for class 2, which sample ${first % B} of ys.cls has`,
    );
  });
});
