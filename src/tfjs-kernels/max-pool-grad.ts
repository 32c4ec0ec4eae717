import * as tf from '@tensorflow/tfjs';
import { direct, simd } from './heap.js';

/**
 * MaxPoolGrad on wasm, replacing the stock one, which took over thirty times
 * the forward pooling on the convnet's first layer. One pass over x, from the output's side:
 *
 *   dx[b, argmax of window (i, j) of channel c] += dy[b, i, j, c]
 *
 * with the argmax of the cpu backend: the first strict maximum in row-major
 * order over the window's pixels inside x, none when no pixel exceeds -Infinity
 * (all NaN or -Infinity). Ties matter: after a ReLU whole windows are 0.
 * The `output` input (the pooled maxima) is not needed.
 */
export function maxPoolGrad(
  { inputs, backend, attrs }: Parameters<tf.KernelFunc>[0],
  path: 'simd' | 'js' = 'simd',
): tf.TensorInfo {
  const { dy, input } = inputs as Record<'dy' | 'input', tf.TensorInfo>;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  // dx is (B, H, W, C), x (B, H, W, C), dys (B, Ho, Wo, C)
  const args = [B, H, W, C, Ho, Wo, kh, kw, sh, sw, top, left] as const;
  // Note [tiles]: where the windows tile x (stride = window, no padding: the usual 2x2
  // pooling), each element of x is in one window at most, so dx is written window by
  // window, not scattered: faster, the same bits as the scatter.
  // Note [2x2]: 2x2 windows, the usual pooling, take max_pool_grad_2x2, the same loop
  // unrolled: about half the time, the same bits (test/wasm-training-kernels.test.ts).
  // Re-measure both: `npm run bench -- --convnet` (the MaxPoolGrad row).
  const tiles = sh === kh && sw === kw && top === 0 && left === 0 && C % 4 === 0 && Ho * kh <= H && Wo * kw <= W;
  const covered = Ho * kh === H && Wo * kw === W;
  const viaSimd =
    path !== 'simd'
      ? undefined
      : tiles
        ? simd(
            backend as tf.KernelBackend,
            [input, dy],
            input.shape,
            (k, dx, [x, dys]) =>
              kh === 2 && kw === 2
                ? k.max_pool_grad_2x2(x, dys, dx, B, H, W, C, Ho, Wo)
                : k.max_pool_grad_tiles(x, dys, dx, B, H, W, C, Ho, Wo, kh, kw),
            covered ? 'uninitialised' : 'zeros',
          )
        : simd(backend as tf.KernelBackend, [input, dy], input.shape, (k, dx, [x, dys]) =>
            k.max_pool_grad(x, dys, dx, ...args),
          );
  if (viaSimd !== undefined) return viaSimd;
  // Without the heap internals, the same loop in JS (several times slower than the SIMD one).
  return direct(backend as tf.KernelBackend, [input, dy], input.shape, 'float32', (dx, [x, dys]) => {
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < Ho; i++) {
        const r0 = Math.max(0, i * sh - top);
        const r1 = Math.min(H, i * sh - top + kh);
        for (let j = 0; j < Wo; j++) {
          const q0 = Math.max(0, j * sw - left);
          const q1 = Math.min(W, j * sw - left + kw);
          const o = ((b * Ho + i) * Wo + j) * C;
          for (let c = 0; c < C; c++) {
            let best = -Infinity;
            let at = -1;
            for (let r = r0; r < r1; r++) {
              for (let q = q0, p = ((b * H + r) * W + q0) * C + c; q < q1; q++, p += C) {
                if (x[p] > best) {
                  best = x[p];
                  at = p;
                }
              }
            }
            if (at >= 0) dx[at] += dys[o + c];
          }
        }
      }
    }
  });
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: (args) => maxPoolGrad(args),
};
