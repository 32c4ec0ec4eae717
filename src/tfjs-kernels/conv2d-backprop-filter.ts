import * as tf from '@tensorflow/tfjs';
import { padImages, padOrCrop } from './padding.js';
import { convGeometry } from './conv-geometry.js';
import { hasHeapKernels, simd } from './heap.js';
import { composed } from './wasm-ops.js';

/**
 * Conv2DBackpropFilter on wasm, which has none (tensorflow/tfjs#8474).
 *
 *   dW[p, q, c, o] = sum over b, i, j of  x[b, i*sh + p - pt, j*sw + q - pl, c] * dy[b, i, j, o]
 *
 * is a product of the transposed patches of x by dy (Note [patches in place]),
 * and also one forward convolution once batch and channels swap roles: x becomes a
 * batch of Cin single images with B channels, and dy a (Ho, Wo) filter from
 * B to Cout channels. Its output pixel (p, q) is the filter tap (p, q). The
 * forward stride becomes a dilation: neighbouring rows of dy met rows of x sh
 * apart. The bottom/right pads are whatever makes the output kh x kw
 * (Note [negative pads]).
 */
export function conv2DBackpropFilter(
  { inputs, backend, attrs }: Parameters<tf.KernelFunc>[0],
  path: 'auto' | 'conv' = 'auto',
): tf.TensorInfo {
  const { x, dy } = inputs as Record<'x' | 'dy', tf.TensorInfo>;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const { info, nchw } = convGeometry(
    'Conv2DBackpropFilter',
    x.shape as [number, number, number, number],
    filterShape,
    dy,
    { strides, pad, dataFormat, dimRoundingMode },
  );
  const {
    inHeight: H,
    inWidth: W,
    outHeight: Ho,
    outWidth: Wo,
    strideHeight: sh,
    strideWidth: sw,
    filterHeight: kh,
    filterWidth: kw,
  } = info;
  const { batchSize: B, inChannels: Cin, outChannels: Cout } = info;
  // Note [patches in place]: decision: on NHWC, heap-kernels.wat's conv2d_filter_grad is
  // our GEMM (Note [no pack] in batch-mat-mul.ts) of the transposed patches by dy, the
  // patches read where they lie in x (padded first, where the convolution pads), neither
  // written out (im2col) nor computed as the swapped-roles convolution below, both slower.
  // Invariant: the same bits as the written-out patches' GEMM (tested). NCHW, or no heap
  // kernels: the convolution. Re-measure: `npm run bench -- --convnet`.
  if (path === 'auto' && !nchw && hasHeapKernels(backend as tf.KernelBackend)) {
    const { top, bottom, left, right } = info.padInfo;
    const be = backend as tf.KernelBackend;
    return composed(be, (ops) => {
      const xp = padImages(ops, x, top, bottom, left, right); // xp is (B, Hp, Wp, Cin), pads included
      const [, Hp, Wp] = xp.shape;
      const dw = simd(
        be,
        [xp, dy],
        [kh, kw, Cin, Cout],
        (k, out, [xs, dys]) => k.conv2d_filter_grad(xs, dys, out, B, Hp, Wp, Cin, Ho, Wo, kh, kw, sh, sw, Cout),
        'uninitialised',
      ); // dw is (kh, kw, Cin, Cout)
      if (dw === undefined) throw new Error('Conv2DBackpropFilter: the heap kernels went away');
      return dw;
    });
  }
  return composed(backend as tf.KernelBackend, (ops) => {
    const xT = ops.transpose(x, nchw ? [1, 2, 3, 0] : [3, 1, 2, 0]); // xT is (Cin, H, W, B)
    const dyT = ops.transpose(dy, nchw ? [2, 3, 0, 1] : [1, 2, 0, 3]); // dyT is (Ho, Wo, B, Cout)
    const { top, left } = info.padInfo;
    const padded = padOrCrop(ops, xT, top, kh + (Ho - 1) * sh - H - top, left, kw + (Wo - 1) * sw - W - left);
    const dW = ops.conv2d(padded.x, dyT, [1, 1], [sh, sw], padded.pad); // dW is (Cin, kh, kw, Cout)
    return ops.transpose(dW, [1, 2, 0, 3]); // (kh, kw, Cin, Cout)
  });
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: (args) => conv2DBackpropFilter(args),
};
