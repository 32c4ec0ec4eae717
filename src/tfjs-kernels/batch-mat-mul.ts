import * as tf from '@tensorflow/tfjs';
import { hasHeapKernels, simd } from './heap.js';
import { composed, type Ops } from './wasm-ops.js';

/**
 * BatchMatMul on wasm.
 *
 * Note [no pack]: the stock kernel multiplies without transpose flags through
 * XNNPACK, which first packs b and caches the pack by b's tensor id. In
 * training b is a fresh tensor every step (this step's weights, activations or
 * output gradient), so every product paid the pack: ~2.9 ns per element of b,
 * 0.29 ms for a 784x128 weight, 0.9 ms for the convnet's first filter gradient
 * (b is dy, 36864x8). heap-kernels.wat's gemm reads b as it lies. Measured
 * (scratch/gemm-micro.mjs, one run, medians): 64x784x128 0.39 ms against 0.75
 * packed (0.44 with the pack cached); 784x64x128 0.28 against 0.41; 25x36864x8
 * 0.35 against 1.26 (0.46). It sums over k in order, as XNNPACK did here: the
 * same bits on all of these.
 *
 * With transposeA or transposeB the stock kernel takes a plain loop instead:
 * 2.3-2.9 GFLOP/s against 30-35 (measured: (4096, 16) x (200, 16)^T took
 * 11.3 ms, the same product without the flag 0.76 ms). Every dense layer's
 * backward pass has both flags (dx = dy W^T, dW = x^T dy), so the operand is
 * transposed first (tfjs-wasm's Transpose) and the product taken without flags.
 *
 * Ours takes float32 products of one matrix by one (leading axes of size 1);
 * batched products with a flag are transposed and handed back to the stock
 * kernel without flags; the rest is the stock kernel's.
 */
export function batchMatMul({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  const { a, b } = inputs as Record<'a' | 'b', tf.TensorInfo>;
  const be = backend as tf.KernelBackend;
  if (hasHeapKernels(be) && isOneMatrix(a) && isOneMatrix(b)) {
    const [M, K] = matrix(a, transposeA);
    const N = matrix(b, transposeB)[1];
    const shape = [...Array<number>(Math.max(a.shape.length, b.shape.length) - 2).fill(1), M, N];
    if (M * K * N > 0) {
      return composed(be, (ops) => {
        const [pa, pb] = [transposeA ? flip(ops, a) : a, transposeB ? flip(ops, b) : b]; // pa is (.., M, K), pb (.., K, N)
        const c = simd(be, [pa, pb], shape, (k, out, [ap, bp]) => k.gemm(ap, bp, out, M, K, N)); // c is (..., M, N)
        if (c === undefined) throw new Error('BatchMatMul: the heap kernels went away');
        return c;
      });
    }
  }
  if (!transposeA && !transposeB) return undefined;
  return composed(be, (ops) => ops.matMul(transposeA ? flip(ops, a) : a, transposeB ? flip(ops, b) : b));
}

/** float32, rank >= 2, every axis before the last two of size 1. */
function isOneMatrix(t: tf.TensorInfo): boolean {
  return t.dtype === 'float32' && t.shape.length >= 2 && t.shape.slice(0, -2).every((d) => d === 1);
}

/** (rows, cols) of the matrix t stands for, transposed or not. */
function matrix(t: tf.TensorInfo, transposed: boolean): [number, number] {
  const [r, c] = t.shape.slice(-2);
  return transposed ? [c, r] : [r, c];
}

/** (..., m, n) -> (..., n, m), in memory. */
function flip(ops: Ops, t: tf.TensorInfo): tf.TensorInfo {
  const r = t.shape.length;
  return ops.transpose(t, [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
}
