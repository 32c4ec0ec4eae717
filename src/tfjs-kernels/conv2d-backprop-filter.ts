import * as tf from '@tensorflow/tfjs';
import { padOrCrop } from './padding.js';
import { convGeometry } from './conv-geometry.js';
import { hasHeapKernels, simd } from './heap.js';
import { composed } from './wasm-ops.js';

/**
 * Conv2DBackpropFilter on wasm, which has none (tensorflow/tfjs#8474).
 *
 *   dW[p, q, c, o] = sum over b, i, j of  x[b, i*sh + p - pt, j*sw + q - pl, c] * dy[b, i, j, o]
 *
 * is one forward convolution once batch and channels swap roles: x becomes a
 * batch of Cin single images with B channels, and dy a (Ho, Wo) filter from
 * B to Cout channels. Its output pixel (p, q) is the filter tap (p, q). The
 * forward stride becomes a dilation: neighbouring rows of dy met rows of x sh
 * apart. The bottom/right pads are whatever makes the output kh x kw
 * (Note [negative pads]).
 */
export function conv2DBackpropFilter({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0], path: 'auto' | 'gemm' | 'conv' = 'auto'): tf.TensorInfo {
  const { x, dy } = inputs as Record<'x' | 'dy', tf.TensorInfo>;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const { info, nchw } = convGeometry('Conv2DBackpropFilter', x.shape as [number, number, number, number], filterShape, dy, { strides, pad, dataFormat, dimRoundingMode });
  const { inHeight: H, inWidth: W, outHeight: Ho, outWidth: Wo, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { batchSize: B, inChannels: Cin, outChannels: Cout } = info;
  // Note [patches for one channel]: with one input channel the swapped-roles convolution
  // below is a GEMM of kh*kw rows for XNNPACK (6.5 GFLOP/s: 2.3-3.2 ms on the convnet's
  // first layer). Its patches, one row per tap, are then contiguous runs of x, cheap to
  // copy (heap-kernels.wat im2col_t), and pt . dy is one product for our gemm (Note [no
  // pack] in batch-mat-mul.ts): 0.59 ms against 1.73 for the convolution at batch 64.
  // With several channels the copy is a strided gather and the convolution wins (conv2:
  // 1.24 ms against 1.54; scratch/fg-paths.mjs).
  const gemm = path === 'gemm' || (path === 'auto' && Cin === 1 && sw === 1);
  if (gemm && !nchw && hasHeapKernels(backend as tf.KernelBackend)) {
    const { top, left } = info.padInfo;
    return composed(backend as tf.KernelBackend, (ops) => {
      const dims = [B, H, W, Cin, Ho, Wo, kh, kw, sh, sw, top, left] as const;
      const pt = simd(backend as tf.KernelBackend, [x], [1, kh * kw * Cin, B * Ho * Wo], (k, out, [xs]) => k.im2col_t(xs, out, ...dims), 'uninitialised');
      if (pt === undefined) throw new Error('Conv2DBackpropFilter: the heap kernels went away');
      const dW = ops.matMul(ops.adopt(pt), ops.reshape(dy, [1, B * Ho * Wo, Cout])); // dW is (1, kh*kw*Cin, Cout)
      return ops.reshape(dW, [kh, kw, Cin, Cout]);
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
