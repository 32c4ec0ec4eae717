import type { Kernels } from '../simd/kernels.js';
import type { OptimizerSpec } from './spec.js';
import type { Update } from './update.js';

type Adagrad = Extract<OptimizerSpec, { kind: 'adagrad' }>;

/**
 * Adagrad, tfjs's AdagradOptimizer (tf.train.adagrad), on one slice of the flat
 * parameter vector. State: the accumulator a of squared gradients, one P-long
 * vector, starting at initialAccumulator (optim/spec.ts initState()).
 *   a' = a + g*g
 *   p' = p - lr * g / sqrt(a' + epsilon)
 * epsilon is tfjs's backend epsilon (1e-7 in float32), which tfjs adds inside the
 * square root here, unlike Adam. Out of place, state included (Note [double-buffered params]).
 */
export function adagradStep(
  k: Kernels,
  spec: Adagrad,
  { params, grad, next, state, stateNext, slice }: Update,
): number {
  return k.adagrad(params, grad, next, state, stateNext, slice.lo, slice.hi, spec.lr, spec.epsilon);
}
