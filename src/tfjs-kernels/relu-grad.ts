import * as tf from '@tensorflow/tfjs';
import { simd } from './heap.js';

/** Our kernel's name: tfjs has no ReLU-gradient kernel, its gradient is three (Step, Cast, Multiply). */
export const RELU_GRAD = 'WorkerDdpReluGrad';

/**
 * dx = dy * step(x), the ReLU's gradient, on wasm in one pass (heap-kernels.wat's
 * relu_grad): tfjs's gradient runs Step, then Cast (float32 to float32), then
 * Multiply, two passes over the layer's activations and three kernel dispatches.
 * A percent or two of a step (docs/performance.md), measured as an A/B with tfjs's
 * gradient and ours; no bench command runs that A/B yet (`npm run bench:replica` times
 * the step with it).
 * float32 only; the gradient below sends everything else to tfjs's formula.
 */
function reluGrad({ inputs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, x } = inputs as Record<'dy' | 'x', tf.TensorInfo>;
  const n = tf.util.sizeFromShape(x.shape);
  const out = simd(
    backend as tf.KernelBackend,
    [dy, x],
    x.shape,
    (k, o, [d, v]) => k.relu_grad(d, v, o, n),
    'uninitialised',
  );
  if (out === undefined) throw new Error(`${RELU_GRAD}: the heap kernels went away`);
  return out;
}

export const reluGradKernelConfig: tf.KernelConfig = {
  kernelName: RELU_GRAD,
  backendName: 'wasm',
  kernelFunc: reluGrad,
};

/**
 * dy * step(x), the ReLU's gradient: our kernel where this backend has it (wasm,
 * after registerWasmTrainingKernels) and both tensors are float32, else tfjs
 * 4.22's own formula, mul(dy, cast(step(x), 'float32')). x may be the ReLU's
 * output instead of its input: both are > 0 at the same places.
 */
export function reluGradient(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  const ours =
    x.dtype === 'float32' && dy.dtype === 'float32' && tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined;
  return ours ? (tf.engine().runKernel(RELU_GRAD, { dy, x }) as tf.Tensor) : tf.mul(dy, tf.cast(tf.step(x), 'float32'));
}

/** The ReLU's gradient for every backend (reluGradient). */
export const reluGradConfig: tf.GradConfig = {
  kernelName: tf.Relu,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => ({ x: () => reluGradient(dy as tf.Tensor, saved[0]) }),
};
