import * as tf from '@tensorflow/tfjs';
import type { TensorIo } from './tensor-io.js';

/**
 * The only module that touches tfjs internals: direct access to the wasm
 * backend's heap, for @tensorflow/tfjs-backend-wasm 4.22.0 exactly (package.json
 * pins it). test/wasm-heap.test.ts fails loudly if these internals change.
 *
 * - BackendWasm.makeOutput(shape, dtype) allocates a tensor's heap memory
 *   without copying anything into it (the path kernels use for their outputs);
 * - BackendWasm.typedArrayFromHeap(info) is a Float32Array view of that memory;
 * - engine().makeTensorFromTensorInfo wraps it as a tracked tf.Tensor.
 *
 * Measured (../shared/measurements/tfjs-wasm-probe.md Q4): exporting the MLP's
 * gradients costs ~40 µs from the heap against ~115 µs through dataSync.
 * A view is valid only until the next heap allocation (the heap may grow and
 * move), so it is filled or read immediately.
 */
interface WasmInternals {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

export const PINNED_WASM_VERSION = '4.22.0';

function internals(): WasmInternals | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const b = tf.backend() as unknown as Partial<WasmInternals>;
  return typeof b.makeOutput === 'function' && typeof b.typedArrayFromHeap === 'function' ? (b as WasmInternals) : undefined;
}

/** The heap path when the current backend is wasm and has the expected internals, else undefined. */
export function wasmHeapIo(): TensorIo | undefined {
  const w = internals();
  if (w === undefined) return undefined;
  return {
    name: 'wasm-heap',
    make(shape, fill) {
      const info = w.makeOutput(shape, 'float32');
      fill(w.typedArrayFromHeap(info));
      return tf.engine().makeTensorFromTensorInfo(info);
    },
    read(t, length, into, offset) {
      into.set(w.typedArrayFromHeap(t).subarray(0, length), offset);
    },
  };
}
