/**
 * Single-threaded baselines for the scaling benchmark, as rows of the
 * steady-state protocol (steady.ts), both on the main thread with no pool and
 * no worker threads:
 * - plainTfjsRow: the loop a user writes without this library: a tf.sequential
 *   of dense layers, tf.train.sgd and optimizer.minimize (tfjs autograd).
 * - leanStepRow: this library's own step (MlpReplica + the wasm SGD kernel),
 *   called directly. 1 worker against this isolates what the pool costs.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../src/data/dataset.js';
import { epochPermutation } from '../src/data/shuffle.js';
import { allocateArena, paramsAt } from '../src/kernels/arena.js';
import { kernelsFor } from '../src/kernels/kernels.js';
import { makeLayout } from '../src/model/layout.js';
import { MlpReplica, mlpDef, type MlpConfig } from '../src/model/mlp.js';
import { Rng } from '../src/rng.js';
import type { Row } from './steady.js';

/** A row that calls `step` once per step with the next batch's sample indices. */
function loopRow(batch: number, n: number, step: (indices: Int32Array) => void, close: () => void): Row {
  const order = epochPermutation(n, 1, 0);
  let i = 0;
  return {
    samplesPerStep: batch,
    async run(steps) {
      const t0 = performance.now();
      for (let k = 0; k < steps; k++, i++) {
        const lo = (i * batch) % (n - batch);
        step(order.subarray(lo, lo + batch));
      }
      return { seconds: (performance.now() - t0) / 1000 };
    },
    async close() {
      close();
    },
  };
}

export function plainTfjsRow(data: Dataset, cfg: MlpConfig, batch: number, lr: number): Row {
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
  return loopRow(
    batch,
    data.train.count,
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
    () => {
      model.dispose();
      opt.dispose();
    },
  );
}

export function leanStepRow(data: Dataset, cfg: MlpConfig, batch: number, lr: number): Row {
  const def = mlpDef(cfg);
  const P = makeLayout(def.variables).size;
  const arena = allocateArena(P, 1);
  const rng = new Rng(1);
  def.init(paramsAt(arena, 0), () => rng.next());
  const k = kernelsFor(arena.memory);
  const replica = new MlpReplica(cfg);
  let step = 0;
  return loopRow(
    batch,
    data.train.count,
    (indices) => {
      const params = paramsAt(arena, step++);
      replica.lossAndGradSum(params, { ...data.train, indices }, arena.grads);
      k.reduce(arena.grads, 1, P, 0, P, 1 / batch, arena.reduced);
      k.sgd(params, arena.reduced, paramsAt(arena, step), 0, P, lr);
    },
    () => {},
  );
}
