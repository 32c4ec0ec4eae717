// Several inputs and outputs, classWeight and the data checks of fitParallel, against
// tfjs's own model.fit (wasm, one thread, shuffle off) from the same initial weights:
// 1, 2 and 3 workers leave the weights model.fit leaves and log its History; bad data
// is refused with one line naming the cause, before any worker starts.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { OptionError, fitParallel, type FitParallelArgs, type History } from '../dist/src/index.js';
import { CLASS_WEIGHTS, classifier, onWasm, twoByTwo, type Data } from './class-fixtures.js';
import { maxAbsDiff, rejection } from './helpers.js';

/** All weights of a model, end to end. */
function flat(m: tf.LayersModel): Float32Array {
  return Float32Array.from(m.getWeights().flatMap((w) => Array.from(w.dataSync())));
}

let train: Data;
let val: Data;

beforeAll(async () => void ({ train, val } = await onWasm()));

/** The same epoch's values of two Histories, key by key. */
function historyDiff(h: History, ref: tf.History, keys: readonly string[]): number {
  let worst = 0;
  for (const k of keys) worst = Math.max(worst, maxAbsDiff(h.history[k], ref.history[k] as number[]));
  return worst;
}

const TRAIN_KEYS = ['loss', 'cls_loss', 'reg_loss', 'cls_acc', 'reg_mse'];

// [name, optimizer, weight tolerance]: the bounds (1e-5 for sgd, 1e-4 with state).
const OPTIMIZERS: [string, () => tf.Optimizer, number][] = [
  ['sgd 0.1', () => tf.train.sgd(0.1), 1e-5],
  ['adam 0.01', () => tf.train.adam(0.01), 1e-4],
];

describe.each(OPTIMIZERS)(
  'a tf.model with two inputs and two outputs, lossWeights and metrics per output, %s',
  (_, optimizer, tol) => {
    let initial: tf.Tensor[];
    let ref: tf.LayersModel;
    let refHistory: tf.History;
    const args = { batchSize: 16, epochs: 2, shuffle: false } as const;

    beforeAll(async () => {
      ref = twoByTwo(optimizer());
      initial = ref.getWeights().map((w) => w.clone());
      refHistory = await ref.fit([train.a, train.b], [train.cls, train.reg], {
        ...args,
        verbose: 0,
        validationData: [
          [val.a, val.b],
          [val.cls, val.reg],
        ],
      });
    });

    it.each([1, 2, 3])(
      '%i workers (x and y as arrays) leave the weights and the training History of model.fit',
      async (workers) => {
        const m = twoByTwo(optimizer());
        m.setWeights(initial);
        const h = await fitParallel(m, [train.a, train.b], [train.cls, train.reg], {
          ...args,
          workers,
          backend: 'wasm',
          validationData: [
            [val.a, val.b],
            [val.cls, val.reg],
          ],
        });
        expect(maxAbsDiff(flat(m), flat(ref))).toBeLessThanOrEqual(tol);
        expect(Object.keys(h.history).sort()).toEqual(Object.keys(refHistory.history).sort());
        expect(h.params.metrics).toEqual(refHistory.params.metrics);
        expect(historyDiff(h, refHistory, TRAIN_KEYS)).toBeLessThanOrEqual(1e-5);
      },
    );

    it('x, y and validationData as maps by name give the same; each val_* key holds what its name says (Note [validation names])', async () => {
      const m = twoByTwo(optimizer());
      m.setWeights(initial);
      const h = await fitParallel(
        m,
        { b: train.b, a: train.a },
        { reg: train.reg, cls: train.cls },
        {
          ...args,
          workers: 2,
          backend: 'wasm',
          validationData: [
            { a: val.a, b: val.b },
            { cls: val.cls, reg: val.reg },
          ],
        },
      );
      expect(maxAbsDiff(flat(m), flat(ref))).toBeLessThanOrEqual(tol);
      expect(historyDiff(h, refHistory, TRAIN_KEYS)).toBeLessThanOrEqual(1e-5);
      // After the last epoch: the losses and metrics of the trained model on the validation data.
      const [pCls, pReg] = m.predict([val.a, val.b]) as tf.Tensor[];
      const mean = (t: tf.Tensor): number => tf.mean(t).dataSync()[0];
      const clsLoss = mean(tf.metrics.categoricalCrossentropy(val.cls, pCls));
      const regLoss = mean(tf.metrics.meanSquaredError(val.reg, pReg));
      const expected: Record<string, number> = {
        val_loss: clsLoss + regLoss,
        val_cls_loss: clsLoss,
        val_reg_loss: regLoss,
        val_cls_acc: mean(tf.metrics.categoricalAccuracy(val.cls, pCls)),
        val_reg_mse: regLoss,
      };
      for (const [k, v] of Object.entries(expected)) expect(Math.abs(h.history[k][1] - v), k).toBeLessThanOrEqual(1e-5);
      // tfjs 4.22 logs these values shifted by one key: its val_cls_loss is the total, its val_loss the first output's loss.
      const shifted = (k: string): number => refHistory.history[k][1] as number;
      expect(Math.abs(h.history.val_loss[1] - shifted('val_cls_loss'))).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(h.history.val_cls_loss[1] - shifted('val_loss'))).toBeLessThanOrEqual(1e-4);
    });
  },
);

