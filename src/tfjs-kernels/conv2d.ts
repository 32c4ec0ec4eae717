import * as tf from '@tensorflow/tfjs';
import { hasHeapKernels, simd } from './heap.js';
import { padImages } from './padding.js';
import { composed } from './wasm-ops.js';

/**
 * Conv2D on wasm, one case: float32, NHWC, dilation 1, output channels a
 * multiple of 4 (tiles of 8 channels, the last 4 as a tile of their own).
 * heap-kernels.wat's conv2d reads the patches in place; x is padded first
 * (pad_hw) where the convolution has pads, and the padding's rows, and its
 * columns where a whole tile of pixels meets only padding, are skipped.
 *
 * Note [no indirection]: the stock kernel runs XNNPACK's convolution, which
 * packs the filter and builds an indirection buffer (a pointer per output
 * pixel and filter tap), both cached by tensor id. In training the filter and
 * x are fresh tensors every step, so every call rebuilt both. Decision: a
 * direct SIMD convolution that needs neither, for the shapes above. Invariant:
 * it matches the cpu backend to 1e-6 relative (test/wasm-training-kernels.test.ts).
 * The gradients' convolutions come here too: Conv2DBackpropInput's at stride 1
 * (Note [which path]) and, on NCHW, the filter gradient's swapped-roles one.
 * Re-measure: `npm run bench -- --convnet` (docs/wasm-kernels.md).
 *
 * Everything else goes to the stock kernel.
 */
export function conv2dDirect({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const { x, filter } = inputs as Record<'x' | 'filter', tf.TensorInfo>;
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs as unknown as tf.Conv2DAttrs;
  const be = backend as tf.KernelBackend;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || dataFormat === 'NCHW' || !hasHeapKernels(be))
    return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
  );
  const {
    batchSize: B,
    inChannels: C,
    outHeight: Ho,
    outWidth: Wo,
    outChannels: N,
    filterHeight: kh,
    filterWidth: kw,
  } = info;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || N % 4 !== 0 || B * Ho * Wo * N * C === 0)
    return undefined;
  const { top, bottom, left, right } = info.padInfo;
  return composed(be, (ops) => {
    const xp = padImages(ops, x, top, bottom, left, right); // xp is (B, H, W, C), pads included
    const [, H, W] = xp.shape;
    const out = simd(
      be,
      [xp, filter],
      [B, Ho, Wo, N],
      (k, o, [xs, ws]) =>
        k.conv2d(
          xs,
          ws,
          o,
          B,
          H,
          W,
          C,
          Ho,
          Wo,
          kh,
          kw,
          info.strideHeight,
          info.strideWidth,
          N,
          top,
          H - bottom,
          left,
          W - right,
        ),
      'uninitialised',
    ); // out is (B, Ho, Wo, N)
    if (out === undefined) throw new Error('Conv2D: the heap kernels went away');
    return out;
  });
}
