// The trainer's contract (src/trainer/trainer.ts): after k steps the parameters
// equal, up to float rounding, those of plain single-threaded minibatch SGD on
// the same batches, for any worker count, including unequal and empty shards.
//
// The model is the built-in tutorial MLP, a tf.Sequential (src/model/tutorial-mlp.ts)
// on the one path every model takes. Checked here against three references:
//   - the same run with 1 worker (N = 2, 3, 5, 8 must match it),
//   - tfjs autograd on the same tf.Sequential in this thread, whole batch (the all-reduced gradient),
//   - plain SGD written out in this test on those gradients (the 20-step params).
// test/pytorch.test.ts holds the same runs to PyTorch's nn.Linear MLP.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../dist/src/data/dataset.js';
import { epochPermutation } from '../dist/src/data/shuffle.js';
import { writeWeights } from '../dist/src/fit/spec.js';
import { tutorialMlp, type MlpConfig } from '../dist/src/model/tutorial-mlp.js';
import { Trainer, type TrainerOptions } from '../dist/src/index.js';
import { maxAbs, maxAbsDiff, subset } from './helpers.js';

const TOL = 1e-5;
const STEPS = 20;
const SEED = 7;
const LR = 0.05; // large enough that 20 steps move the parameters visibly
const HIDDEN = [128, 64];
/** 37 * 10 + 5: batch 37 gives 11 steps per epoch, the last of 5 samples; batch 64 gives 6, the last of 55. */
const K = 375;
const WORKERS = [1, 2, 3, 5, 8];
const BATCHES = [64, 37];

let data: Dataset;
let model: MlpConfig;
/** Observed max abs differences, printed at the end. */
const observed: string[] = [];
const note = (s: string): void => {
  observed.push(s);
};

interface Run {
  readonly p0: Float32Array;
  /** lastGradient() after the first step from p0. */
  readonly g1: Float32Array;
  readonly losses: Float64Array;
  readonly params: Float32Array;
}

/** Trains STEPS steps in the given chunks (default: 1, then the rest). */
async function run(options: TrainerOptions, chunks: number[] = [1, STEPS - 1]): Promise<Run> {
  // A thread per worker, even beyond the cores: the shards and slices of N workers as such
  // (test/lanes.test.ts holds the default, fewer threads, to them).
  const threads = options.threads ?? options.workers;
  const trainer = await Trainer.create({
    backend: 'wasm',
    seed: SEED,
    lr: LR,
    hidden: HIDDEN,
    data,
    threads,
    ...options,
  });
  try {
    const p0 = trainer.getParams();
    const losses = new Float64Array(chunks.reduce((a, b) => a + b, 0));
    let g1: Float32Array = new Float32Array(0);
    let k = 0;
    for (const c of chunks) {
      losses.set(await trainer.train(c), k);
      if (k === 0) g1 = trainer.lastGradient();
      k += c;
    }
    expect(trainer.stepsDone).toBe(k);
    return { p0, g1, losses, params: trainer.getParams() };
  } finally {
    await trainer.close();
  }
}

/** The samples of batch s of epoch e, as the contract defines them. */
function batchIndices(count: number, B: number, e: number, s: number): Int32Array {
  return epochPermutation(count, SEED, e).slice(s * B, Math.min((s + 1) * B, count));
}

/**
 * Reference: tfjs autograd in this thread on the tutorial MLP's tf.Sequential with
 * weights `params`: the mean categorical cross-entropy over the whole batch and its
 * gradient, flat in the model's trainableWeights order (the trainer's layout).
 */
