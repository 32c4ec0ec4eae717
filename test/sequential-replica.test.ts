// The tape-free replica (src/model/sequential-replica.ts) against tfjs autograd (LayersReplica)
// on the same weights and batches: the same loss, gradients and metrics, bit for bit, for the
// layers it writes out (strides, 'same' and 'valid', no bias, hidden ReLU and linear, softmax,
// linear and sigmoid heads, one-hot and index targets), batch 1 and odd; undefined for anything
// else; and fitParallel's 2 workers ending where 'autograd' ends. Both sides of those run our
// registered wasm kernels, so the replica is also held to an independent reference: tfjs autograd
// on the cpu backend, whose kernels are tfjs's own, on MNIST and on crafted inputs whose max-pooling
// windows tie between pixels of different inputs.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../dist/src/backend.js';
import { fitParallel } from '../dist/src/index.js';
import { layersSource } from '../dist/src/fit/spec.js';
import { LayersReplica } from '../dist/src/model/layers-replica.js';
import type { LayersSpec } from '../dist/src/model/layers-spec.js';
import type { Batch } from '../dist/src/model/types.js';
import { SequentialReplica } from '../dist/src/model/sequential-replica.js';
import { Rng } from '../dist/src/rng.js';
import { maxAbs, maxAbsDiff, mnist } from './helpers.js';

const seed = (s: number): ReturnType<typeof tf.initializers.glorotUniform> =>
  tf.initializers.glorotUniform({ seed: s });

function compiled(layers: tf.layers.Layer[], loss: string, metrics: string[] = ['acc']): tf.Sequential {
  const m = tf.sequential({ layers });
  m.compile({ optimizer: 'sgd', loss, metrics });
  return m;
}

/** Models it writes out, with the targets their loss takes. */
const SUPPORTED: [string, () => tf.Sequential, 'onehot' | 'index'][] = [
  [
    'the convnet: conv relu, pool, conv relu, pool, flatten, dense softmax',
    () =>
      compiled(
        [
          tf.layers.conv2d({
            inputShape: [28, 28, 1],
            filters: 8,
            kernelSize: 5,
            activation: 'relu',
            kernelInitializer: seed(1),
          }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: seed(2) }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: seed(3) }),
        ],
        'categoricalCrossentropy',
      ),
    'onehot',
  ],
  [
    "strides 2 and 'same', a 3x3 pool at stride 1, a conv without bias and a linear one, hidden dense layers",
    () =>
      compiled(
        [
          tf.layers.conv2d({
            inputShape: [28, 28, 1],
            filters: 4,
            kernelSize: 3,
            strides: 2,
            padding: 'same',
            activation: 'relu',
            kernelInitializer: seed(4),
            biasInitializer: 'ones',
          }),
          tf.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }),
          tf.layers.conv2d({ filters: 6, kernelSize: [2, 3], useBias: false, kernelInitializer: seed(5) }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 12, activation: 'relu', kernelInitializer: seed(6), biasInitializer: 'ones' }),
          tf.layers.dense({ units: 9, kernelInitializer: seed(7) }),
          tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: seed(8) }),
        ],
        'categoricalCrossentropy',
        ['accuracy', 'mse'], // one metric on the host, one through tfjs
      ),
    'onehot',
  ],
  [
    'the tutorial MLP as tf.layers, sparse targets',
    () =>
      compiled(
        [
          tf.layers.flatten({ inputShape: [28, 28, 1] }),
          tf.layers.dense({ units: 32, activation: 'relu', kernelInitializer: seed(9) }),
          tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: seed(10) }),
        ],
        'sparseCategoricalCrossentropy',
        ['acc', 'ce'],
      ),
    'index',
  ],
  [
    'a linear conv with bias, a ReLU head, mean squared error',
    () =>
      compiled(
        [
          tf.layers.conv2d({
            inputShape: [28, 28, 1],
            filters: 3,
            kernelSize: 4,
            strides: 3,
            kernelInitializer: seed(13),
            biasInitializer: 'ones',
          }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 10, activation: 'relu', kernelInitializer: seed(14) }),
        ],
        'meanSquaredError',
        [],
      ),
    'onehot',
  ],
  [
    'a linear head, mean squared error',
    () =>
      compiled(
        [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10, kernelInitializer: seed(11) })],
        'meanSquaredError',
        [],
      ),
    'onehot',
  ],
  [
    'a sigmoid head, binary cross-entropy',
    () =>
      compiled(
        [
          tf.layers.flatten({ inputShape: [28, 28, 1] }),
          tf.layers.dense({ units: 10, activation: 'sigmoid', kernelInitializer: seed(12) }),
        ],
        'binaryCrossentropy',
        [],
      ),
    'onehot',
  ],
];

