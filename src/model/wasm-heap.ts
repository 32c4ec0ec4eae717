import * as tf from '@tensorflow/tfjs';
import { heapTensor, heapView, hasHeapViews } from '../tfjs-kernels/heap.js';
import type { TensorIo } from './tensor-io.js';

/**
 * The replicas' tensor io on the wasm backend's heap, through the views of
 * tfjs-kernels/heap.ts (the one module that uses tfjs-wasm internals): `make` fills
 * a fresh tensor's heap memory in place, `read` copies straight out of it; one
 * copy each way instead of two through the public API.
 *
 * Reading gradients from the heap takes about a third of the time dataSync
 * does (docs/performance.md).
 */
export function wasmHeapIo(): TensorIo | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend();
  if (!hasHeapViews(backend)) return undefined;
  const gone = (): never => {
    throw new Error('the wasm heap views went away');
  };
  return {
    name: 'wasm-heap',
    make(shape, fill) {
      return tf
        .engine()
        .makeTensorFromTensorInfo(heapTensor(backend, shape, 'float32', (out) => fill(out as Float32Array)) ?? gone());
    },
    read(t, length, into, offset) {
      into.set((heapView(backend, t) ?? gone()).subarray(0, length), offset);
    },
  };
}