function referenceMeanGrad(
  d: Dataset,
  cfg: MlpConfig,
  params: Float32Array,
  indices: Int32Array,
): { grad: Float64Array; loss: number } {
  const model = tutorialMlp(cfg, SEED);
  try {
    writeWeights(model, params, new Float32Array(0));
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const out = { grad: new Float64Array(params.length), loss: 0 };
    tf.tidy(() => {
      const f = d.train.features;
      const x = new Float32Array(indices.length * f);
      indices.forEach((i, j) => x.set(d.train.images.subarray(i * f, (i + 1) * f), j * f));
      const xs = tf.tensor2d(x, [indices.length, f]); // xs is (n, features)
      const ys = tf.oneHot(
        tf.tensor1d(
          Int32Array.from(indices, (i) => d.train.labels[i]),
          'int32',
        ),
        cfg.numClasses,
      ); // ys is (n, classes)
      const { value, grads } = tf.variableGrads(
        () => tf.mean(tf.metrics.categoricalCrossentropy(ys, model.apply(xs) as tf.Tensor)) as tf.Scalar,
        vars,
      );
      let o = 0;
      for (const v of vars) {
        out.grad.set(grads[v.name].dataSync(), o);
        o += v.size;
      }
      out.loss = value.dataSync()[0];
    });
    return out;
  } finally {
    model.dispose();
  }
}

/** Reference: plain single-threaded minibatch SGD, p -= lr * mean grad, in float32 like the trainer. */
function referenceSgd(
  d: Dataset,
  cfg: MlpConfig,
  p0: Float32Array,
  B: number,
  steps: number,
): { params: Float32Array; losses: number[] } {
  const params = p0.slice();
  const S = Math.ceil(d.train.count / B);
  const losses: number[] = [];
  for (let g = 0; g < steps; g++) {
    const { grad, loss } = referenceMeanGrad(d, cfg, params, batchIndices(d.train.count, B, Math.floor(g / S), g % S));
    for (let i = 0; i < params.length; i++) params[i] -= LR * grad[i];
    losses.push(loss);
  }
  return { params, losses };
}

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
  await tf.ready();
  data = subset(K, 100);
  model = { inputSize: data.train.features, hidden: HIDDEN, numClasses: data.numClasses };
});

afterAll(() => {
  console.log(`equivalence: observed max abs differences\n  ${observed.join('\n  ')}`);
});

describe.each(BATCHES)(`batch size %i on ${K} samples`, (B) => {
  const runs = new Map<number, Run>();
  const base = (): Run => {
    const r = runs.get(1);
    if (r === undefined) throw new Error('the 1-worker run failed');
    return r;
  };

  beforeAll(async () => {
    runs.set(1, await run({ workers: 1, batchSize: B }));
  });

  it('the subset forces a short last batch and an epoch boundary within the steps', () => {
    const S = Math.ceil(K / B);
    expect(K % B).not.toBe(0);
    expect(STEPS).toBeGreaterThan(S);
  });

  it('1 worker: the first all-reduced gradient matches tfjs autograd on the whole batch', () => {
    const r = base();
    const ref = referenceMeanGrad(data, model, r.p0, batchIndices(K, B, 0, 0));
    const d = maxAbsDiff(r.g1, ref.grad);
    note(`B=${B} N=1 gradient vs autograd: ${d.toExponential(2)} (max |g| ${maxAbs(ref.grad).toFixed(3)})`);
    expect(d).toBeLessThanOrEqual(TOL);
    expect(Math.abs(r.losses[0] - ref.loss)).toBeLessThanOrEqual(TOL);
  });

  it(`1 worker: ${STEPS} steps match plain single-threaded SGD (autograd, whole batches)`, () => {
    const r = base();
    const ref = referenceSgd(data, model, r.p0, B, STEPS);
    const d = maxAbsDiff(r.params, ref.params);
    const moved = maxAbsDiff(r.params, r.p0);
    note(
      `B=${B} N=1 params after ${STEPS} steps vs plain SGD: ${d.toExponential(2)} (params moved up to ${moved.toFixed(4)})`,
    );
    expect(moved).toBeGreaterThan(100 * TOL); // the comparison is not vacuous
    expect(d).toBeLessThanOrEqual(TOL);
    expect(maxAbsDiff(r.losses, ref.losses)).toBeLessThanOrEqual(1e-4);
  });

  it.each(WORKERS.filter((n) => n > 1))(`%i workers: same params after ${STEPS} steps as 1 worker`, async (N) => {
    const r = await run({ workers: N, batchSize: B });
    runs.set(N, r);
    const b = base();
    expect(maxAbsDiff(r.p0, b.p0)).toBe(0); // same seed, same initial weights
    const d = maxAbsDiff(r.params, b.params);
    const dl = maxAbsDiff(r.losses, b.losses);
    const ref = referenceMeanGrad(data, model, r.p0, batchIndices(K, B, 0, 0));
    const dg = maxAbsDiff(r.g1, ref.grad);
    note(
      `B=${B} N=${N} params vs N=1: ${d.toExponential(2)}, step losses: ${dl.toExponential(2)}, first gradient vs autograd: ${dg.toExponential(2)}`,
    );
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(d).toBeLessThanOrEqual(TOL);
    expect(dl).toBeLessThanOrEqual(TOL);
    expect(dg).toBeLessThanOrEqual(TOL);
  });

  it('3 workers: training in uneven chunks across the epoch boundary gives identical params', async () => {
    const whole = runs.get(3) ?? (await run({ workers: 3, batchSize: B }));
    const chunked = await run({ workers: 3, batchSize: B }, [1, 4, Math.ceil(K / B) + 2, STEPS - 7 - Math.ceil(K / B)]);
    expect(maxAbsDiff(chunked.losses, whole.losses)).toBe(0);
    expect(maxAbsDiff(chunked.params, whole.params)).toBe(0);
  });
});

