import type { Kernels } from '../simd/kernels.js';
import type { OptimizerSpec } from './spec.js';
import type { Update } from './update.js';

type Rmsprop = Extract<OptimizerSpec, { kind: 'rmsprop' }>;

/**
 * RMSProp, tfjs's RMSPropOptimizer (tf.train.rmsprop), on one slice of the flat
 * parameter vector. State, in tfjs's order: the mean square s, the moment o and,
 * when centered, the mean gradient a; P-long vectors, all starting at 0.
 *   s' = decay*s + (1-decay)*g*g
 *   a' = decay*a + (1-decay)*g                       (centered only)
 *   o' = momentum*o + lr*g / sqrt(s' + epsilon)      (centered: sqrt(s' - (a'*a' + epsilon)))
 *   p' = p - o'
 * tfjs keeps and updates o even with momentum 0 (o' is then the step itself), so we do too.
 * 1 - decay is taken in float64 before rounding to float32, as tfjs does.
 * Out of place, state included (Note [double-buffered params] in simd/arena.ts).
 *
 * Note [tfjs centered RMSProp]: tfjs 4.22 takes sqrt(s' - (a'*a' + epsilon)),
 * epsilon subtracted, where TensorFlow and Keras take sqrt(s' - a'*a' + epsilon).
 * So wherever the variance estimate s' - a'*a' is below epsilon the update is
 * NaN, in tfjs as here: always, from the first step, at a weight whose gradient
 * is exactly 0, like those of MNIST's blank border pixels. We keep tfjs's rule
 * (the spec says tfjs's optimizer, and a fix would change what a compiled tfjs
 * model does); the update's finiteness probe stops the run at that step, with a
 * NonFiniteError that says why, before a NaN parameter is kept.
 */
export function rmspropStep(
  k: Kernels,
  spec: Rmsprop,
  { params, grad, next, state, stateNext, slice }: Update,
): number {
  const P = params.length;
  const vec = (s: Float32Array, j: number): Float32Array => s.subarray(j * P, (j + 1) * P);
  return k.rmsprop(
    params,
    grad,
    next,
    vec(state, 0),
    vec(state, 1),
    spec.centered ? vec(state, 2) : undefined,
    vec(stateNext, 0),
    vec(stateNext, 1),
    spec.centered ? vec(stateNext, 2) : undefined,
    slice.lo,
    slice.hi,
    { lr: spec.lr, decay: spec.decay, oneMinusDecay: 1 - spec.decay, momentum: spec.momentum, epsilon: spec.epsilon },
  );
}
