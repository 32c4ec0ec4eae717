// More workers than threads (Note [workers on fewer threads] in src/trainer/lanes.ts):
// thread t computes the shards of a block of workers as one. N workers on T threads
// equal N workers on N threads up to float rounding (the batch-mean gradient however
// the batch is split), and T workers bit for bit where the blocks split the batch as
// T workers would. Failures name the workers of the thread.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import type { Dataset } from '../dist/src/data/dataset.js';
import { threadShard, workersOf } from '../dist/src/trainer/lanes.js';
import { partition } from '../dist/src/partition.js';
import { OptionError, Trainer, fitParallel, type TrainerOptions } from '../dist/src/index.js';
import { maxAbsDiff, rejection, subset } from './helpers.js';

interface Run {
  readonly params: Float32Array;
  readonly state: Float32Array;
  readonly losses: Float64Array;
  readonly test: { loss: number; accuracy: number };
  readonly threads: number;
}

let data: Dataset;
beforeAll(() => {
  data = subset(704, 300); // batch 64: 11 steps
});

async function run(options: TrainerOptions): Promise<Run> {
  await using t = await Trainer.create({
    backend: 'wasm',
    batchSize: 64,
    seed: 5,
    optimizer: 'adam',
    onWarning: () => {},
    data,
    ...options,
  });
  const losses = await t.train(11);
  const test = await t.evaluate();
  return {
    params: t.getParams(),
    state: t.getOptimizerState(),
    losses,
    test: { loss: test.loss, accuracy: test.accuracy },
    threads: t.threads,
  };
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>): boolean =>
  a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => Object.is(v, b[i]));

describe('workers on fewer threads', () => {
  it("a thread's shard is the union of its block of workers' shards", () => {
    expect([0, 1, 2].map((t) => workersOf(t, 3, 8))).toEqual([
      { lo: 0, hi: 2 },
      { lo: 2, hi: 5 },
      { lo: 5, hi: 8 },
    ]);
    for (const [len, N, T] of [
      [64, 8, 2],
      [37, 5, 3],
      [3, 8, 2],
      [60, 7, 7],
    ]) {
      const shards = Array.from({ length: T }, (_, t) => threadShard(len, N, T, t));
      expect(shards[0].lo).toBe(0);
      expect(shards[T - 1].hi).toBe(len);
      for (let t = 1; t < T; t++) expect(shards[t].lo).toBe(shards[t - 1].hi);
      if (N === T) expect(shards).toEqual(Array.from({ length: T }, (_, t) => partition(len, N, t)));
    }
  });

  it('8 workers on 2 threads equal 2 workers bit for bit (the blocks split 64 as 2 workers do), 8 threads within 1e-6', async () => {
    const folded = await run({ workers: 8, threads: 2 });
    const two = await run({ workers: 2 });
    const eight = await run({ workers: 8, threads: 8 });
    expect(folded.threads).toBe(2);
    expect(eight.threads).toBe(8);
    expect(same(folded.params, two.params)).toBe(true);
    expect(same(folded.state, two.state)).toBe(true);
    expect(same(folded.losses, two.losses)).toBe(true);
    expect(folded.test).toEqual(two.test);
    expect(maxAbsDiff(folded.params, eight.params)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(folded.losses, eight.losses)).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(folded.test.loss - eight.test.loss)).toBeLessThanOrEqual(1e-6);
  });

  it('5 workers on 3 threads (uneven blocks) equal 5 threads within 1e-6', async () => {
    const folded = await run({ workers: 5, threads: 3 });
    const five = await run({ workers: 5, threads: 5 });
    expect(maxAbsDiff(folded.params, five.params)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(folded.losses, five.losses)).toBeLessThanOrEqual(1e-6);
  });

  it('the default is min(workers, cores), with one warning', async () => {
    const warnings: string[] = [];
    await using t = await Trainer.create({
      workers: 64,
      batchSize: 64,
      backend: 'wasm',
      data,
      onWarning: (m) => warnings.push(m),
    });
    const cores = availableParallelism();
    expect(t.workers).toBe(64);
    expect(t.threads).toBe(Math.min(64, cores));
    expect(warnings).toEqual(
      cores < 64
        ? [`64 workers on ${cores} cores: ${t.threads} threads compute them, the same model up to float rounding`]
        : [],
    );
  });

  it('a failure names the workers of the thread it happened in', async () => {
    const warnings: string[] = [];
    await using t = await Trainer.create({
      workers: 5,
      threads: 2,
      batchSize: 64,
      backend: 'wasm',
      data,
      onWarning: (m) => warnings.push(m),
      faults: [{ kind: 'throw', rank: 3, step: 2 }],
    });
    await t.train(3);
    expect(warnings.filter((w) => w.startsWith('step'))).toEqual([
      "step 2 failed (worker 2-4: injected fault 'throw' at step 2); re-running it from the parameters before it (attempt 2 of 3)",
    ]);
  });

  it('threads: one line when out of range, or when a model keeps state per worker', async () => {
    expect(await rejection(Trainer.create({ workers: 2, threads: 3, data }))).toEqual(
      new OptionError('threads must be an integer from 1 to 2, got 3'),
    );
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [784], units: 10 }), tf.layers.batchNormalization()],
    });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const warnings: string[] = [];
    await fitParallel(model, tf.zeros([8, 784]), tf.zeros([8, 10]), {
      workers: 3,
      backend: 'wasm',
      onWarning: (m) => warnings.push(m),
    });
    const cores = availableParallelism();
    expect(warnings).toEqual(
      cores < 3
        ? [
            `3 workers on ${cores} cores for a model with non-trainable weights: threads will share cores and run slower`,
          ]
        : [],
    );
  });
});

afterAll(() => tf.disposeVariables());
