import { KERNELS_WASM_BASE64 } from './kernels-wasm.js';

/**
 * The vector kernels of kernels.wat, bound to one shared memory. Arguments are
 * Float32Array views into that memory (their byteOffset is the wasm pointer)
 * and element indices.
 */
export interface Kernels {
  /**
   * out[i] = scale * sum over r < parties of rows[r * length + i], for i in [lo, hi).
   * Returns the sum of those outputs: not finite iff some output is not (or they overflow).
   */
  reduce(rows: Float32Array, parties: number, length: number, lo: number, hi: number, scale: number, out: Float32Array): number;
  /** next[i] = params[i] - lr * grad[i], for i in [lo, hi). */
  sgd(params: Float32Array, grad: Float32Array, next: Float32Array, lo: number, hi: number, lr: number): void;
}

interface Exports {
  reduce(rows: number, parties: number, length: number, lo: number, hi: number, scale: number, out: number): number;
  sgd(params: number, grad: number, next: number, lo: number, hi: number, lr: number): void;
}

let compiled: WebAssembly.Module | undefined;

export function kernelsFor(memory: WebAssembly.Memory): Kernels {
  compiled ??= new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
  const e = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as Exports;
  const ptr = (a: Float32Array): number => {
    if (a.buffer !== memory.buffer) throw new Error('kernel argument is not a view of the kernels memory');
    return a.byteOffset;
  };
  return {
    reduce: (rows, parties, length, lo, hi, scale, out) => e.reduce(ptr(rows), parties, length, lo, hi, scale, ptr(out)),
    sgd: (params, grad, next, lo, hi, lr) => e.sgd(ptr(params), ptr(grad), ptr(next), lo, hi, lr),
  };
}
