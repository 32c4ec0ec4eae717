import type { Kernels } from '../simd/kernels.js';
import type { OptimizerSpec } from './spec.js';
import type { Update } from './update.js';

type Adam = Extract<OptimizerSpec, { kind: 'adam' }>;

/**
 * Adam's bias-correction powers at one update: beta1^t and beta2^t as tfjs keeps
 * them (its accBeta1, accBeta2), float32. 0 for the other optimizers.
 */
export interface BetaPowers {
  readonly beta1: number;
  readonly beta2: number;
}

/**
 * Adam, tfjs's AdamOptimizer (tf.train.adam), on one slice of the flat parameter
 * vector, at update t (1-based: the global step + 1), whose powers beta^t are
 * `powers`. State: the moments m and v, two P-long vectors starting at 0.
 *   m' = beta1*m + (1-beta1)*g
 *   v' = beta2*v + (1-beta2)*g*g
 *   p' = p - lr * (m' / (1-beta1^t)) / (sqrt(v' / (1-beta2^t)) + epsilon)
 * epsilon outside the square root, the bias corrections applied to m' and v'
 * separately: tfjs's formulation, not the paper's folded step size. 1 - beta is
 * taken in float64 before rounding to float32, as tfjs does; beta^t as tfjs has
 * it, see betaPowers() and nextPowers(). Out of place, state included (Note [double-buffered params]).
 */
export function adamStep(
  k: Kernels,
  spec: Adam,
  powers: BetaPowers,
  { params, grad, next, state, stateNext, slice }: Update,
): number {
  const P = params.length;
  return k.adam(
    params,
    grad,
    next,
    state.subarray(0, P),
    state.subarray(P, 2 * P),
    stateNext.subarray(0, P),
    stateNext.subarray(P, 2 * P),
    slice.lo,
    slice.hi,
    {
      lr: spec.lr,
      beta1: spec.beta1,
      oneMinusBeta1: 1 - spec.beta1,
      beta2: spec.beta2,
      oneMinusBeta2: 1 - spec.beta2,
      biasCorrection1: Math.fround(1 - powers.beta1),
      biasCorrection2: Math.fround(1 - powers.beta2),
      epsilon: spec.epsilon,
    },
  );
}

/** The powers at update t (1-based) of an optimizer whose betas never changed: see float32Power(). */
export function betaPowers(spec: OptimizerSpec, t: number): BetaPowers {
  return spec.kind === 'adam'
    ? { beta1: float32Power(spec.beta1, t), beta2: float32Power(spec.beta2, t) }
    : { beta1: 0, beta2: 0 };
}

/**
 * The powers at update t + 1 from those at update t, with the betas update t ran
 * with. Note [changing betas]: tfjs's Adam multiplies accBeta by the beta of the
 * moment after each update (accBeta starts at the constructor's beta), so when a
 * callback changes beta1 the powers are products of the betas each update saw,
 * not the new beta^t. With betas that never change this is float32Power()'s product.
 * test/fit-contract.test.ts changes beta1 mid-run against tfjs's model.fit.
 */
export function nextPowers(spec: OptimizerSpec, p: BetaPowers): BetaPowers {
  if (spec.kind !== 'adam') return p;
  return {
    beta1: Math.fround(p.beta1 * Math.fround(spec.beta1)),
    beta2: Math.fround(p.beta2 * Math.fround(spec.beta2)),
  };
}

/**
 * beta^t the way tfjs's Adam has it at update t.
 *
 * Note [float32 beta powers]: AdamOptimizer keeps accBeta = beta in a float32
 * variable and multiplies it by beta after each update, so update t sees
 * fl(...fl(fl(beta)*fl(beta))...*fl(beta)): powers of fl(beta), rounded t-1
 * times, not beta^t rounded once. They differ from t = 2 on (fl(0.9) is not
 * 0.9), by 1.3e-5 relative at t = 1000 for beta 0.999. We replay the same
 * product, which is what makes our Adam tfjs's to the bit, and what a resumed
 * run recomputes exactly from the step number alone. (tfjs's own setWeights()
 * restores accBeta with pow() instead, so a restored tfjs optimizer is the one
 * that departs.) The replay is O(t); a cursor per beta makes consecutive steps
 * O(1), and re-running a step or resuming costs one replay.
 */
export function float32Power(beta: number, t: number): number {
  let c = cursors.get(beta);
  if (c === undefined || c.t > t) {
    c = { t: 1, value: Math.fround(beta) };
    cursors.set(beta, c);
  }
  for (; c.t < t; c.t++) c.value = Math.fround(c.value * Math.fround(beta));
  return c.value;
}

/** Per thread, per beta: the last power replayed. */
const cursors = new Map<number, { t: number; value: number }>();
