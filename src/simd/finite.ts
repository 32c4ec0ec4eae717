import { kernelsFor, type Kernels } from './kernels.js';

/**
 * Where an array first holds NaN or ±Infinity: the check every input and target
 * passes before training (fit/data.ts), in memory and batch by batch of a stream.
 *
 * Note [finite check in wasm]: decision: the values are checked by the wasm
 * kernel firstNonFinite (kernels.wat, 8 lanes a turn), in CHUNK-float pieces
 * copied into a small memory of its own. On a stream the check runs on the
 * coordinator's thread for every batch, time it takes from the workers when
 * each has a core: the copy and the kernel cost a fraction of the plain loop
 * over a float32 batch. Invariant: the same index as the plain loop
 * (test/finite.test.ts). Re-measure: `node dist/bench/dataset.js --only
 * overhead` (the main thread's busy time per batch).
 */
const CHUNK = 1 << 16;

let scratch: { view: Float32Array; kernels: Kernels } | undefined;

/** The index of the first NaN or ±Infinity in `values`, or values.length where there is none. */
export function firstNonFinite(values: Float32Array): number {
  if (scratch === undefined) {
    const memory = new WebAssembly.Memory({ initial: (4 * CHUNK) >> 16, maximum: (4 * CHUNK) >> 16, shared: true });
    scratch = { view: new Float32Array(memory.buffer, 0, CHUNK), kernels: kernelsFor(memory) };
  }
  const { view, kernels } = scratch;
  for (let lo = 0; lo < values.length; lo += CHUNK) {
    const n = Math.min(CHUNK, values.length - lo);
    view.set(values.subarray(lo, lo + n));
    const at = kernels.firstNonFinite(view, 0, n);
    if (at < n) return lo + at;
  }
  return values.length;
}
