import * as tf from '@tensorflow/tfjs';
import { composed } from './wasm-ops.js';

/**
 * BatchMatMul on wasm with transposeA or transposeB: the operand is transposed
 * first (tfjs-wasm's Transpose) and the product taken without flags, where the
 * stock kernel's XNNPACK GEMM runs. With a flag set the stock kernel takes a
 * plain loop: 2.3-2.9 GFLOP/s against 30-35 without (measured: (4096, 16) x
 * (200, 16)^T took 11.3 ms, the same product without the flag 0.76 ms). Every
 * dense layer's backward pass has both flags (dx = dy W^T, dW = x^T dy).
 * The sums run in XNNPACK's order, not the loop's: results differ from the
 * stock kernel's in the last bits.
 */
export function batchMatMulUnflagged({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  if (!transposeA && !transposeB) return undefined;
  const { a, b } = inputs as Record<'a' | 'b', tf.TensorInfo>;
  return composed(backend as tf.KernelBackend, (ops) => {
    const flip = (t: tf.TensorInfo): tf.TensorInfo => {
      const r = t.shape.length;
      return ops.transpose(t, [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]); // (..., m, n) -> (..., n, m)
    };
    return ops.matMul(transposeA ? flip(a) : a, transposeB ? flip(b) : b);
  });
}
