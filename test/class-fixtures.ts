// Shared by the fit-io and fit-dataset-class-weight tests: seeded models and seeded samples of a
// 3-class problem with unbalanced classes (plus a regression target), for the classWeight checks.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../dist/src/index.js';
import { Rng } from '../dist/src/rng.js';

const seeded = (seed: number): ReturnType<typeof tf.initializers.glorotUniform> =>
  tf.initializers.glorotUniform({ seed });

/** Two inputs (a: 4 features, b: 3) concatenated, one hidden layer, two heads: cls (3 classes, softmax) and reg (1, linear). */
export function twoByTwo(optimizer: tf.Optimizer): tf.LayersModel {
  const a = tf.input({ shape: [4], name: 'a' });
  const b = tf.input({ shape: [3], name: 'b' });
  const joined = tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor;
  const hidden = tf.layers
    .dense({ units: 8, activation: 'relu', kernelInitializer: seeded(1) })
    .apply(joined) as tf.SymbolicTensor;
  const cls = tf.layers
    .dense({ units: 3, activation: 'softmax', name: 'cls', kernelInitializer: seeded(2) })
    .apply(hidden) as tf.SymbolicTensor;
  const reg = tf.layers
    .dense({ units: 1, name: 'reg', kernelInitializer: seeded(3) })
    .apply(hidden) as tf.SymbolicTensor;
  const m = tf.model({ inputs: [a, b], outputs: [cls, reg] });
  // lossWeights: tfjs 4.22 neither types nor applies them (Note [no loss weights] in layers-replica.ts).
  const args = {
    optimizer,
    loss: ['categoricalCrossentropy', 'meanSquaredError'],
    lossWeights: [1, 0.5],
    metrics: { cls: 'acc', reg: 'mse' },
  };
  m.compile(args as tf.ModelCompileArgs);
  return m;
}

/** A tf.sequential 3-class classifier of `a`: dense 8 relu, dense 3 softmax, seeded kernels, sgd 0.2, with `loss`. */
export function classifier(
  loss: 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' = 'categoricalCrossentropy',
): tf.Sequential {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu', kernelInitializer: seeded(4) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: seeded(5) }),
    ],
  });
  m.compile({ optimizer: tf.train.sgd(0.2), loss, metrics: ['acc'] });
  return m;
}

/** A weight per class of `samples`' cls that favours its rare classes. */
export const CLASS_WEIGHTS = { 0: 1, 1: 2.5, 2: 6 };

export interface Data {
  readonly a: tf.Tensor2D;
  readonly b: tf.Tensor2D;
  readonly cls: tf.Tensor2D;
  readonly reg: tf.Tensor2D;
}

/** Seeded samples; the class (one-hot cls) is unbalanced (about 60/30/10 %) and depends on a and b. */
function samples(n: number, seed: number): Data {
  const r = new Rng(seed);
  const a = Array.from({ length: n }, () => Array.from({ length: 4 }, () => r.uniform(-1, 1)));
  const b = Array.from({ length: n }, () => Array.from({ length: 3 }, () => r.uniform(-1, 1)));
  const cls = a.map((row, i) => {
    const s = row[0] + 0.5 * b[i][1] + 0.3 * r.uniform(-1, 1);
    const c = s > 0.75 ? 2 : s > 0.05 ? 1 : 0;
    return [0, 1, 2].map((k) => (k === c ? 1 : 0));
  });
  const reg = a.map((row, i) => [row[1] - 0.5 * b[i][2] + row[3] * b[i][0]]);
  return { a: tf.tensor2d(a), b: tf.tensor2d(b), cls: tf.tensor2d(cls), reg: tf.tensor2d(reg) };
}

/**
 * The wasm backend with the kernels every worker registers (the reference runs the same
 * kernels), then the seeded samples: 90 for training (5 batches of 16, then one of 10), 24 to validate.
 */
export async function onWasm(): Promise<{ train: Data; val: Data }> {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  return { train: samples(90, 11), val: samples(24, 12) };
}
