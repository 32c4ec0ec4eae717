import * as tf from '@tensorflow/tfjs';
import { hasHeapKernels, simd } from './heap.js';
import { padImages } from './padding.js';
import { composed } from './wasm-ops.js';

/**
 * Conv2D on wasm, one case: float32, NHWC, dilation 1, output channels a
 * multiple of 4 (tiles of 8 channels, the last 4 as a tile of their own: with
 * the filter fresh per call, 64x28x28x1 by 5x5x1x20 1.08 ms against stock's
 * 2.25, 64x12x12x20 by 5x5x20x12 1.06 against 1.82; one process, 2026-11-28).
 * heap-kernels.wat's conv2d reads the patches in place; x is padded first
 * (pad_hw) where the convolution has pads, and the padding's rows, and its
 * columns where a whole tile of pixels meets only padding, are skipped.
 *
 * Note [no indirection]: the stock kernel runs XNNPACK's convolution, which
 * packs the filter and builds an indirection buffer, a pointer per output
 * pixel and filter tap, both cached by tensor id. In training the filter and
 * x are fresh tensors every step, so every call rebuilt both: for the
 * convnet's first layer (64x28x28x1, 5x5x8) 921,600 pointers. Measured
 * (`npm run bench -- --convnet`, 2026-11-28, medians, x and filter fresh per
 * call): that layer 0.38 ms against 0.86, the second (64x12x12x8, 5x5x16) 0.54
 * against 0.78. Whole convnet steps, stock Conv2D and ours swapped in one
 * thread: 1.21x as fast at 64 samples and at 32; with BatchMatMul and
 * _FusedMatMul stock too, 1.42x. The gradients' convolutions come here too:
 * Conv2DBackpropInput's at stride 1 (Note [which path]) and, on NCHW, the
 * filter gradient's swapped-roles one.
 *
 * Everything else goes to the stock kernel.
 */
export function conv2dDirect({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const { x, filter } = inputs as Record<'x' | 'filter', tf.TensorInfo>;
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs as unknown as tf.Conv2DAttrs;
  const be = backend as tf.KernelBackend;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || dataFormat === 'NCHW' || !hasHeapKernels(be)) return undefined;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode);
  const { batchSize: B, inChannels: C, outHeight: Ho, outWidth: Wo, outChannels: N, filterHeight: kh, filterWidth: kw } = info;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || N % 4 !== 0 || B * Ho * Wo * N * C === 0) return undefined;
  const { top, bottom, left, right } = info.padInfo;
  return composed(be, (ops) => {
    const xp = padImages(ops, x, top, bottom, left, right); // xp is (B, H, W, C), pads included
    const [, H, W] = xp.shape;
    const out = simd(be, [xp, filter], [B, Ho, Wo, N], (k, o, [xs, ws]) => k.conv2d(xs, ws, o, B, H, W, C, Ho, Wo, kh, kw, info.strideHeight, info.strideWidth, N, top, H - bottom, left, W - right), 'uninitialised'); // out is (B, Ho, Wo, N)
    if (out === undefined) throw new Error('Conv2D: the heap kernels went away');
    return out;
  });
}
