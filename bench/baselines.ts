/**
 * Single-threaded baselines for the scaling benchmark, both on the main thread
 * with no pool and no worker threads:
 * - plainTfjs: the loop a user writes without this library: a tf.sequential
 *   of dense layers, tf.train.sgd and optimizer.minimize (tfjs autograd).
 * - leanStep: this library's own step (MlpReplica + the wasm SGD kernel),
 *   called directly. 1 worker against this isolates what the pool costs.
 * Each returns samples/s over `steps` steps of batch `batch` after a warm-up.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../src/data/dataset.js';
import { epochPermutation } from '../src/data/shuffle.js';
import { allocateArena, paramsAt } from '../src/kernels/arena.js';
import { kernelsFor } from '../src/kernels/kernels.js';
import { makeLayout } from '../src/model/layout.js';
import { MlpReplica, mlpDef, type MlpConfig } from '../src/model/mlp.js';
import { Rng } from '../src/rng.js';

const WARMUP = 30;

function timeSteps(steps: number, batch: number, step: (indices: Int32Array) => void, n: number): number {
  const order = epochPermutation(n, 1, 0);
  const at = (i: number): Int32Array => order.subarray(((i * batch) % (n - batch)), ((i * batch) % (n - batch)) + batch);
  for (let i = 0; i < WARMUP; i++) step(at(i));
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step(at(WARMUP + i));
  return (steps * batch) / ((performance.now() - t0) / 1000);
}

export function plainTfjs(data: Dataset, cfg: MlpConfig, batch: number, steps: number, lr: number): number {
  const model = tf.sequential({
    layers: [
      ...cfg.hidden.map((units, l) => tf.layers.dense({ units, activation: 'relu', ...(l === 0 ? { inputShape: [cfg.inputSize] } : {}) })),
      tf.layers.dense({ units: cfg.numClasses }),
    ],
  });
  const opt = tf.train.sgd(lr);
  const { images, labels, features: f } = data.train;
  const x = new Float32Array(batch * f);
  const y = new Int32Array(batch);
  const sps = timeSteps(
    steps,
    batch,
    (indices) => {
      indices.forEach((i, j) => {
        x.set(images.subarray(i * f, (i + 1) * f), j * f);
        y[j] = labels[i];
      });
      tf.tidy(() => {
        const xs = tf.tensor2d(x, [batch, f]);
        const ys = tf.oneHot(tf.tensor1d(y, 'int32'), cfg.numClasses);
        const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs) as tf.Tensor2D) as tf.Scalar, true);
        loss?.dataSync(); // read the loss each step, as a user printing it would
      });
    },
    data.train.count,
  );
  model.dispose();
  opt.dispose();
  return sps;
}

export function leanStep(data: Dataset, cfg: MlpConfig, batch: number, steps: number, lr: number): number {
  const def = mlpDef(cfg);
  const P = makeLayout(def.variables).size;
  const arena = allocateArena(P, 1);
  const rng = new Rng(1);
  def.init(paramsAt(arena, 0), () => rng.next());
  const k = kernelsFor(arena.memory);
  const replica = new MlpReplica(cfg);
  let step = 0;
  return timeSteps(
    steps,
    batch,
    (indices) => {
      const params = paramsAt(arena, step++);
      replica.lossAndGradSum(params, { ...data.train, indices }, arena.grads);
      k.reduce(arena.grads, 1, P, 0, P, 1 / batch, arena.reduced);
      k.sgd(params, arena.reduced, paramsAt(arena, step), 0, P, lr);
    },
    data.train.count,
  );
}
