import type * as tf from '@tensorflow/tfjs';
import { simd } from './heap.js';
import type { Ops, Pads } from './wasm-ops.js';

/**
 * The geometry the gradient convolutions need and the stock Conv2D cannot take
 * directly: pads that come out negative, and strides turned into holes.
 *
 * Note [negative pads]: a gradient convolution's pad on one side is whatever
 * makes its output the size required, and comes out negative when the forward
 * convolution never read the last rows of its input ('valid' with a stride
 * that does not divide evenly). A negative pad is a crop: those rows are
 * sliced off before the convolution, which takes pads >= 0 only. Checked by
 * `npx vitest run test/wasm-training-kernels.test.ts` ('valid', strides 2-3).
 */
export function padOrCrop(
  ops: Ops,
  x: tf.TensorInfo,
  top: number,
  bottom: number,
  left: number,
  right: number,
): { x: tf.TensorInfo; pad: Pads } {
  const [B, H, W, C] = x.shape; // x is (B, H, W, C)
  const cropTop = Math.max(0, -top);
  const cropBottom = Math.max(0, -bottom);
  const cropLeft = Math.max(0, -left);
  const cropRight = Math.max(0, -right);
  const cropped =
    cropTop + cropBottom + cropLeft + cropRight === 0
      ? x
      : ops.slice(x, [0, cropTop, cropLeft, 0], [B, H - cropTop - cropBottom, W - cropLeft - cropRight, C]);
  const pad: Pads = [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ];
  return { x: cropped, pad };
}

/**
 * dy (B, Ho, Wo, C) -> (B, Ho*sh, Wo*sw, C) with dy[b, i, j] at row i*sh, column
 * j*sw and zeros elsewhere: the output gradient of a strided convolution seen
 * as that of a stride-1 one. The last sh-1 rows and sw-1 columns are zeros
 * past the spread image, which the caller counts against its bottom/right pad.
 * One PadV2 does it: (B, Ho, 1, Wo, 1, C) padded after axes 2 and 4.
 */
export function spread(ops: Ops, dy: tf.TensorInfo, sh: number, sw: number): tf.TensorInfo {
  if (sh === 1 && sw === 1) return dy;
  const [B, Ho, Wo, C] = dy.shape;
  const holes = ops.pad(ops.reshape(dy, [B, Ho, 1, Wo, 1, C]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]); // holes is (B, Ho, sh, Wo, sw, C)
  return ops.reshape(holes, [B, Ho * sh, Wo * sw, C]);
}

/**
 * x (B, H, W, C) with top/bottom rows and left/right columns of zeros around
 * each image, for our direct convolutions, which run only where the heap
 * kernels are: heap-kernels.wat's pad_hw (faster than the stock PadV2); x itself when every pad is 0.
 */
export function padImages(
  ops: Ops,
  x: tf.TensorInfo,
  top: number,
  bottom: number,
  left: number,
  right: number,
): tf.TensorInfo {
  if (top + bottom + left + right === 0) return x;
  const [B, H, W, C] = x.shape;
  const padded = simd(
    ops.backend,
    [x],
    [B, top + H + bottom, left + W + right, C],
    (k, out, [xs]) => k.pad_hw(xs, out, B, H, W, C, top, bottom, left, right),
    'uninitialised',
  );
  if (padded === undefined) throw new Error('pad_hw: the heap kernels went away');
  return ops.adopt(padded);
}
