import type { Range } from '../partition.js';

/**
 * The buffers of one optimizer update of one slice (optim/step.ts): it reads
 * params, grad and state, and writes next and stateNext, [lo, hi) of each vector
 * only. State vectors lie end to end, P floats each (Note [sharded optimizer state]).
 */
export interface Update {
  readonly params: Float32Array;
  readonly grad: Float32Array;
  readonly next: Float32Array;
  readonly state: Float32Array;
  readonly stateNext: Float32Array;
  readonly slice: Range;
}
