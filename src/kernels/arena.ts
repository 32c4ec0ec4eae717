/**
 * The shared memory a training step works in: one shared WebAssembly.Memory
 * holding, 16-byte aligned,
 *   params[0], params[1]  (P each)   the parameters, double-buffered
 *   grads                 (parties, P) one gradient row per worker
 *   reduced               (P)          the all-reduced mean gradient
 * One Memory rather than several SharedArrayBuffers so the wasm kernels
 * (kernels.ts) can address all of it. Its buffer is a SharedArrayBuffer:
 * posting the Memory to a worker shares it, and every thread builds the same
 * views with arenaViews().
 *
 * Note [double-buffered params]: global step g reads params[g % 2] and writes
 * params[(g + 1) % 2]. No step ever overwrites its own input, so when any
 * worker fails in step g, params[g % 2] still holds the parameters before it
 * and the step can be re-run from them, at no cost to a healthy step.
 */
export interface Arena {
  readonly memory: WebAssembly.Memory;
  readonly params: readonly [Float32Array, Float32Array];
  readonly grads: Float32Array;
  readonly reduced: Float32Array;
}

const PAGE = 65536;
const align16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

function offsets(P: number, parties: number): { params1: number; grads: number; reduced: number; end: number } {
  const params1 = align16(4 * P);
  const grads = params1 + align16(4 * P);
  const reduced = grads + align16(4 * P * parties);
  return { params1, grads, reduced, end: reduced + align16(4 * P) };
}

export function allocateArena(P: number, parties: number): Arena {
  const pages = Math.ceil(offsets(P, parties).end / PAGE);
  if (pages > 65536) throw new RangeError(`${P} parameters x ${parties} workers do not fit in 4 GiB of shared memory`);
  return arenaViews(new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }), P, parties);
}

export function arenaViews(memory: WebAssembly.Memory, P: number, parties: number): Arena {
  const o = offsets(P, parties);
  const buf = memory.buffer;
  return {
    memory,
    params: [new Float32Array(buf, 0, P), new Float32Array(buf, o.params1, P)],
    grads: new Float32Array(buf, o.grads, P * parties),
    reduced: new Float32Array(buf, o.reduced, P),
  };
}

/** The parameters before global step `step` (equivalently: after `step` steps). */
export function paramsAt(arena: Arena, step: number): Float32Array {
  return arena.params[step % 2];
}
