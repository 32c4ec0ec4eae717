// More workers than threads (Note [workers on fewer threads] in src/trainer/lanes.ts):
// N workers folded onto T threads give N threads' results bit for bit: parameters,
// optimizer state, per-step losses, the evaluation, which slice each worker updated,
// and which workers a failure names.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../dist/src/data/dataset.js';
import { ranksOf } from '../dist/src/trainer/lanes.js';
import { OptionError, Trainer, fitParallel, type TrainerOptions } from '../dist/src/index.js';
import { rejection, subset } from './helpers.js';

interface Run {
  readonly params: Float32Array;
  readonly state: Float32Array;
  readonly losses: Float64Array;
  readonly test: { loss: number; accuracy: number };
  readonly slices: string;
  readonly threads: number;
}

let data: Dataset;
beforeAll(() => {
  data = subset(700, 300);
});

/** 11 steps (a short last batch of 60 at batch 64 included), then an evaluation. */
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
    slices: JSON.stringify(t.updatedSlices()),
    threads: t.threads,
  };
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>): boolean =>
  a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => Object.is(v, b[i]));

describe('workers folded onto fewer threads', () => {
  it('ranksOf deals the workers out round-robin', () => {
    expect(ranksOf(0, 2, 5)).toEqual([0, 2, 4]);
    expect(ranksOf(1, 2, 5)).toEqual([1, 3]);
    expect(ranksOf(2, 3, 3)).toEqual([2]);
  });

  for (const [workers, threads] of [
    [3, 1],
    [5, 2],
  ] as const) {
    it(`${workers} workers on ${threads} thread(s) equal ${workers} workers on ${workers} threads bit for bit`, async () => {
      const folded = await run({ workers, threads });
      const full = await run({ workers, threads: workers });
      expect(folded.threads).toBe(threads);
      expect(full.threads).toBe(workers);
      expect(same(folded.params, full.params)).toBe(true);
      expect(same(folded.state, full.state)).toBe(true);
      expect(same(folded.losses, full.losses)).toBe(true);
      expect(folded.test).toEqual(full.test);
      expect(folded.slices).toBe(full.slices);
    });
  }

  it('the default is min(workers, cores), with one warning naming the fold', async () => {
    const warnings: string[] = [];
    await using t = await Trainer.create({
      workers: 64,
      batchSize: 64,
      backend: 'wasm',
      data,
      onWarning: (m) => warnings.push(m),
    });
    const cores = (await import('node:os')).availableParallelism();
    expect(t.threads).toBe(Math.min(64, cores));
    expect(warnings).toEqual(
      cores < 64
        ? [`64 workers on ${cores} cores: ${t.threads} threads compute them in turn (the same result as 64 threads)`]
        : [],
    );
  });

  it('a failure names the workers of the thread it happened in', async () => {
    const warnings: string[] = [];
    await using t = await Trainer.create({
      workers: 3,
      threads: 2,
      batchSize: 64,
      backend: 'wasm',
      data,
      onWarning: (m) => warnings.push(m),
      faults: [{ kind: 'throw', rank: 2, step: 2 }],
    });
    await t.train(3);
    expect(warnings.filter((w) => w.startsWith('step'))).toEqual([
      "step 2 failed (worker 0, 2: injected fault 'throw' at step 2); re-running it from the parameters before it (attempt 2 of 3)",
    ]);
  });

  it('bad threads: one line', async () => {
    expect(await rejection(Trainer.create({ workers: 2, threads: 3, data }))).toEqual(
      new OptionError('threads must be an integer from 1 to 2, got 3'),
    );
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [784], units: 10 }), tf.layers.batchNormalization()],
    });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    // fitParallel folds where it can; a model with non-trainable weights keeps a thread per worker.
    const warnings: string[] = [];
    const x = tf.zeros([8, 784]);
    const y = tf.zeros([8, 10]);
    await fitParallel(model, x, y, { workers: 3, backend: 'wasm', onWarning: (m) => warnings.push(m) });
    expect(warnings.every((w) => !w.includes('compute them in turn'))).toBe(true);
  });
});

afterAll(() => tf.disposeVariables());
