import * as tf from '@tensorflow/tfjs';
import { isRowVectorOf } from './add.js';
import { simd } from './heap.js';

/** Our kernel's name: tfjs adds a layer's bias and applies its ReLU as two kernels (Add, Relu). */
export const BIAS_RELU = 'WorkerDdpBiasRelu';

/**
 * relu(x + bias) on wasm in one pass (heap-kernels.wat's add_rows with floor 0),
 * where a conv or dense layer with a ReLU runs Add, then Relu, under tfjs's
 * gradient tape: two passes over the layer's activations and two kernel
 * dispatches. Each element is one f32 add, then what the stock Relu does
 * (XNNPACK's vrelu: an integer max of the bits with 0, so a NaN whose sign bit
 * is set becomes 0, as an Add's NaN can be): the same bits. For the sequential
 * replica's forward (src/model/sequential-replica.ts), which keeps only the
 * ReLU's output for its backward. It gains a few percent of the convnet's step
 * (docs/performance.md), measured as an A/B with the kernel registered and not;
 * no bench command runs that A/B yet (`npm run bench:replica` times the step with it).
 */
function biasReluKernel({ inputs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, bias } = inputs as Record<'x' | 'bias', tf.TensorInfo>;
  if (!isRowVectorOf(bias, x))
    throw new Error(
      `${BIAS_RELU}: bias ${JSON.stringify(bias.shape)} is not a float32 row of x ${JSON.stringify(x.shape)}`,
    );
  const C = x.shape[x.shape.length - 1];
  const rows = tf.util.sizeFromShape(x.shape) / C;
  // x is (rows, C), bias is (C): out is x's shape
  const out = simd(
    backend as tf.KernelBackend,
    [x, bias],
    x.shape,
    (k, o, [xp, bp]) => k.add_rows(xp, bp, o, rows, C, 0),
    'uninitialised',
  );
  if (out === undefined) throw new Error(`${BIAS_RELU}: the heap kernels went away`);
  return out;
}

export const biasReluKernelConfig: tf.KernelConfig = {
  kernelName: BIAS_RELU,
  backendName: 'wasm',
  kernelFunc: biasReluKernel,
};

/**
 * relu(x + bias), bias (C) along x's last axis: our kernel where this backend
 * has it (wasm, after registerWasmTrainingKernels) and the shapes are its case,
 * else tfjs's add, then relu. The same bits either way.
 */
export function biasRelu(x: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  const ours = tf.getKernel(BIAS_RELU, tf.getBackend()) !== undefined && isRowVectorOf(bias, x);
  return ours ? (tf.engine().runKernel(BIAS_RELU, { x, bias }) as tf.Tensor) : tf.relu(tf.add(x, bias));
}
