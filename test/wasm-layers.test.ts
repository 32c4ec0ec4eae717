// Every tf.layers layer people train with, trained on the wasm backend (as initBackend sets it
// up in every worker) and on the cpu backend from the same weights: 5 SGD steps of model.fit,
// then every weight compared. Relative difference: max|wasm - cpu| / max(1, max|cpu|).
// Dropout draws its mask in JS from its seed, so both backends drop the same units.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../dist/src/backend.js';
import { Rng } from '../dist/src/rng.js';

const TOL = 1e-4;
const STEPS = 5;
const L = tf.layers;

interface Net {
  input: number[]; // per sample
  ids?: number; // integer inputs in [0, ids)
  layers: () => tf.layers.Layer[];
}

const head = (): tf.layers.Layer[] => [L.flatten(), L.dense({ units: 3, activation: 'softmax' })];

const NETS: Record<string, Net> = {
  dense: {
    input: [8],
    layers: () => [
      L.dense({ units: 6, activation: 'relu', inputShape: [8] }),
      L.dense({ units: 3, activation: 'softmax' }),
    ],
  },
  conv1d: {
    input: [11, 3],
    layers: () => [
      L.conv1d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', inputShape: [11, 3] }),
      L.conv1d({ filters: 2, kernelSize: 2 }),
      ...head(),
    ],
  },
  conv2d: {
    input: [9, 8, 2],
    layers: () => [
      L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', inputShape: [9, 8, 2] }),
      L.conv2d({ filters: 3, kernelSize: [2, 3], padding: 'valid' }),
      ...head(),
    ],
  },
  depthwiseConv2d: {
    input: [9, 8, 2],
    layers: () => [
      L.conv2d({ filters: 3, kernelSize: 1, inputShape: [9, 8, 2] }),
      L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu' }),
      L.depthwiseConv2d({ kernelSize: 2, padding: 'valid' }),
      ...head(),
    ],
  },
  separableConv2d: {
    input: [8, 9, 2],
    layers: () => [
      L.conv2d({ filters: 3, kernelSize: 1, inputShape: [8, 9, 2] }),
      L.separableConv2d({ filters: 4, kernelSize: 3, depthMultiplier: 2, activation: 'relu' }),
      ...head(),
    ],
  },
  maxPooling2d: {
    input: [10, 9, 2],
    layers: () => [
      L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [10, 9, 2] }),
      L.maxPooling2d({ poolSize: 2 }),
      L.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }),
      ...head(),
    ],
  },
  averagePooling2d: {
    input: [10, 9, 2],
    layers: () => [
      L.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [10, 9, 2] }),
      L.averagePooling2d({ poolSize: 2 }),
      L.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
      ...head(),
    ],
  },
  globalAveragePooling2d: {
    input: [7, 6, 2],
    layers: () => [
      L.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [7, 6, 2] }),
      L.globalAveragePooling2d({}),
      L.dense({ units: 3, activation: 'softmax' }),
    ],
  },
  batchNormalization: {
    input: [6, 6, 2],
    layers: () => [
      L.conv2d({ filters: 3, kernelSize: 3, inputShape: [6, 6, 2] }),
      L.batchNormalization({}),
      L.flatten(),
      L.dense({ units: 5 }),
      L.batchNormalization({}),
      L.dense({ units: 3, activation: 'softmax' }),
    ],
  },
  dropout: {
    input: [8],
    layers: () => [
      L.dense({ units: 10, activation: 'relu', inputShape: [8] }),
      L.dropout({ rate: 0.5, seed: 7 }),
      L.dense({ units: 3, activation: 'softmax' }),
    ],
  },
  flatten: { input: [4, 3, 2], layers: () => [L.dense({ units: 2, inputShape: [4, 3, 2] }), ...head()] },
  embedding: {
    input: [5],
    ids: 20,
    layers: () => [L.embedding({ inputDim: 20, outputDim: 4, inputLength: 5 }), ...head()],
  },
  lstm: {
    input: [5, 3],
    layers: () => [L.lstm({ units: 4, inputShape: [5, 3] }), L.dense({ units: 3, activation: 'softmax' })],
  },
  gru: { input: [5, 3], layers: () => [L.gru({ units: 4, returnSequences: true, inputShape: [5, 3] }), ...head()] },
};