/** Models it leaves to tfjs autograd. */
const UNSUPPORTED: [string, () => tf.LayersModel][] = [
  [
    'a dropout layer',
    () =>
      compiled(
        [
          tf.layers.flatten({ inputShape: [28, 28, 1] }),
          tf.layers.dropout({ rate: 0.5 }),
          tf.layers.dense({ units: 10, activation: 'softmax' }),
        ],
        'categoricalCrossentropy',
      ),
  ],
  [
    'batch normalisation (non-trainable weights)',
    () =>
      compiled(
        [
          tf.layers.flatten({ inputShape: [28, 28, 1] }),
          tf.layers.batchNormalization(),
          tf.layers.dense({ units: 10, activation: 'softmax' }),
        ],
        'categoricalCrossentropy',
      ),
  ],
  [
    'a tanh hidden layer',
    () =>
      compiled(
        [
          tf.layers.flatten({ inputShape: [28, 28, 1] }),
          tf.layers.dense({ units: 8, activation: 'tanh' }),
          tf.layers.dense({ units: 10, activation: 'softmax' }),
        ],
        'categoricalCrossentropy',
      ),
  ],
  [
    'a kernel regularizer',
    () =>
      compiled(
        [
          tf.layers.flatten({ inputShape: [28, 28, 1] }),
          tf.layers.dense({ units: 10, activation: 'softmax', kernelRegularizer: tf.regularizers.l2() }),
        ],
        'categoricalCrossentropy',
      ),
  ],
  [
    'a dilated conv',
    () =>
      compiled(
        [
          tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 2, kernelSize: 3, dilationRate: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 10, activation: 'softmax' }),
        ],
        'categoricalCrossentropy',
      ),
  ],
  [
    'a frozen layer',
    () => {
      const hidden = tf.layers.dense({ units: 8, activation: 'relu' });
      const m = compiled(
        [tf.layers.flatten({ inputShape: [28, 28, 1] }), hidden, tf.layers.dense({ units: 10, activation: 'softmax' })],
        'categoricalCrossentropy',
      );
      hidden.trainable = false;
      return m;
    },
  ],
  [
    'a functional model',
    () => {
      const input = tf.input({ shape: [28, 28, 1] });
      const out = tf.layers
        .dense({ units: 10, activation: 'softmax' })
        .apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor;
      const m = tf.model({ inputs: input, outputs: out });
      m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
      return m;
    },
  ],
];

beforeAll(async () => {
  await initBackend('wasm');
});

