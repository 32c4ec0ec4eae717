import * as tf from '@tensorflow/tfjs';
import { hasHeapKernels, simd } from './heap.js';
import { composed, type Ops } from './wasm-ops.js';

/**
 * BatchMatMul on wasm.
 *
 * Note [no pack]: the stock kernel multiplies without transpose flags through
 * XNNPACK, which first packs b and caches the pack by b's tensor id. In
 * training b is a fresh tensor every step (this step's weights, activations or
 * output gradient), so every product paid the pack. Decision: heap-kernels.wat's
 * gemm reads b as it lies, about XNNPACK's speed with its pack cached.
 * Invariant: it sums over k in order, as XNNPACK does here, so the same bits
 * (test/wasm-training-kernels.test.ts). With transposeA or transposeB the stock
 * kernel takes a plain loop an order of magnitude slower; every dense layer's
 * backward has a flag (dx = dy W^T, dW = x^T dy), so the flagged operand is
 * transposed first (tfjs-wasm's Transpose) and the product taken without flags.
 * Re-measure: `npm run bench -- --convnet` (per kernel, stock against ours;
 * docs/wasm-kernels.md).
 *
 * Ours takes float32 products of one matrix by one (leading axes of size 1);
 * batched products with a flag are transposed and handed back to the stock
 * kernel without flags; the rest is the stock kernel's.
 */
export function batchMatMul({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  const { a, b } = inputs as Record<'a' | 'b', tf.TensorInfo>;
  const be = backend as tf.KernelBackend;
  const ours = gemmProduct(be, a, b, transposeA, transposeB);
  if (ours !== undefined || (!transposeA && !transposeB)) return ours;
  return composed(be, (ops) => ops.matMul(transposeA ? flip(ops, a) : a, transposeB ? flip(ops, b) : b));
}

/**
 * clamp(a . b + bias, lo, hi), a and b each transposed as flagged, by
 * heap-kernels.wat's gemm; bias is (N) or (1, ..., N), or none. undefined for
 * what it does not take: not float32, more than one matrix per operand, an
 * empty product, another bias, a backend without the heap kernels.
 */
export function gemmProduct(
  be: tf.KernelBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  bias?: tf.TensorInfo,
  [lo, hi]: readonly [number, number] = [-Infinity, Infinity],
): tf.TensorInfo | undefined {
  if (!hasHeapKernels(be) || !isOneMatrix(a) || !isOneMatrix(b)) return undefined;
  const [M, K] = matrix(a, transposeA);
  const N = matrix(b, transposeB)[1];
  if (M * K * N === 0) return undefined;
  if (
    bias !== undefined &&
    (bias.dtype !== 'float32' || bias.shape[bias.shape.length - 1] !== N || tf.util.sizeFromShape(bias.shape) !== N)
  )
    return undefined;
  const shape = [...Array<number>(Math.max(a.shape.length, b.shape.length) - 2).fill(1), M, N];
  return composed(be, (ops) => {
    const [pa, pb] = [transposeA ? flip(ops, a) : a, transposeB ? flip(ops, b) : b]; // pa is (.., M, K), pb (.., K, N)
    const ins = bias === undefined ? [pa, pb] : [pa, pb, bias];
    const c = simd(
      be,
      ins,
      shape,
      (k, out, [ap, bp, biasp]) => k.gemm(ap, bp, out, M, K, N, biasp ?? 0, lo, hi),
      'uninitialised',
    ); // c is (..., M, N)
    if (c === undefined) throw new Error('matrix product: the heap kernels went away');
    return c;
  });
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