const BATCH = 7;
const worst = new Map<string, number>();

/** Seeded starting weights: variances and scales positive, the rest in +-0.5. */
function initialWeights(model: tf.LayersModel, rng: Rng): Float32Array[] {
  return model.weights.map((w) => {
    const positive = /moving_variance|gamma/.test(w.name);
    return Float32Array.from({ length: tf.util.sizeFromShape(w.shape as number[]) }, () =>
      positive ? rng.uniform(0.5, 1.5) : rng.uniform(-0.5, 0.5),
    );
  });
}

/** Builds the net on the current backend from `start`, fits it STEPS full-batch steps, returns its weights. */
async function train(
  net: Net,
  start: Float32Array[] | undefined,
  rng: Rng,
): Promise<{ start: Float32Array[]; end: Float32Array[]; left: number }> {
  const before = tf.memory().numTensors;
  const model = tf.sequential({ layers: net.layers() });
  const optimizer = tf.train.sgd(0.5);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const init = start ?? initialWeights(model, rng);
  const initTensors = init.map((v, i) => tf.tensor(v, model.weights[i].shape as number[]));
  model.setWeights(initTensors);
  tf.dispose(initTensors);
  const data = new Rng(3);
  const xs = Float32Array.from({ length: BATCH * tf.util.sizeFromShape(net.input) }, () =>
    net.ids ? data.int(net.ids) : data.uniform(-1, 1),
  );
  const labels = Array.from({ length: BATCH }, () => data.int(3));
  const x = tf.tensor(xs, [BATCH, ...net.input]);
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 3);
  await model.fit(x, y, { epochs: STEPS, batchSize: BATCH, shuffle: false, verbose: 0 });
  const end = model.getWeights().map((w) => w.dataSync() as Float32Array);
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  return { start: init, end, left: tf.memory().numTensors - before };
}

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
  expect(
    tf.getKernel('Conv2DBackpropFilter', 'wasm'),
    'initBackend did not register the wasm training kernels',
  ).toBeDefined();
});

afterAll(() => {
  console.log(
    `max relative weight difference after ${STEPS} steps, wasm vs cpu: ${[...worst].map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`,
  );
});

describe(`one small model per layer type, ${STEPS} steps of model.fit on wasm and on cpu from the same weights`, () => {
  it.each(Object.keys(NETS))('%s', async (name) => {
    const net = NETS[name];
    await tf.setBackend('cpu');
    const cpu = await train(net, undefined, new Rng(11));
    await tf.setBackend('wasm');
    const wasm = await train(net, cpu.start, new Rng(11));
    // tfjs-layers' fit leaves a few tensors behind on either backend; our kernels must add none.
    expect(wasm.left, 'training on wasm left more tensors behind than on cpu').toBeLessThanOrEqual(cpu.left);
    let rel = 0;
    let moved = 0;
    for (const [i, w] of wasm.end.entries()) {
      const ref = cpu.end[i];
      let d = 0;
      let m = 0;
      for (let k = 0; k < ref.length; k++) {
        d = Math.max(d, Math.abs(w[k] - ref[k]));
        m = Math.max(m, Math.abs(ref[k]));
        moved = Math.max(moved, Math.abs(ref[k] - cpu.start[i][k]));
      }
      rel = Math.max(rel, d / Math.max(1, m));
    }
    worst.set(name, rel);
    expect(moved, 'the weights did not move: the comparison would be empty').toBeGreaterThan(1e-2);
    expect(rel).toBeLessThanOrEqual(TOL);
  });
});
