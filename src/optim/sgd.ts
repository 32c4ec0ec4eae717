import type { Kernels } from '../kernels/kernels.js';

/**
 * Plain SGD on one slice of the flat parameter vector: next[i] = p[i] - lr * g[i].
 * Each rank steps the slice it reduced, so the update is as parallel as the
 * reduce-scatter and every element is written by one thread only. Out of place:
 * see Note [double-buffered params] in kernels/arena.ts.
 */
export function sgdStep(
  k: Kernels,
  params: Float32Array,
  grad: Float32Array,
  next: Float32Array,
  slice: { lo: number; hi: number },
  lr: number,
): void {
  k.sgd(params, grad, next, slice.lo, slice.hi, lr);
}
