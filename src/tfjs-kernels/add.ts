import * as tf from '@tensorflow/tfjs';
import { simd } from './heap.js';

/** add_rows' floor that leaves every sum as it is. */
const INT32_MIN = -2147483648;

/**
 * Add on wasm, for one case: a float32 tensor plus a vector along its last
 * axis, (..., C) + (C) in either order, as a layer adds its bias (tfjs-layers'
 * biasAdd). heap-kernels.wat's add_rows does it in one SIMD pass, several times
 * faster than the stock kernel's general broadcasting (`npm run bench -- --convnet`).
 * Every other case, and any backend without the heap internals, goes to the
 * stock kernel. Float addition is exact per element, so both give the same bits.
 */
export function addRowVector({ inputs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const { a, b } = inputs as Record<'a' | 'b', tf.TensorInfo>;
  const [m, v] = isRowVectorOf(b, a) ? [a, b] : isRowVectorOf(a, b) ? [b, a] : [];
  if (m === undefined || v === undefined) return undefined;
  const C = m.shape[m.shape.length - 1];
  const rows = tf.util.sizeFromShape(m.shape) / C;
  // m is (rows, C), v is (C): out is m's shape
  return simd(
    backend as tf.KernelBackend,
    [m, v],
    m.shape,
    (k, out, [mp, vp]) => k.add_rows(mp, vp, out, rows, C, INT32_MIN),
    'uninitialised',
  );
}

/** Whether v is (C) or (1, ..., 1, C), no longer than m, whose last axis is C; both float32, m not empty. */
export function isRowVectorOf(v: tf.TensorInfo, m: tf.TensorInfo): boolean {
  if (v.dtype !== 'float32' || m.dtype !== 'float32' || v.shape.length > m.shape.length || m.shape.length < 2)
    return false;
  const C = m.shape[m.shape.length - 1];
  return (
    C > 0 &&
    tf.util.sizeFromShape(m.shape) > 0 &&
    v.shape[v.shape.length - 1] === C &&
    v.shape.slice(0, -1).every((d) => d === 1)
  );
}
