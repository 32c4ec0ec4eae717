import type { Kernels } from '../kernels/kernels.js';

/**
 * Plain SGD on one slice of the flat parameter vector: p[i] -= lr * g[i].
 * Each rank steps the slice it reduced, so the update is as parallel as the
 * reduce-scatter and every element is written by one thread only.
 */
export function sgdStep(k: Kernels, params: Float32Array, grad: Float32Array, slice: { lo: number; hi: number }, lr: number): void {
  k.sgd(params, grad, slice.lo, slice.hi, lr);
}