describe('classWeight', () => {
  const weights = CLASS_WEIGHTS;
  const classes = (): number[] => Array.from(train.cls.argMax(1).dataSync());

  it('the data is unbalanced', () => {
    const counts = [0, 1, 2].map((c) => classes().filter((k) => k === c).length);
    expect(counts[0]).toBeGreaterThan(2 * counts[2]);
    expect(Math.min(...counts)).toBeGreaterThan(0);
  });

  describe('on a tf.sequential 3-class classifier', () => {
    const make = (): tf.Sequential => classifier();
    let initial: tf.Tensor[];
    let ref: tf.Sequential;
    let refHistory: tf.History;
    let unweighted: tf.Sequential;
    beforeAll(async () => {
      ref = make();
      initial = ref.getWeights().map((w) => w.clone());
      unweighted = make();
      unweighted.setWeights(ref.getWeights());
      refHistory = await ref.fit(train.a, train.cls, {
        batchSize: 16,
        epochs: 2,
        shuffle: false,
        verbose: 0,
        classWeight: weights,
      });
      await unweighted.fit(train.a, train.cls, { batchSize: 16, epochs: 2, shuffle: false, verbose: 0 });
    });

    it.each([1, 2, 3])(
      '%i workers leave the weights and History of model.fit with the same classWeight',
      async (workers) => {
        const m = make();
        m.setWeights(initial);
        const h = await fitParallel(m, train.a, train.cls, {
          batchSize: 16,
          epochs: 2,
          shuffle: false,
          workers,
          backend: 'wasm',
          classWeight: weights,
        });
        expect(maxAbsDiff(flat(m), flat(ref))).toBeLessThanOrEqual(1e-5);
        expect(maxAbsDiff(flat(m), flat(unweighted))).toBeGreaterThan(1e-3); // the weights did change training
        expect(historyDiff(h, refHistory, ['loss', 'acc'])).toBeLessThanOrEqual(1e-5);
      },
    );
  });

  it('per output, by output name, on the two-output model, with a batch larger than the data (one batch, as model.fit)', async () => {
    const ref = twoByTwo(tf.train.sgd(0.1));
    const initial = ref.getWeights().map((w) => w.clone());
    const fitArgs = { batchSize: 500, epochs: 3, shuffle: false } as const;
    const refHistory = await ref.fit(
      { a: train.a, b: train.b },
      { cls: train.cls, reg: train.reg },
      { ...fitArgs, verbose: 0, classWeight: { cls: weights } },
    );
    const m = twoByTwo(tf.train.sgd(0.1));
    m.setWeights(initial);
    const h = await fitParallel(
      m,
      { a: train.a, b: train.b },
      { cls: train.cls, reg: train.reg },
      { ...fitArgs, workers: 3, backend: 'wasm', classWeight: { cls: weights } },
    );
    expect(maxAbsDiff(flat(m), flat(ref))).toBeLessThanOrEqual(1e-5);
    expect(historyDiff(h, refHistory, TRAIN_KEYS)).toBeLessThanOrEqual(1e-5);
    expect(h.params.batchSize).toBe(500);
    expect(h.params.steps).toBe(1);
  });
});

