// The Trainer end to end: it learns, predict() agrees with evaluate(), params
// round-trip, close() ends every worker thread, and failures (bad input, a
// worker throwing, a missing backend) surface as rejected promises.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../dist/src/data/dataset.js';
import { OptionError, Trainer, type Evaluation } from '../dist/src/index.js';
import { firstSamples, maxAbsDiff, mnist, osThreads, rejection, subset } from './helpers.js';

const F = 784;

/** Polls until this process runs at most `n` OS threads (threads take a moment to be reaped); returns the last count. */
async function threadsDownTo(n: number, ms = 5000): Promise<number | undefined> {
  const t0 = Date.now();
  let now = osThreads();
  while (now !== undefined && now > n && Date.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, 20));
    now = osThreads();
  }
  return now;
}

const mean = (a: ArrayLike<number>, lo: number, hi: number): number => {
  let s = 0;
  for (let i = lo; i < hi; i++) s += a[i];
  return s / (hi - lo);
};

describe('a 2-worker run on 2000 samples, lr 0.05', () => {
  let data: Dataset;
  let trainer: Trainer;
  let threadsBefore: number | undefined;
  let initial: Evaluation;
  let p0: Float32Array;
  let losses: Float64Array;

  beforeAll(async () => {
    data = subset(2000, 1000);
    threadsBefore = osThreads();
    trainer = await Trainer.create({ workers: 2, batchSize: 64, lr: 0.05, seed: 3, backend: 'wasm', data });
    p0 = trainer.getParams();
    initial = await trainer.evaluate();
    losses = await trainer.train(300); // ~9.4 epochs of 32 steps
  });

  afterAll(async () => {
    await trainer?.close();
  });

  it('reports its configuration', () => {
    expect(trainer.workers).toBe(2);
    expect(trainer.backend).toBe('wasm');
    expect(trainer.stepsPerEpoch).toBe(32);
    expect(trainer.stepsDone).toBe(300);
    expect(trainer.epochsDone).toBe(9);
    // The tutorial MLP's flat layout: its tf.Sequential's trainable weights (src/model/tutorial-mlp.ts).
    expect(trainer.getWeights().map((v) => [v.name, v.shape])).toEqual([
      ['fc1/kernel', [784, 128]],
      ['fc1/bias', [128]],
      ['fc2/kernel', [128, 64]],
      ['fc2/bias', [64]],
      ['fc3/kernel', [64, 10]],
      ['fc3/bias', [10]],
    ]);
  });

  it('brings the loss down and the accuracy well above chance', async () => {
    expect(losses).toHaveLength(300);
    expect(losses.every(Number.isFinite)).toBe(true);
    const start = mean(losses, 0, 10);
    const end = mean(losses, 270, 300);
    const after = await trainer.evaluate();
    const train = await trainer.evaluate('train');
    console.log(
      `loss ${start.toFixed(3)} -> ${end.toFixed(3)}; test accuracy ${initial.accuracy} -> ${after.accuracy} ` +
        `(loss ${initial.loss.toFixed(3)} -> ${after.loss.toFixed(3)}); train accuracy ${train.accuracy}`,
    );
    expect(start).toBeGreaterThan(2);
    expect(end).toBeLessThan(0.5 * start);
    expect(initial.accuracy).toBeLessThan(0.3);
    expect(after.count).toBe(1000);
    expect(train.count).toBe(2000);
    expect(after.accuracy).toBeGreaterThan(0.6);
    expect(train.accuracy).toBeGreaterThan(0.6);
    expect(after.loss).toBeLessThan(0.5 * initial.loss);
  });

  it('predict(): rows are probabilities and agree with evaluate()', async () => {
    const n = data.test.count;
    const probs = await trainer.predict(data.test.images.slice(), n);
    expect(probs).toHaveLength(n * 10);
    let correct = 0;
    let nll = 0;
    for (let j = 0; j < n; j++) {
      const row = probs.subarray(j * 10, j * 10 + 10);
      const sum = row.reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      expect(row.every((p) => p >= 0 && p <= 1)).toBe(true);
      let best = 0;
      for (let k = 1; k < 10; k++) if (row[k] > row[best]) best = k;
      if (best === data.test.labels[j]) correct++;
      nll -= Math.log(row[data.test.labels[j]]);
    }
    const ev = await trainer.evaluate();
    expect(ev.accuracy).toBeCloseTo(correct / n, 6); // tfjs's accuracy: a float32 mean
    expect(Math.abs(nll / n - ev.loss)).toBeLessThan(1e-3);
    // One image alone gives the same row as within the batch.
    const one = await trainer.predict(data.test.images.slice(F * 7, F * 8), 1);
    expect(maxAbsDiff(one, probs.subarray(70, 80))).toBeLessThan(1e-6);
  });

  it('predict() with bad input rejects with OptionError, and the trainer stays usable', async () => {
    const msg = (got: number, count: number): string =>
      `predict needs count >= 1 inputs of ${F} values each: got ${got} values for count ${count}`;
    for (const [images, count] of [
      [new Float32Array(F - 1), 1],
      [new Float32Array(2 * F), 1],
      [new Float32Array(0), 0],
      [new Float32Array(F), 1.5],
    ] as const) {
      const err = await rejection(trainer.predict(images, count));
      expect(err).toBeInstanceOf(OptionError);
      expect((err as Error).message).toBe(msg(images.length, count));
    }
    expect(await trainer.predict(new Float32Array(F), 1)).toHaveLength(10);
  });

  it('setParams() restores a state exactly; a wrong length is an OptionError', async () => {
    const trained = trainer.getParams();
    trainer.setParams(p0);
    expect(await trainer.evaluate()).toEqual(initial);
    trainer.setParams(trained);
    expect(trainer.getParams()).toEqual(trained);
    expect(() => trainer.setParams(new Float32Array(5))).toThrow(OptionError);
    expect(() => trainer.setParams(new Float32Array(5))).toThrow(`setParams needs ${p0.length} values, got 5`);
  });

  it('fit() trains the remaining epochs, yielding each, with and without hooks', async () => {
    const small = await Trainer.create({
      workers: 2,
      epochs: 2,
      batchSize: 64,
      lr: 0.05,
      backend: 'wasm',
      data: subset(320, 100),
    });
    try {
      const epochs = [];
      for await (const e of small.fit()) epochs.push(e);
      expect(epochs.map((e) => [e.epoch, e.samples, e.test.count])).toEqual([
        [1, 320, 100],
        [2, 320, 100],
      ]);
      expect(small.stepsDone).toBe(10);
      // With hooks: chunks of 2 steps, each reported.
      const again = await Trainer.create({
        workers: 2,
        epochs: 1,
        batchSize: 64,
        lr: 0.05,
        backend: 'wasm',
        data: subset(320, 100),
      });
      try {
        const chunks: number[] = [];
        const losses: number[] = [];
        for await (const e of again.fit({ chunkSteps: 2, onSteps: (l) => chunks.push(l.length) })) losses.push(e.loss);
        expect(chunks).toEqual([2, 2, 1]);
        expect(losses).toEqual([epochs[0].loss]); // the same steps, whatever the chunking
      } finally {
        await again.close();
      }
    } finally {
      await small.close();
    }
  });

  it('close() ends every worker thread; then every call rejects with "trainer is closed"', async () => {
    const during = osThreads();
    if (threadsBefore !== undefined && during !== undefined) expect(during).toBeGreaterThanOrEqual(threadsBefore + 2);
    await trainer.close();
    await trainer.close(); // idempotent
    await trainer[Symbol.asyncDispose]();
    if (threadsBefore !== undefined) expect(await threadsDownTo(threadsBefore)).toBeLessThanOrEqual(threadsBefore);
    for (const call of [
      () => trainer.train(1),
      () => trainer.evaluate(),
      () => trainer.predict(new Float32Array(F), 1),
    ]) {
      const err = await rejection(call());
      expect((err as Error).message).toBe('trainer is closed');
    }
  });
});

