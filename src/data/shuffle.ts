import { Rng, deriveSeed } from '../rng.js';

/**
 * The sample order of one epoch: a Fisher-Yates permutation of [0, n) seeded by
 * (seed, epoch). It depends on nothing else, in particular not on the worker
 * count, which is what makes N workers train the same model as 1.
 */
export function epochPermutation(
  n: number,
  seed: number,
  epoch: number,
  out: Int32Array = new Int32Array(n),
): Int32Array {
  const rng = new Rng(deriveSeed(seed, epoch));
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/** Steps in an epoch of n samples at batch size b; the last batch may be short (60000 / 64: 937 full + one of 32). */
export function stepsPerEpoch(n: number, batchSize: number): number {
  return Math.ceil(n / batchSize);
}
