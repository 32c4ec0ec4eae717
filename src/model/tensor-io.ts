import * as tf from '@tensorflow/tfjs';
import { wasmHeapIo } from './wasm-heap.js';

/**
 * How a replica moves float32 data into and out of tfjs tensors.
 *
 * Two implementations with one contract (`make` returns a fresh tensor whose
 * contents `fill` wrote; `read` copies a tensor's first `length` values):
 * - publicIo: the public API: fill a staging array, tf.tensor copies it into the
 *   backend; dataSync copies it out. Works on every backend.
 * - wasmHeapIo (wasm-heap.ts): on the wasm backend, `fill` writes straight into
 *   tfjs's wasm heap and `read` copies straight out of it, one copy each way
 *   instead of two. Through tfjs-kernels/heap.ts, which uses internals of
 *   @tensorflow/tfjs-backend-wasm, pinned.
 */
export interface TensorIo {
  readonly name: 'public' | 'wasm-heap';
  make(shape: number[], fill: (into: Float32Array) => void): tf.Tensor;
  read(t: tf.Tensor, length: number, into: Float32Array, offset: number): void;
}

/** The public-API path. */
export function publicIo(): TensorIo {
  return {
    name: 'public',
    make(shape, fill) {
      // A fresh array per tensor: the cpu and tensorflow backends keep a reference to it, not a copy.
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      fill(data);
      return tf.tensor(data, shape);
    },
    read(t, length, into, offset) {
      into.set((t.dataSync() as Float32Array).subarray(0, length), offset);
    },
  };
}

/** The heap path on the wasm backend (when its internals are as pinned), else the public one; for the current backend. */
export function currentIo(): TensorIo {
  return wasmHeapIo() ?? publicIo();
}
