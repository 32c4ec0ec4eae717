/**
 * Single-threaded baselines for the scaling benchmark, as rows of the
 * steady-state protocol (steady.ts), all on the calling thread with no pool and
 * no worker threads, each timing every step:
 * - plainTfjsRow: the loop a user writes without this library: a tf.sequential
 *   of dense layers, tf.train.sgd and optimizer.minimize (tfjs autograd).
 * - leanStepRow: this library's own step on the tutorial MLP (fastestReplica, as the
 *   workers run it, + the wasm SGD kernel), called directly. 1 worker against this
 *   isolates what the pool costs.
 * - genericStepRow: the same on a model of examples/, with its compiled optimizer.
 * ceiling.ts runs the last two in several processes at once.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../src/data/dataset.js';
import { epochPermutation } from '../src/data/shuffle.js';
import { layersSource } from '../src/fit/spec.js';
import { allocateArena, paramsAt, stateAt } from '../src/simd/arena.js';
import { kernelsFor } from '../src/simd/kernels.js';
import { LayersReplica } from '../src/model/layers-replica.js';
import { fastestReplica } from '../src/model/sequential-replica.js';
import { tutorialMlp, type MlpConfig } from '../src/model/tutorial-mlp.js';
import { initState, optimizerFromTfjs, stateVectors } from '../src/optim/spec.js';
import { partition } from '../src/partition.js';
import { betaPowers } from '../src/optim/adam.js';
import { optimizerStep } from '../src/optim/step.js';
import type { Row } from './steady.js';

/** The tutorial's MLP and learning rate, as the scaling benchmark trains them. */
export const TUTORIAL_MLP: MlpConfig = { inputSize: 784, hidden: [128, 64], numClasses: 10 };
export const TUTORIAL_LR = 0.003;

/** A row that calls `step` once per step with the next batch's sample indices. */
function loopRow(batch: number, n: number, step: (indices: Int32Array) => void, close: () => void): Row {
  const order = epochPermutation(n, 1, 0);
  let i = 0;
  return {
    samplesPerStep: batch,
    async run(steps) {
      const stepMs = new Array<number>(steps);
      const t0 = performance.now();
      let t = t0;
      for (let k = 0; k < steps; k++, i++) {
        const lo = (i * batch) % (n - batch);
        step(order.subarray(lo, lo + batch));
        const now = performance.now();
        stepMs[k] = now - t;
        t = now;
      }
      return { seconds: (t - t0) / 1000, stepMs };
    },
    async close() {
      close();
    },
  };
}

export function plainTfjsRow(data: Dataset, cfg: MlpConfig, batch: number, lr: number): Row {
  const model = tf.sequential({
    layers: [
      ...cfg.hidden.map((units, l) =>
        tf.layers.dense({ units, activation: 'relu', ...(l === 0 ? { inputShape: [cfg.inputSize] } : {}) }),
      ),
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
        const loss = opt.minimize(
          () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs) as tf.Tensor2D) as tf.Scalar,
          true,
        );
        loss?.dataSync(); // read the loss each step, as a user printing it would
      });
    },
    () => {
      model.dispose();
      opt.dispose();
    },
  );
}

/**
 * `parties`: the update covers the first of `parties` slices of the parameters,
 * as each of that many workers updates one (ceiling.ts); 1 updates them all.
 */
export async function leanStepRow(data: Dataset, cfg: MlpConfig, batch: number, lr: number, parties = 1): Promise<Row> {
  return modelStepRow(data, tutorialMlp(cfg, 1, lr), batch, parties);
}

/** The step on examples/`example`, then its compiled optimizer's update through the trainer's kernels; `parties` as in leanStepRow. */
export async function genericStepRow(data: Dataset, example: string, batch: number, parties = 1): Promise<Row> {
  const { default: build } = (await import(new URL(`../../examples/${example}`, import.meta.url).href)) as {
    default: () => tf.LayersModel;
  };
  return modelStepRow(data, build(), batch, parties);
}

/** The workers' step on `model` (compiled; disposed on close), then its optimizer's update through the trainer's kernels. */
async function modelStepRow(data: Dataset, model: tf.LayersModel, batch: number, parties: number): Promise<Row> {
  const source = layersSource(model, { targets: 'onehot' });
  const spec = optimizerFromTfjs(model.optimizer);
  const replica = fastestReplica(await LayersReplica.create(source.spec)); // as the trainer's workers run it
  const P = source.params.length;
  const arena = allocateArena(P, 1, stateVectors(spec));
  paramsAt(arena, 0).set(source.params);
  initState(spec, stateAt(arena, 0));
  const k = kernelsFor(arena.memory);
  const slice = partition(P, parties, 0);
  let step = 0;
  return loopRow(
    batch,
    data.train.count,
    (indices) => {
      const params = paramsAt(arena, step);
      replica.lossAndGradSum(params, { ...data.train, indices }, arena.grads);
      k.reduce(arena.grads, 1, P, slice.lo, slice.hi, 1 / batch, arena.reduced);
      step++;
      optimizerStep(k, spec, betaPowers(spec, step), {
        params,
        grad: arena.reduced,
        next: paramsAt(arena, step),
        state: stateAt(arena, step - 1),
        stateNext: stateAt(arena, step),
        slice,
      });
    },
    () => model.dispose(),
  );
}
