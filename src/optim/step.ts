import type { Kernels } from '../simd/kernels.js';
import { adagradStep } from './adagrad.js';
import { adamStep, type BetaPowers } from './adam.js';
import { momentumStep } from './momentum.js';
import { rmspropStep } from './rmsprop.js';
import { sgdStep } from './sgd.js';
import type { OptimizerSpec } from './spec.js';
import type { Update } from './update.js';

/**
 * One optimizer update of one slice [lo, hi) of the flat parameter vector: the
 * slice a rank reduced (collective/allreduce.ts), with that slice of every state vector
 * (Note [sharded optimizer state] in simd/arena.ts). Reads params, grad and
 * state, writes next and stateNext, and of those only [lo, hi) of each vector.
 * Returns the float32 sum of next over the slice, a finiteness probe like the
 * reduce-scatter's: not finite iff an updated parameter is not.
 * `powers` are Adam's beta^t at this update t (the global step + 1), which its
 * bias correction needs (adam.ts betaPowers(), nextPowers()); they continue
 * across a resume because the step is global.
 */
export function optimizerStep(k: Kernels, spec: OptimizerSpec, powers: BetaPowers, u: Update): number {
  const { params, grad, next, slice } = u;
  switch (spec.kind) {
    case 'sgd':
      return sgdStep(k, params, grad, next, slice, spec.lr);
    case 'momentum':
      return momentumStep(k, spec, u);
    case 'adam':
      return adamStep(k, spec, powers, u);
    case 'rmsprop':
      return rmspropStep(k, spec, u);
    case 'adagrad':
      return adagradStep(k, spec, u);
  }
}
