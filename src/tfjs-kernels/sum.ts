import * as tf from '@tensorflow/tfjs';
import { simd } from './heap.js';

/**
 * Sum on wasm, for one case: float32, over leading axes only, given in order,
 * keeping the trailing ones, as a bias's gradient sums dy over batch and space.
 * heap-kernels.wat's sum_rows adds x's rows into the output, where the stock
 * kernel first transposes x to put the summed axes last. Each output adds its inputs from 0 in
 * index order, as the stock kernel does, so both give the same bits. Every
 * other case, and any backend without the heap internals, goes to the stock kernel.
 */
export function sumLeading({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const { x } = inputs as Record<'x', tf.TensorInfo>;
  const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
  if (x.dtype !== 'float32' || tf.util.sizeFromShape(x.shape) === 0) return undefined;
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const k = axes.length;
  // Axes 0..k-1 in that order (stock sums in the order the axes are given), and at
  // least one axis left: a full reduction is already one pass in stock.
  if (k === 0 || k >= x.shape.length || axes.some((a, i) => a !== i)) return undefined;
  const kept = x.shape.slice(k);
  const C = tf.util.sizeFromShape(kept);
  const rows = tf.util.sizeFromShape(x.shape.slice(0, k));
  const shape = keepDims === true ? [...x.shape.slice(0, k).map(() => 1), ...kept] : kept;
  // x is (rows, C): out is (C)
  return simd(
    backend as tf.KernelBackend,
    [x],
    shape,
    (kern, out, [xp]) => kern.sum_rows(xp, out, rows, C),
    'uninitialised',
  );
}