describe('failures surface as rejected promises', () => {
  it('a worker that throws in evaluate() leaves the pool and barrier whole: no step re-run after it, and a failing step still gets all 3 attempts', async () => {
    const full = mnist();
    const train = firstSamples(full.train, 200);
    // A 10x10 "test split": the model expects 784 pixels, so the workers' matMul throws.
    const images = new Float32Array(new SharedArrayBuffer(4 * 50 * 100));
    const labels = new Uint8Array(new SharedArrayBuffer(50));
    const data: Dataset = {
      dir: full.dir,
      train,
      test: { count: 50, features: 100, rows: 10, cols: 10, images, labels },
      numClasses: 10,
    };
    const base = { workers: 2, batchSize: 50, backend: 'wasm', data } as const;
    const before = osThreads();
    const warnings: string[] = [];
    // Step 4 fails twice: after a second failed evaluate(), it must still get its three attempts.
    const trainer = await Trainer.create({
      ...base,
      faults: [{ kind: 'throw', rank: 1, step: 4, times: 2 }],
      onWarning: (m) => warnings.push(m),
    });
    try {
      await trainer.train(2); // the training split is fine
      const err = await rejection(trainer.evaluate());
      expect(err).toBeInstanceOf(Error);
      console.log(`worker failure surfaced as: ${(err as Error).message}`);
      expect((err as Error).message).toMatch(
        /^worker [01]: the data has 100 values per sample, the model's input takes 784$/,
      );
      await trainer.train(1); // step 3 runs once: nothing is left of the failure to fail it
      expect(warnings).toEqual([]);
      expect(((await rejection(trainer.evaluate())) as Error).message).toMatch(/^worker [01]: /);
      await trainer.train(2);
      const rerun = (n: number): string =>
        `step 4 failed (worker 1: injected fault 'throw' at step 4); re-running it from the parameters before it (attempt ${n} of 3)`;
      expect(warnings).toEqual([rerun(2), rerun(3)]);
      expect(trainer.stepsDone).toBe(5);
      await using clean = await Trainer.create(base);
      await clean.train(5);
      expect(maxAbsDiff(trainer.getParams(), clean.getParams())).toBe(0);
    } finally {
      await trainer.close();
    }
    if (before !== undefined) expect(await threadsDownTo(before)).toBeLessThanOrEqual(before);
  });

  it('a step that fails on every attempt (injected fault) rejects train() with StepFailedError; params stay before it', async () => {
    const data = subset(200, 10);
    const warnings: string[] = [];
    const base = { workers: 2, batchSize: 50, lr: 0.05, backend: 'wasm', data } as const;
    const trainer = await Trainer.create({
      ...base,
      faults: [{ kind: 'throw', rank: 1, step: 3, times: 99 }],
      onWarning: (m: string) => warnings.push(m),
    } as never);
    try {
      const err = await rejection(trainer.train(5));
      expect((err as Error).name).toBe('StepFailedError');
      expect((err as Error).message).toMatch(/^step 3 failed 3 times, giving up; last failure: /);
      expect(trainer.stepsDone).toBe(2);
      expect(warnings).toHaveLength(2); // two re-runs announced
      const clean = await Trainer.create(base);
      try {
        await clean.train(2);
        expect(maxAbsDiff(trainer.getParams(), clean.getParams())).toBe(0);
      } finally {
        await clean.close();
      }
      expect(((await rejection(trainer.train(1))) as Error).message).toMatch(
        /^trainer stopped after a failure: step 3 failed 3 times/,
      );
    } finally {
      await trainer.close();
    }
  });

  it('a step that fails once (injected fault) is re-run: the same params as a clean run', async () => {
    const data = subset(200, 10);
    const base = { workers: 2, batchSize: 50, lr: 0.05, backend: 'wasm', data } as const;
    const warnings: string[] = [];
    const faulty = await Trainer.create({
      ...base,
      faults: [{ kind: 'throw', rank: 0, step: 2 }],
      onWarning: (m: string) => warnings.push(m),
    } as never);
    const clean = await Trainer.create(base);
    try {
      const a = await faulty.train(6);
      const b = await clean.train(6);
      expect(warnings).toHaveLength(1);
      expect(maxAbsDiff(a, b)).toBe(0);
      expect(maxAbsDiff(faulty.getParams(), clean.getParams())).toBe(0);
    } finally {
      await faulty.close();
      await clean.close();
    }
  });

  it("an unavailable backend ('tensorflow' without tfjs-node) rejects create() and leaves no thread", async (ctx) => {
    let installed = false;
    try {
      const name = '@tensorflow/tfjs-node';
      await import(name);
      installed = true;
    } catch {
      // expected: not installed
    }
    if (installed) ctx.skip(); // tfjs-node works here: nothing to fail
    const before = osThreads();
    const err = await rejection(Trainer.create({ workers: 2, backend: 'tensorflow', data: subset(100, 10) }));
    expect((err as Error).message).toMatch(
      /^worker [01]: backend tensorflow: @tensorflow\/tfjs-node is not installed or failed to load: Cannot find package '@tensorflow\/tfjs-node' imported from .*backend\.js$/,
    );
    if (before !== undefined) expect(await threadsDownTo(before)).toBeLessThanOrEqual(before);
  });
});
