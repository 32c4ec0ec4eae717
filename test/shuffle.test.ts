// The shuffle contract (src/data/shuffle.ts): each epoch's sample order is a
// true, uniform permutation that changes with the epoch and the seed and with
// nothing else. The equivalence tests build their reference batches with the
// same function, so they cannot see a broken shuffle; these tests can, and the
// last one reads the order the trainer really uses off its batch losses.
import { describe, expect, it } from 'vitest';
import { epochPermutation } from '../dist/src/data/shuffle.js';
import { Trainer } from '../dist/src/index.js';
import { subset } from './helpers.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const sorted = (p: Int32Array): number[] => Array.from(p).sort((a, b) => a - b);
const same = (a: Int32Array, b: Int32Array): boolean => a.every((v, i) => v === b[i]);

describe('epochPermutation', () => {
  it('is a permutation of [0, n), written into `out` whatever it held', () => {
    for (const n of [1, 2, 3, 64, 1000, 60000]) {
      expect(sorted(epochPermutation(n, 3, 0)), `n = ${n}`).toEqual(range(n));
      const out = new Int32Array(n).fill(-7);
      expect(epochPermutation(n, 3, 5, out)).toBe(out);
      expect(sorted(out), `n = ${n}, into out`).toEqual(range(n));
      expect(Array.from(out)).toEqual(Array.from(epochPermutation(n, 3, 5)));
    }
  });

  it('differs between epochs, and no epoch keeps more than a few samples in place', () => {
    const perms = range(10).map((e) => epochPermutation(1000, 3, e));
    for (let a = 0; a < perms.length; a++) {
      for (let b = a + 1; b < perms.length; b++) expect(same(perms[a], perms[b]), `epochs ${a} and ${b}`).toBe(false);
      // A uniform permutation has 1 fixed point on average; P(>= 8) < 1e-4.
      expect(perms[a].filter((v, i) => v === i).length, `epoch ${a}`).toBeLessThan(8);
    }
  });

  it('differs between seeds', () => {
    const seeds = [0, 1, 2, 3, 4294967295];
    const perms = seeds.map((s) => epochPermutation(1000, s, 0));
    for (let a = 0; a < perms.length; a++) {
      for (let b = a + 1; b < perms.length; b++)
        expect(same(perms[a], perms[b]), `seeds ${seeds[a]} and ${seeds[b]}`).toBe(false);
    }
  });

  it('is uniform: over 24000 seeds, each of the 24 orders of 4 samples comes up 1000 ± 150 times', () => {
    // A biased shuffle, e.g. one swapping with any position instead of one up to i, fails this.
    const counts = new Map<string, number>();
    for (let s = 0; s < 24000; s++) {
      const k = Array.from(epochPermutation(4, s, 0)).join('');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(counts.size).toBe(24);
    for (const [order, c] of counts) {
      expect(c, `order ${order}`).toBeGreaterThanOrEqual(850);
      expect(c, `order ${order}`).toBeLessThanOrEqual(1150);
    }
  });

  it('is pinned: a checkpoint stores only the step, so a changed shuffle would resume old runs on other batches', () => {
    expect(Array.from(epochPermutation(10, 3, 0))).toEqual([5, 6, 9, 0, 7, 2, 4, 8, 3, 1]);
    expect(Array.from(epochPermutation(10, 3, 1))).toEqual([8, 0, 2, 5, 3, 9, 1, 6, 4, 7]);
  });
});

describe('the trainer trains batch b of epoch e on samples perm_e[bB, (b+1)B), for any worker count', () => {
  // With lr 1e-30 the parameters stay put (to far below float32 resolution), so each step's
  // loss is the mean of its samples' NLLs at the initial parameters, which predict() gives
  // one sample at a time: the losses spell out the order the trainer really used.
  const N = 48;
  const B = 3;
  const TOL = 1e-6;

  it.each([1, 2, 3])('%i workers', async (workers) => {
    const data = subset(N, 10);
    await using t = await Trainer.create({ workers, batchSize: B, lr: 1e-30, seed: 3, backend: 'wasm', data });
    const probs = await t.predict(data.train.images.slice(), N);
    const nll = range(N).map((i) => -Math.log(probs[i * 10 + data.train.labels[i]]));
    const losses = await t.train(2 * (N / B)); // two epochs
    const meanNll = (order: ArrayLike<number>, b: number): number =>
      (nll[order[b * B]] + nll[order[b * B + 1]] + nll[order[b * B + 2]]) / B;
    let worst = 0;
    let identity = 0;
    for (let g = 0; g < losses.length; g++) {
      const e = Math.floor(g / (N / B));
      const b = g % (N / B);
      worst = Math.max(worst, Math.abs(losses[g] - meanNll(epochPermutation(N, 3, e), b)));
      identity = Math.max(identity, Math.abs(losses[g] - meanNll(range(N), b)));
    }
    console.log(
      `${workers} workers: |batch loss - mean NLL of perm_e's batch| <= ${worst.toExponential(2)}; against unshuffled batches up to ${identity.toFixed(3)}`,
    );
    expect(worst).toBeLessThanOrEqual(TOL);
    expect(identity).toBeGreaterThan(100 * TOL); // the check can tell orders apart
  });
});
