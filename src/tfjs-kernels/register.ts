import * as tf from '@tensorflow/tfjs';
import { addRowVector } from './add.js';
import { batchMatMul } from './batch-mat-mul.js';
import { biasReluKernelConfig } from './bias-relu.js';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2DBackpropInputConfig } from './conv2d-backprop-input.js';
import { conv2dDirect } from './conv2d.js';
import { depthwiseBackpropFilterConfig } from './depthwise-backprop-filter.js';
import { depthwiseBackpropInputConfig } from './depthwise-backprop-input.js';
import { fusedMatMul } from './fused-mat-mul.js';
import { castSameDtype, identityShared } from './identity.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import { reluGradConfig, reluGradKernelConfig } from './relu-grad.js';
import { sumLeading } from './sum.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

/** Kernels @tensorflow/tfjs-backend-wasm 4.22 lacks: registered only where none is. */
const MISSING: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  unsortedSegmentSumConfig,
  reluGradKernelConfig,
  biasReluKernelConfig,
];

/** Kernels it has, slower than ours: the stock one is replaced. */
const FASTER: readonly tf.KernelConfig[] = [conv2DBackpropInputConfig, maxPoolGradConfig];

/** A kernel for the one case it takes; undefined hands the call to the stock kernel. */
type Case = (args: Parameters<tf.KernelFunc>[0]) => tf.TensorInfo | undefined;

/** Kernels it has, slow in one common case: ours takes that case and hands the rest to the stock one. */
const WRAPPED: readonly [name: string, ours: Case][] = [
  [tf.Add, addRowVector],
  [tf.BatchMatMul, batchMatMul],
  [tf._FusedMatMul, fusedMatMul],
  [tf.Conv2D, conv2dDirect],
  [tf.Identity, identityShared],
  [tf.Cast, castSameDtype],
  [tf.Sum, sumLeading],
];
const wrappers = new WeakSet<tf.KernelConfig>();

/**
 * Registers, for the 'wasm' backend, the training kernels that
 * @tensorflow/tfjs-backend-wasm lacks or has too slow, so that tf.layers
 * convnets and embeddings train on it (tensorflow/tfjs#8474, #8082).
 * Idempotent. Call it after importing @tensorflow/tfjs-backend-wasm: that
 * import registers the stock kernels, and would overwrite ours.
 * A kernel another party registered where wasm has none is left alone.
 *
 * Note [one ReLU gradient kernel]: it also registers the ReLU's gradient
 * (relu-grad.ts), for every backend: one kernel of ours on wasm, tfjs's own
 * formula elsewhere, same bits. A gradient registered after this call wins.
 * Checked by `npx vitest run test/wasm-training-kernels.test.ts`.
 */
export function registerWasmTrainingKernels(): void {
  if (tf.getGradient(tf.Relu) !== reluGradConfig) tf.registerGradient(reluGradConfig);
  for (const config of [...MISSING, ...FASTER]) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current === config) continue;
    if (current !== undefined) {
      if (!FASTER.includes(config)) continue;
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    tf.registerKernel(config);
  }
  for (const [name, ours] of WRAPPED) {
    const stock = tf.getKernel(name, 'wasm');
    if (stock === undefined || wrappers.has(stock)) continue;
    // The stock setupFunc binds the stock wasm function, which the other cases need.
    // Note [which kernel ran]: the stock kernelFunc is looked up on the stock config at each
    // call, not captured, so a spy put there sees every case handed over; that is how
    // test/wasm-training-kernels.test.ts tells ours from stock (npx vitest run test/wasm-training-kernels.test.ts).
    const config: tf.KernelConfig = {
      ...stock,
      kernelFunc: (args) => ours(args) ?? (stock.kernelFunc(args) as tf.TensorInfo),
    };
    wrappers.add(config);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
  }
}
