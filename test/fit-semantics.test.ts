// fitParallel's model.fit semantics beyond the weights of one shuffle-free run, each against tfjs's
// own model.fit in this thread (cpu backend) on the same data: the seeded shuffle (every sample
// once per epoch, in the order of src/data/shuffle.ts, equal to model.fit fed that order),
// initialEpoch, onBatchBegin, History.params, a real tf.callbacks.earlyStopping, and the
// batch-norm statistics (non-trainable weights) written back to the user's model.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fitParallel, type History } from '../dist/src/index.js';
import { epochPermutation } from '../dist/src/data/shuffle.js';
import { flatWeights as flat, maxAbsDiff, mnist } from './helpers.js';

/** 200 = 6 x 32 + 8: every epoch ends with a short batch. */
const N = 200;
const B = 32;
const STEPS = Math.ceil(N / B);

let x: tf.Tensor2D;
let y: tf.Tensor2D;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const d = mnist();
  x = tf.tensor2d(d.train.images.slice(0, N * 784), [N, 784]);
  y = tf.oneHot(tf.tensor1d(Int32Array.from(d.train.labels.subarray(0, N)), 'int32'), 10).toFloat() as tf.Tensor2D;
});

/** A small MLP from seeded weights (SGD, cross-entropy, accuracy); `batchNorm` adds a batch-norm layer after the hidden one. */
function mlp(batchNorm = false): tf.Sequential {
  const init = (seed: number): ReturnType<typeof tf.initializers.glorotUniform> =>
    tf.initializers.glorotUniform({ seed });
  const m = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [784],
        units: 16,
        activation: batchNorm ? 'linear' : 'relu',
        kernelInitializer: init(21),
      }),
      ...(batchNorm
        ? [tf.layers.batchNormalization({ momentum: 0.5 }), tf.layers.activation({ activation: 'relu' })]
        : []),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(22) }),
    ],
  });
  m.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy', metrics: ['acc'] });
  return m;
}

/** A second model with `m`'s current weights. */
function twin(m: tf.LayersModel, batchNorm = false): tf.Sequential {
  const t = mlp(batchNorm);
  t.setWeights(m.getWeights());
  return t;
}

describe('shuffle on', () => {
  const SEED = 5;
  let initial: tf.Sequential;
  const runs: Float32Array[] = [];

  beforeAll(async () => {
    initial = mlp();
    for (const seed of [SEED, SEED, SEED + 1]) {
      const m = twin(initial);
      await fitParallel(m, x, y, { batchSize: B, epochs: 2, shuffle: true, seed, workers: 2, backend: 'wasm' });
      runs.push(flat(m));
    }
  });

  it('the same seed gives the same weights bit for bit, another seed other weights', () => {
    expect(maxAbsDiff(runs[0], runs[1])).toBe(0);
    expect(maxAbsDiff(runs[0], runs[2])).toBeGreaterThan(1e-3);
  });

  it("equals model.fit fed each epoch's samples in epochPermutation(n, seed, epoch) order, shuffle off (1e-5)", async () => {
    const ref = twin(initial);
    for (let e = 0; e < 2; e++) {
      const order = tf.tensor1d(epochPermutation(N, SEED, e), 'int32');
      await ref.fit(x.gather(order), y.gather(order), { batchSize: B, epochs: 1, shuffle: false, verbose: 0 });
    }
    expect(maxAbsDiff(runs[0], flat(ref))).toBeLessThanOrEqual(1e-5);
    // and the shuffle matters: the unshuffled order ends elsewhere
    const unshuffled = twin(initial);
    await unshuffled.fit(x, y, { batchSize: B, epochs: 2, shuffle: false, verbose: 0 });
    expect(maxAbsDiff(runs[0], flat(unshuffled))).toBeGreaterThan(1e-3);
  });

  it('uses every sample once per epoch: a weight per sample, moved by its one step, by 2 lr / (its batch size)', async () => {
    // x = the identity (sample i is e_i), y = 1, W = 0, no bias, mean squared error, SGD lr 0.5:
    // sample i moves W[i] alone, by lr x 2 (1 - 0) / (size of its batch), once per use: 1/16 in a
    // full batch of 16, 1/8 in the short last one (40 = 2 x 16 + 8); never used, 0; twice, more.
    const n = 40;
    const m = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [n], units: 1, useBias: false, kernelInitializer: 'zeros' })],
    });
    m.compile({ optimizer: tf.train.sgd(0.5), loss: 'meanSquaredError' });
    await fitParallel(m, tf.eye(n), tf.ones([n, 1]), {
      batchSize: 16,
      epochs: 1,
      shuffle: true,
      seed: SEED,
      workers: 2,
      backend: 'wasm',
    });
    const w = Array.from(m.getWeights()[0].dataSync());
    const last = new Set(epochPermutation(n, SEED, 0).subarray(32));
    expect(w).toEqual(w.map((_, i) => (last.has(i) ? 1 / 8 : 1 / 16)));
  });
});

/**
 * Every hook's call, in order, as one line each: what model.fit and fitParallel must agree on;
 * onBatchBegin's logs go to `begins` as they are at the call (model.fit fills its object in later).
 */
