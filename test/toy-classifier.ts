// The 3-class toy problem of the fit-contract tests: 8 features uniform in [-1, 1], class
// 0 where x0 + x1 > 0.3, else 1 where x2 > 0, else 2; and a small tanh classifier for it
// (no ReLU kink to flip between backends), compiled with `optimizer`.
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../dist/src/rng.js';

/** `n` samples drawn with `seed`: x (n, 8), y one-hot (n, 3). */
export function toyData(n: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const r = new Rng(seed);
  const rows = Array.from({ length: n }, () => Array.from({ length: 8 }, () => r.uniform(-1, 1)));
  const labels = rows.map((row) => (row[0] + row[1] > 0.3 ? 0 : row[2] > 0 ? 1 : 2));
  return { x: tf.tensor2d(rows), y: tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat() as tf.Tensor2D };
}

/** dense 16 tanh -> dense 3 softmax, glorot-uniform kernels seeded `seeds`, categorical crossentropy and accuracy. */
export function toyClassifier(optimizer: tf.Optimizer, seeds: readonly [number, number] = [11, 12]): tf.Sequential {
  const init = (seed: number): ReturnType<typeof tf.initializers.glorotUniform> =>
    tf.initializers.glorotUniform({ seed });
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [8], units: 16, activation: 'tanh', kernelInitializer: init(seeds[0]) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(seeds[1]) }),
    ],
  });
  m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['acc'] });
  return m;
}