describe('SequentialReplica against tfjs autograd (LayersReplica)', () => {
  const data = mnist();

  it.each(SUPPORTED)(
    '%s: the same loss, gradient and metrics, bit for bit, at 1, 7 and 32 samples; no tensor left',
    async (_, build, targets) => {
      const source = layersSource(build(), { targets });
      const autograd = await LayersReplica.create(source.spec);
      const tapeFree = SequentialReplica.over(autograd);
      expect(tapeFree).toBeDefined();
      const rng = new Rng(3);
      const params = source.params.map((v) => v + 0.01 * (rng.next() - 0.5)); // off the initialisers' zeros
      for (const n of [1, 7, 32]) {
        const batch = {
          ...data.train,
          indices: Int32Array.from({ length: n }, () => rng.int(data.train.labels.length)),
        };
        const [g1, g2] = [new Float32Array(params.length), new Float32Array(params.length)];
        const [m1, m2] = [new Float64Array(2), new Float64Array(2)];
        const before = tf.memory().numTensors;
        const l1 = autograd.lossAndGradSum(params, batch, g1, undefined, m1);
        const l2 = tapeFree?.lossAndGradSum(params, batch, g2, undefined, m2);
        expect(tf.memory().numTensors).toBe(before);
        expect(l2).toBe(l1);
        expect(Array.from(m2)).toEqual(Array.from(m1));
        expect(
          g2.findIndex((v, k) => !Object.is(v, g1[k])),
          'first gradient element that differs',
        ).toBe(-1);
        expect(g1.some((v) => v !== 0)).toBe(true);
      }
    },
  );

  it.each(SUPPORTED)(
    "%s: evaluate() on the training path gives tfjs-layers' inference loss and metrics (relative 1e-6), at 1 and 500 samples",
    async (_, build, targets) => {
      const source = layersSource(build(), { targets });
      const layers = await LayersReplica.create(source.spec);
      const tapeFree = SequentialReplica.over(layers);
      const rng = new Rng(9);
      const params = source.params.map((v) => v + 0.01 * (rng.next() - 0.5));
      for (const n of [1, 500]) {
        const batch = { ...data.test, indices: Int32Array.from({ length: n }, () => rng.int(data.test.count)) };
        const before = tf.memory().numTensors;
        const ours = tapeFree?.evaluate(params, batch);
        expect(tf.memory().numTensors).toBe(before);
        const theirs = layers.evaluate(params, batch);
        expect(Math.abs((ours?.lossSum ?? NaN) - theirs.lossSum)).toBeLessThanOrEqual(1e-6 * Math.abs(theirs.lossSum));
        expect(ours?.metricSums.length).toBe(theirs.metricSums.length);
        ours?.metricSums.forEach((m, k) =>
          expect(Math.abs(m - theirs.metricSums[k])).toBeLessThanOrEqual(
            1e-6 * Math.max(1, Math.abs(theirs.metricSums[k])),
          ),
        );
      }
    },
  );

  it.each(SUPPORTED)(
    '%s: the loss and gradient of tfjs autograd on the cpu backend (relative 1e-4), at 9 samples',
    async (_, build, targets) => {
      const source = layersSource(build(), { targets });
      const rng = new Rng(5);
      const params = source.params.map((v) => v + 0.01 * (rng.next() - 0.5));
      await expectCpuAutograd(source.spec, params, {
        ...data.train,
        indices: Int32Array.from({ length: 9 }, () => rng.int(data.train.labels.length)),
      });
    },
  );

  it.each([
    ['2x2 windows, 4 channels (the unrolled kernel)', 2, 2, 4],
    ['2x2 windows, 3 channels (the scatter)', 2, 2, 3],
    ["3x3 windows at stride 1, 'same' (the scatter, overlapping)", 3, 1, 4],
  ] as const)(
    'max pooling, %s, with ties between pixels of different inputs: the gradient goes where the cpu backend sends it',
    async (_, poolSize, strides, filters) => {
      // A 1x1 conv from 2 channels, every weight 1 and no bias: a pixel is a + b, so (1, 0) and (0, 1)
      // tie as a window's maximum, and which of them gets the window's gradient shows in the conv's
      // weights. After a ReLU ties are zeros, whose gradient the ReLU drops: MNIST shows none.
      const model = compiled(
        [
          tf.layers.conv2d({
            inputShape: [6, 6, 2],
            filters,
            kernelSize: 1,
            useBias: false,
            kernelInitializer: 'ones',
          }),
          tf.layers.maxPooling2d({ poolSize, strides, padding: 'same' }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: seed(15) }),
        ],
        'categoricalCrossentropy',
      );
      const source = layersSource(model, { targets: 'onehot' });
      const rng = new Rng(8);
      const n = 4;
      // (n, 6, 6, 2): half the pixels (1, 0) or (0, 1), the rest below 1
      const images = Array.from({ length: n * 36 }, () =>
        rng.next() < 0.5 ? (rng.next() < 0.5 ? [1, 0] : [0, 1]) : [0.4 * rng.next(), 0.4 * rng.next()],
      ).flat();
      const labels = Uint8Array.from({ length: n }, (_, b) => b);
      await expectCpuAutograd(source.spec, source.params, {
        images: Float32Array.from(images),
        labels,
        features: 72,
        indices: Int32Array.from({ length: n }, (_, b) => b),
      });
    },
  );

  it.each(UNSUPPORTED)('%s: left to tfjs autograd (undefined)', async (_, build) => {
    const autograd = await LayersReplica.create(layersSource(build(), { targets: 'onehot' }).spec);
    expect(SequentialReplica.over(autograd)).toBeUndefined();
  });

  it("fitParallel with 2 workers ends with the weights 'autograd' ends with, bit for bit", async () => {
    const [, build] = SUPPORTED[1];
    const x = tf.tensor4d(data.train.images.subarray(0, 96 * 784), [96, 28, 28, 1]);
    const y = tf.oneHot(tf.tensor1d(Array.from(data.train.labels.subarray(0, 96)), 'int32'), 10);
    const weights = [];
    for (const gradients of ['manual', 'autograd'] as const) {
      const m = build();
      await fitParallel(m, x, y, {
        batchSize: 32,
        epochs: 1,
        shuffle: false,
        workers: 2,
        backend: 'wasm',
        gradients,
        verbose: 0,
      });
      weights.push(m.getWeights().map((w) => Array.from(w.dataSync())));
      m.dispose();
    }
    expect(weights[0]).toEqual(weights[1]);
    tf.dispose([x, y]);
  });
});

/**
 * The tape-free replica on wasm (our kernels) gives the loss and gradient sums of tfjs autograd on the
 * cpu backend (tfjs's own kernels: none of ours is registered for cpu), relative to max(1, |reference|).
 */
async function expectCpuAutograd(spec: LayersSpec, params: Float32Array, batch: Batch): Promise<void> {
  const run = (replica: { lossAndGradSum: LayersReplica['lossAndGradSum'] }): { loss: number; grad: Float32Array } => {
    const grad = new Float32Array(params.length);
    return { loss: replica.lossAndGradSum(params, batch, grad), grad };
  };
  await tf.setBackend('cpu');
  let reference: { loss: number; grad: Float32Array };
  try {
    reference = run(await LayersReplica.create(spec));
  } finally {
    await tf.setBackend('wasm');
  }
  const tapeFree = SequentialReplica.over(await LayersReplica.create(spec));
  if (tapeFree === undefined) throw new Error('not written out');
  const { loss, grad } = run(tapeFree);
  expect(Math.abs(loss - reference.loss) / Math.max(1, Math.abs(reference.loss)), 'loss').toBeLessThanOrEqual(1e-4);
  expect(maxAbsDiff(grad, reference.grad) / Math.max(1, maxAbs(reference.grad)), 'gradient').toBeLessThanOrEqual(1e-4);
  expect(reference.grad.some((v) => v !== 0)).toBe(true);
}
