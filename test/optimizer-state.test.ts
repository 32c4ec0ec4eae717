// model.optimizer's state carries across fits as under tfjs (Note [optimizer state across
// fits] in src/fit/optimizer-state.ts): two fitParallel calls in a row, or model.fit then
// fitParallel, or two fitDatasetParallel calls, end with the weights (sgd-like 1e-5, Adam
// 1e-4) and the optimizer slots and count of two model.fit calls (wasm, one thread, shuffle
// off). Plus an optimizer whose slots belong to another model, refused in one line.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { OptionError, fitDatasetParallel, fitParallel, registerWasmTrainingKernels } from '../dist/src/index.js';
import { flatWeights, maxAbsDiff, rejection } from './helpers.js';
import { toyClassifier as model, toyData } from './toy-classifier.js';

/** The optimizer's count and its slots, flat in getWeights() order. */
async function slots(m: tf.LayersModel): Promise<{ iterations: number; values: Float32Array; names: string[] }> {
  const w = await m.optimizer.getWeights();
  const iterations = (await w[0].tensor.data())[0];
  const values = Float32Array.from(w.slice(1).flatMap((s) => Array.from(s.tensor.dataSync())));
  const names = w.slice(1).map((s) => s.name.replace(/^.*\//, '')); // the slot kind, without the variable's unique name
  tf.dispose(w[0].tensor);
  return { iterations, values, names };
}

let x: tf.Tensor2D;
let y: tf.Tensor2D;

beforeAll(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  ({ x, y } = toyData(96, 5));
});

const OPTIMIZERS: readonly [string, () => tf.Optimizer, number][] = [
  ['adam', () => tf.train.adam(0.02), 1e-4],
  ['momentum', () => tf.train.momentum(0.1, 0.9), 1e-5],
  ['rmsprop', () => tf.train.rmsprop(0.01), 1e-4],
  ['adagrad', () => tf.train.adagrad(0.1), 1e-5],
];
const ARGS = { epochs: 1, batchSize: 16, shuffle: false } as const;

describe('optimizer state across fits', () => {
  for (const [name, optimizer, tol] of OPTIMIZERS) {
    it(`${name}: fitParallel twice, and model.fit then fitParallel, equal model.fit twice`, async () => {
      const initial = model(optimizer()).getWeights();
      const ref = model(optimizer());
      ref.setWeights(initial);
      await ref.fit(x, y, { ...ARGS, verbose: 0 });
      await ref.fit(x, y, { ...ARGS, verbose: 0 });
      const want = await slots(ref);
      expect(want.iterations).toBe(12);

      const twice = model(optimizer());
      twice.setWeights(initial);
      await fitParallel(twice, x, y, { ...ARGS, workers: 2, backend: 'wasm' });
      await fitParallel(twice, x, y, { ...ARGS, workers: 2, backend: 'wasm' });
      const mixed = model(optimizer());
      mixed.setWeights(initial);
      await mixed.fit(x, y, { ...ARGS, verbose: 0 });
      await fitParallel(mixed, x, y, { ...ARGS, workers: 3, backend: 'wasm' });
      for (const m of [twice, mixed]) {
        expect(maxAbsDiff(flatWeights(m), flatWeights(ref))).toBeLessThanOrEqual(tol);
        const got = await slots(m);
        expect(got.iterations).toBe(12);
        expect(got.names).toEqual(want.names);
        expect(maxAbsDiff(got.values, want.values)).toBeLessThanOrEqual(tol);
      }
      // and tfjs goes on from what fitParallel left: a third fit on each side
      await ref.fit(x, y, { ...ARGS, verbose: 0 });
      await twice.fit(x, y, { ...ARGS, verbose: 0 });
      expect(maxAbsDiff(flatWeights(twice), flatWeights(ref))).toBeLessThanOrEqual(tol);
    });
  }

  it('adam: fitDatasetParallel twice equals model.fitDataset twice', async () => {
    const batches = (): tf.data.Dataset<tf.TensorContainer> =>
      tf.data.zip({ xs: tf.data.array(x.arraySync()), ys: tf.data.array(y.arraySync()) }).batch(20);
    const initial = model(tf.train.adam(0.02)).getWeights();
    const ref = model(tf.train.adam(0.02));
    ref.setWeights(initial);
    await ref.fitDataset(batches(), { epochs: 1, verbose: 0 });
    await ref.fitDataset(batches(), { epochs: 1, verbose: 0 });
    const m = model(tf.train.adam(0.02));
    m.setWeights(initial);
    await fitDatasetParallel(m, batches(), { epochs: 1, workers: 2, backend: 'wasm' });
    await fitDatasetParallel(m, batches(), { epochs: 1, workers: 2, backend: 'wasm' });
    expect(maxAbsDiff(flatWeights(m), flatWeights(ref))).toBeLessThanOrEqual(1e-4);
    const [got, want] = [await slots(m), await slots(ref)];
    expect(got.iterations).toBe(10);
    expect(want.iterations).toBe(10);
    expect(maxAbsDiff(got.values, want.values)).toBeLessThanOrEqual(1e-4);
  });

  it("an optimizer holding another model's slots is refused in one line", async () => {
    const shared = tf.train.adam(0.01);
    const other = tf.sequential({ layers: [tf.layers.dense({ inputShape: [8], units: 3, activation: 'softmax' })] });
    other.compile({ optimizer: shared, loss: 'categoricalCrossentropy' });
    await other.fit(x, y, { epochs: 1, batchSize: 96, verbose: 0 });
    const m = model(shared);
    const err = await rejection(fitParallel(m, x, y, { ...ARGS, workers: 1, backend: 'wasm' }));
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toBe(
      "model.optimizer holds 4 slot variables, the model's 4 trainable weights need 8 (2 each): is the optimizer another model's?",
    );
  });
});
