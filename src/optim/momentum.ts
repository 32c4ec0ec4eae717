import type { Kernels } from '../simd/kernels.js';
import type { OptimizerSpec } from './spec.js';
import type { Update } from './update.js';

type Momentum = Extract<OptimizerSpec, { kind: 'momentum' }>;

/**
 * Momentum SGD, tfjs's MomentumOptimizer (tf.train.momentum), on one slice of
 * the flat parameter vector. State: the accumulation a, one P-long vector.
 *   a' = momentum*a + g
 *   p' = p - lr*a'                          (nesterov: p' = p - lr*(g + momentum*a'))
 * The accumulation starts at 0, so the first step is plain SGD (PyTorch's SGD
 * with momentum matches this with dampening 0). Out of place, state included:
 * reads p and a, writes next and aNext (Note [double-buffered params] in simd/arena.ts).
 */
export function momentumStep(
  k: Kernels,
  spec: Momentum,
  { params, grad, next, state, stateNext, slice }: Update,
): number {
  return k.momentum(params, grad, next, state, stateNext, slice.lo, slice.hi, spec.lr, spec.momentum, spec.nesterov);
}