function recorder(into: string[], begins: string[] = []): tf.CustomCallbackArgs {
  const keys = (logs?: tf.Logs): string =>
    Object.keys(logs ?? {})
      .sort()
      .join(',');
  return {
    onTrainBegin: () => void into.push('train'),
    onEpochBegin: (e) => void into.push(`epoch ${e}`),
    onBatchBegin: (b, logs) => {
      into.push(`begin ${b}`);
      begins.push(`${b} ${JSON.stringify(logs)}`);
    },
    onBatchEnd: (b, logs) => void into.push(`end ${b} ${String(logs?.batch)} ${String(logs?.size)} ${keys(logs)}`),
    onEpochEnd: (e, logs) => void into.push(`epoch end ${e} ${keys(logs)}`),
    onTrainEnd: () => void into.push('done'),
  };
}

describe('initialEpoch 2 of 4, with callbacks on every hook, against model.fit', () => {
  let ours: History;
  let theirs: tf.History;
  const seenOurs: string[] = [];
  const seenTheirs: string[] = [];
  const begins: string[] = [];
  let mine: tf.Sequential;
  let ref: tf.Sequential;

  beforeAll(async () => {
    mine = mlp();
    ref = twin(mine);
    const args = { batchSize: B, epochs: 4, initialEpoch: 2, shuffle: false };
    ours = await fitParallel(mine, x, y, {
      ...args,
      verbose: 0,
      workers: 2,
      backend: 'wasm',
      callbacks: recorder(seenOurs, begins),
    });
    theirs = await ref.fit(x, y, { ...args, verbose: 0, callbacks: recorder(seenTheirs) });
  });

  it('History.epoch is [2, 3], and the weights are those of two epochs of model.fit (1e-5)', () => {
    expect(theirs.epoch).toEqual([2, 3]);
    expect(ours.epoch).toEqual(theirs.epoch);
    expect(ours.history.loss).toHaveLength(2);
    expect(maxAbsDiff(flat(mine), flat(ref))).toBeLessThanOrEqual(1e-5);
  });

  it('onBatchBegin gets { batch, size } already at the call, before every batch, the short last one included', () => {
    const sizes = Array.from({ length: STEPS }, (_, b) => Math.min(B, N - b * B));
    expect(sizes[STEPS - 1]).toBe(8);
    const one = sizes.map((size, batch) => `${batch} ${JSON.stringify({ batch, size })}`);
    expect(begins).toEqual([...one, ...one]);
  });

  it('every hook is called in the order and with the log names model.fit uses', () => {
    expect(seenOurs).toEqual(seenTheirs);
  });

  it("History is a tf.History; its params have model.fit's, and the steps per epoch", async () => {
    const p = theirs.params as Record<string, unknown>;
    const { steps, ...rest } = ours.params;
    expect(rest).toEqual({ ...p, steps: undefined });
    expect([p.steps, steps]).toEqual([null, STEPS]); // tfjs's fit leaves steps null
    expect(rest).toMatchObject({ epochs: 4, initialEpoch: 2, samples: N, batchSize: B, metrics: ['loss', 'acc'] });
    expect(ours).toBeInstanceOf(tf.History);
    const before = JSON.stringify(ours.history);
    await ours.syncData(); // resolves: every value is a number already
    expect(JSON.stringify(ours.history)).toBe(before);
  });
});

describe('a tf.callbacks.earlyStopping() instance', () => {
  it('stops fitParallel after the epoch it stops model.fit, with the same weights', async () => {
    // minDelta so large that no epoch after the first counts as an improvement: with patience 1, it stops after epoch 1.
    const stopper = (): tf.Callback => tf.callbacks.earlyStopping({ monitor: 'loss', minDelta: 1e9, patience: 1 });
    const mine = mlp();
    const ref = twin(mine);
    const args = { batchSize: B, epochs: 5, shuffle: false };
    const ours = await fitParallel(mine, x, y, { ...args, workers: 2, backend: 'wasm', callbacks: stopper() });
    const theirs = await ref.fit(x, y, { ...args, verbose: 0, callbacks: stopper() });
    expect(theirs.epoch).toEqual([0, 1]);
    expect(ours.epoch).toEqual(theirs.epoch);
    expect(maxAbsDiff(flat(mine), flat(ref))).toBeLessThanOrEqual(1e-5);
  });
});

describe('batch normalisation', () => {
  it("1 worker leaves model.fit's moving mean and variance in the user's model, and its weights (1e-5)", async () => {
    const mine = mlp(true);
    const ref = twin(mine, true);
    const stats = (m: tf.LayersModel): Float32Array[] =>
      m.nonTrainableWeights.map((w) => w.read().dataSync() as Float32Array);
    const before = stats(mine);
    await fitParallel(mine, x, y, { batchSize: B, epochs: 1, shuffle: false, workers: 1, backend: 'wasm' });
    await ref.fit(x, y, { batchSize: B, epochs: 1, shuffle: false, verbose: 0 });
    const [after, expected] = [stats(mine), stats(ref)];
    expect(expected).toHaveLength(2); // moving mean, moving variance
    expected.forEach((s, k) => {
      expect(maxAbsDiff(s, before[k]), 'model.fit moved the statistics').toBeGreaterThan(1e-2);
      expect(maxAbsDiff(after[k], s)).toBeLessThanOrEqual(1e-5);
    });
    expect(maxAbsDiff(flat(mine), flat(ref))).toBeLessThanOrEqual(1e-5);
  });
});
