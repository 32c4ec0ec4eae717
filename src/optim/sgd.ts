import type { Kernels } from '../simd/kernels.js';

/**
 * Plain SGD, tfjs's SGDOptimizer (tf.train.sgd), on one slice of the flat
 * parameter vector; no state:
 *   p' = p - lr*g                 (tfjs: add(mul(-lr, gradient), value), the same to the bit)
 * Each rank steps the slice it reduced, so the update is as parallel as the
 * reduce-scatter and every element is written by one thread only. Out of place:
 * see Note [double-buffered params] in simd/arena.ts.
 */
export function sgdStep(
  k: Kernels,
  params: Float32Array,
  grad: Float32Array,
  next: Float32Array,
  slice: { lo: number; hi: number },
  lr: number,
): number {
  return k.sgd(params, grad, next, slice.lo, slice.hi, lr);
}
