import * as tf from '@tensorflow/tfjs';
import { addConfig } from './add.js';
import { batchMatMulConfig } from './batch-mat-mul.js';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2DBackpropInputConfig } from './conv2d-backprop-input.js';
import { depthwiseBackpropFilterConfig } from './depthwise-backprop-filter.js';
import { depthwiseBackpropInputConfig } from './depthwise-backprop-input.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import { sumConfig } from './sum.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

/** Kernels @tensorflow/tfjs-backend-wasm 4.22 lacks: registered only where none is. */
const MISSING: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  unsortedSegmentSumConfig,
];

/** Kernels it has, slower than ours: the stock one is replaced. */
const FASTER: readonly tf.KernelConfig[] = [conv2DBackpropInputConfig, maxPoolGradConfig];

/** Kernels it has, slow in one common case: ours takes that case and hands the rest to the stock one. */
const WRAPPED: readonly [name: string, wrap: (stock: tf.KernelConfig) => tf.KernelConfig][] = [
  [tf.Add, addConfig],
  [tf.BatchMatMul, batchMatMulConfig],
  [tf.Sum, sumConfig],
];
const wrappers = new WeakSet<tf.KernelConfig>();

/**
 * Registers, for the 'wasm' backend, the training kernels that
 * @tensorflow/tfjs-backend-wasm lacks or has too slow, so that tf.layers
 * convnets and embeddings train on it (tensorflow/tfjs#8474, #8082).
 * Idempotent. Call it after importing @tensorflow/tfjs-backend-wasm: that
 * import registers the stock kernels, and would overwrite ours.
 * A kernel another party registered where wasm has none is left alone.
 */
export function registerWasmTrainingKernels(): void {
  for (const config of [...MISSING, ...FASTER]) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current === config) continue;
    if (current !== undefined) {
      if (!FASTER.includes(config)) continue;
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    tf.registerKernel(config);
  }
  for (const [name, wrap] of WRAPPED) {
    const stock = tf.getKernel(name, 'wasm');
    if (stock === undefined || wrappers.has(stock)) continue;
    const config = wrap(stock);
    wrappers.add(config);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
  }
}