describe('bad data: one line naming the cause, before any worker starts', () => {
  const poison = (t: tf.Tensor2D, row: number, value: number): tf.Tensor2D => {
    const v = t.arraySync();
    v[row][v[row].length - 1] = value;
    return tf.tensor2d(v);
  };
  const fit = (x: unknown, y: unknown, args: FitParallelArgs = {}): Promise<History> =>
    fitParallel(twoByTwo(tf.train.sgd(0.1)), x as never, y as never, { workers: 1, backend: 'wasm', ...args });
  const cases: [string, () => Promise<unknown>, string | (() => string)][] = [
    [
      'NaN in x',
      () => fit([train.a, poison(train.b, 17, NaN)], [train.cls, train.reg]),
      'x[1] holds NaN at sample 17 (input "b"): the data must be finite',
    ],
    [
      'Infinity in y, by name',
      () => fit([train.a, train.b], { cls: train.cls, reg: poison(train.reg, 3, Infinity) }),
      'y.reg holds Infinity at sample 3 (output "reg"): the data must be finite',
    ],
    [
      'NaN in the validation data',
      () =>
        fit([train.a, train.b], [train.cls, train.reg], {
          validationData: [
            [val.a, val.b],
            [poison(val.cls, 5, NaN), val.reg],
          ],
        }),
      'validationData[1][0] holds NaN at sample 5 (output "cls"): the data must be finite',
    ],
    [
      'one input of two',
      () => fit([train.a], [train.cls, train.reg]),
      'x has 1 array but the model has 2 inputs (a, b)',
    ],
    [
      'a tensor for two inputs',
      () => fit(train.a, [train.cls, train.reg]),
      'x is one array but the model has 2 inputs (a, b): pass an array of 2 or a map by name',
    ],
    [
      'an input name the model lacks',
      () => fit({ a: train.a, c: train.b }, [train.cls, train.reg]),
      'x has no input named "c" (the model\'s inputs: a, b)',
    ],
    [
      'a missing input name',
      () => fit({ a: train.a }, [train.cls, train.reg]),
      'x has no data for input "b" (the model\'s inputs: a, b)',
    ],
    [
      'three targets for two outputs',
      () => fit([train.a, train.b], [train.cls, train.reg, train.reg]),
      'y has 3 arrays but the model has 2 outputs (cls, reg)',
    ],
    [
      'inputs of different lengths',
      () => fit([train.a, train.b.slice(0, 50)], [train.cls, train.reg]),
      'x[0] has 90 samples but x[1] has 50',
    ],
    [
      'a target of the wrong shape',
      () => fit([train.a, train.b], [train.cls, train.cls]),
      'y[1] has samples of shape [3] but the model\'s output "reg" is [1]',
    ],
    [
      'a classWeight for a class that does not exist',
      () => fit([train.a, train.b], [train.cls, train.reg], { classWeight: { cls: { 0: 1, 1: 2, 2: 3, 5: 4 } } }),
      'classWeight has a weight for class 5, but output "cls" has 3 classes (0 to 2)',
    ],
    [
      'a classWeight missing a class of the data',
      () => fit([train.a, train.b], [train.cls, train.reg], { classWeight: { cls: { 0: 1, 1: 2 } } }),
      () =>
        `classWeight has no weight for class 2, which sample ${Array.from(train.cls.argMax(1).dataSync()).indexOf(2)} of y[0] has`,
    ],
    [
      'a classWeight for an output the model lacks',
      () => fit([train.a, train.b], [train.cls, train.reg], { classWeight: { out: { 0: 1 } } }),
      'classWeight names no output of the model: "out" (its outputs: cls, reg)',
    ],
    [
      'sampleWeight',
      () => fit([train.a, train.b], [train.cls, train.reg], { sampleWeight: train.reg } as never),
      "sampleWeight is not supported, as in tfjs 4.22's model.fit (which refuses it); classWeight is",
    ],
  ];
  it.each(cases)('%s', async (_, call, message) => {
    const err = await rejection(call());
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toBe(typeof message === 'string' ? message : message());
  });
});
