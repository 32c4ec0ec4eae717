/**
 * The shared memory a training step works in: one shared WebAssembly.Memory
 * holding, 16-byte aligned,
 *   params   (P)          the parameters
 *   grads    (parties, P) one gradient row per worker
 *   reduced  (P)          the all-reduced mean gradient
 * One Memory rather than three SharedArrayBuffers so the wasm kernels
 * (kernels.ts) can address all of it. Its buffer is a SharedArrayBuffer:
 * posting the Memory to a worker shares it, and every thread builds the same
 * views with arenaViews().
 */
export interface Arena {
  readonly memory: WebAssembly.Memory;
  readonly params: Float32Array;
  readonly grads: Float32Array;
  readonly reduced: Float32Array;
}

const PAGE = 65536;
const align16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

function offsets(P: number, parties: number): { grads: number; reduced: number; end: number } {
  const grads = align16(4 * P);
  const reduced = grads + align16(4 * P * parties);
  return { grads, reduced, end: reduced + align16(4 * P) };
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
    params: new Float32Array(buf, 0, P),
    grads: new Float32Array(buf, o.grads, P * parties),
    reduced: new Float32Array(buf, o.reduced, P),
  };
}