describe('other paths to the same parameters', () => {
  let base: Run;
  beforeAll(async () => {
    base = await run({ workers: 1, batchSize: 37 });
  });

  it("gradients: 'autograd' trains to the same params as 'manual'", async () => {
    const r = await run({ workers: 2, batchSize: 37, gradients: 'autograd' });
    const d = maxAbsDiff(r.params, base.params);
    note(`B=37 N=2 autograd vs manual N=1 after ${STEPS} steps: ${d.toExponential(2)}`);
    expect(d).toBeLessThanOrEqual(TOL);
    expect(maxAbsDiff(r.losses, base.losses)).toBeLessThanOrEqual(TOL);
  });

  it("backend 'cpu' (2 workers, 4 steps) matches wasm", async () => {
    const steps = 4;
    const trainer = await Trainer.create({
      workers: 2,
      batchSize: 37,
      backend: 'cpu',
      seed: SEED,
      lr: LR,
      hidden: HIDDEN,
      data,
    });
    try {
      expect(trainer.backend).toBe('cpu');
      await trainer.train(steps);
      const wasm = await run({ workers: 1, batchSize: 37 }, [steps]);
      const d = maxAbsDiff(trainer.getParams(), wasm.params);
      note(`B=37 cpu N=2 vs wasm N=1 after ${steps} steps: ${d.toExponential(2)}`);
      expect(d).toBeLessThanOrEqual(TOL);
    } finally {
      await trainer.close();
    }
  });

  it('more workers than samples in every batch (10 samples, batch 3, 5 workers) matches 1 worker', async () => {
    const saved = data;
    data = subset(10, 10); // 4 steps per epoch, the last of 1 sample: 2 to 4 empty shards per step
    try {
      const one = await run({ workers: 1, batchSize: 3 });
      const five = await run({ workers: 5, batchSize: 3 });
      const d = maxAbsDiff(five.params, one.params);
      note(`10 samples B=3 N=5 vs N=1 after ${STEPS} steps: ${d.toExponential(2)}`);
      expect(five.losses.every(Number.isFinite)).toBe(true);
      expect(d).toBeLessThanOrEqual(TOL);
      expect(maxAbsDiff(five.losses, one.losses)).toBeLessThanOrEqual(TOL);
    } finally {
      data = saved;
    }
  });
});
