/**
 * The shared memory a training step works in: one shared WebAssembly.Memory
 * holding, 16-byte aligned,
 *   params[0], params[1]  (P each)       the parameters, double-buffered
 *   grads                 (parties, P)   one gradient row per worker
 *   reduced               (P)            the all-reduced mean gradient
 *   state[0], state[1]    (S * P each)   the optimizer's S state vectors, double-buffered
 * One Memory rather than several SharedArrayBuffers so the wasm kernels
 * (kernels.ts) can address all of it. Its buffer is a SharedArrayBuffer:
 * posting the Memory to a worker shares it, and every thread builds the same
 * views with arenaViews().
 *
 * Note [double-buffered params]: global step g reads params[g % 2] and writes
 * params[(g + 1) % 2]. No step ever overwrites its own input, so when any
 * worker fails in step g, params[g % 2] still holds the parameters before it
 * and the step can be re-run from them, at no cost to a healthy step. The
 * optimizer state is double-buffered the same way, for the same reason: step g
 * reads state[g % 2] and writes state[(g + 1) % 2]. Checked by
 * `npx vitest run test/faults.test.ts` (a re-run step ends bit for bit equal).
 *
 * Note [sharded optimizer state]: the state is sharded like the reduce-scatter
 * (ZeRO stage 1). State vector j (Adam's m, v, ...) is [j*P, (j+1)*P) of a state
 * buffer, and rank r reads and writes only [lo, hi) = partition(P, parties, r)
 * of each vector: the moments of the slice it reduces and steps, no others.
 * What is sharded is the ownership, not the address space: all slices live in
 * this one shared region, end to end, as ZeRO-1 would lay them out in one
 * process. That is what makes the rest free: a checkpoint gathers the state by
 * reading the buffer, and resuming with another worker count re-shards it by
 * merely cutting other slices. The state costs 2*S*P floats in all, not per worker.
 * Checked by `npx vitest run test/checkpoint.test.ts` (resumed with other worker counts).
 */
export interface Arena {
  readonly memory: WebAssembly.Memory;
  readonly params: readonly [Float32Array, Float32Array];
  readonly grads: Float32Array;
  readonly reduced: Float32Array;
  /** (S * P) each; empty when the optimizer keeps no state (S = 0). */
  readonly state: readonly [Float32Array, Float32Array];
}

const PAGE = 65536;
const align16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

function offsets(P: number, parties: number, S: number) {
  const params1 = align16(4 * P);
  const grads = params1 + align16(4 * P);
  const reduced = grads + align16(4 * P * parties);
  const state0 = reduced + align16(4 * P);
  const state1 = state0 + align16(4 * S * P);
  return { params1, grads, reduced, state0, state1, end: state1 + align16(4 * S * P) };
}

/** `stateVectors`: S, how many P-long vectors the optimizer keeps (optim/spec.ts stateVectors()). */
export function allocateArena(P: number, parties: number, stateVectors = 0): Arena {
  const pages = Math.ceil(offsets(P, parties, stateVectors).end / PAGE);
  if (pages > 65536) {
    throw new RangeError(
      `${P} parameters x ${parties} workers (optimizer state: ${stateVectors} vectors) do not fit in 4 GiB of shared memory`,
    );
  }
  return arenaViews(new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }), P, parties, stateVectors);
}

export function arenaViews(memory: WebAssembly.Memory, P: number, parties: number, stateVectors = 0): Arena {
  const o = offsets(P, parties, stateVectors);
  const buf = memory.buffer;
  return {
    memory,
    params: [new Float32Array(buf, 0, P), new Float32Array(buf, o.params1, P)],
    grads: new Float32Array(buf, o.grads, P * parties),
    reduced: new Float32Array(buf, o.reduced, P),
    state: [new Float32Array(buf, o.state0, stateVectors * P), new Float32Array(buf, o.state1, stateVectors * P)],
  };
}

/** The parameters before global step `step` (equivalently: after `step` steps). */
export function paramsAt(arena: Arena, step: number): Float32Array {
  return arena.params[step % 2];
}

/** The optimizer state before global step `step`: vector j at [j*P, (j+1)*P). */
export function stateAt(arena: Arena, step: number): Float32Array {
  return arena.state[step % 2];
}
