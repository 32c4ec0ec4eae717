import * as tf from '@tensorflow/tfjs';
import { padOrCrop } from './padding.js';
import { composed } from './wasm-ops.js';

/**
 * DepthwiseConv2dNativeBackpropFilter on wasm, which has none.
 *
 *   dW[p, q, c, m] = sum over b, i, j of  x[b, i*sh + p*dh - pt, j*sw + q*dw - pl, c] * dy[b, i, j, c*M + m]
 *
 * For each pair (c, b) this is one depthwise channel: image x[b, :, :, c],
 * filter dy[b, :, :, c*M : c*M + M], output pixel (p, q) the filter tap (p, q).
 * So one depthwise convolution over the C*B channels of x transposed computes
 * every pair; a sum over b finishes. The forward stride becomes the dilation
 * and the forward dilation the stride, as in Conv2DBackpropFilter
 * (conv2d-backprop-filter.ts).
 *
 * Dilations are honoured. The cpu and webgl kernels of tfjs 4.22 ignore them
 * (tfjs-core's gradient never passes any but 1), so for dilation > 1 ours is
 * the gradient of the dilated convolution and theirs is not.
 */
function depthwiseBackpropFilter({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, dy } = inputs as Record<'x' | 'dy', tf.TensorInfo>;
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo } = info;
  const {
    strideHeight: sh,
    strideWidth: sw,
    dilationHeight: dh,
    dilationWidth: dw,
    filterHeight: kh,
    filterWidth: kw,
  } = info;
  const M = filterShape[3];
  if (dy.shape[1] !== Ho || dy.shape[2] !== Wo)
    throw new Error(
      `DepthwiseConv2dNativeBackpropFilter: dy is ${Ho}x${Wo} for this convolution, got ${dy.shape[1]}x${dy.shape[2]}`,
    );
  return composed(backend as tf.KernelBackend, (ops) => {
    const xT = ops.reshape(ops.transpose(x, [1, 2, 3, 0]), [1, H, W, C * B]); // xT is (1, H, W, C*B)
    const dy5 = ops.reshape(dy, [B, Ho, Wo, C, M]); // dy5 is (B, Ho, Wo, C, M)
    const dyT = ops.reshape(ops.transpose(dy5, [1, 2, 3, 0, 4]), [Ho, Wo, C * B, M]); // dyT is (Ho, Wo, C*B, M)
    const { top, left } = info.padInfo;
    const padded = padOrCrop(
      ops,
      xT,
      top,
      (kh - 1) * dh + (Ho - 1) * sh - top - (H - 1),
      left,
      (kw - 1) * dw + (Wo - 1) * sw - left - (W - 1),
    );
    const perPair = ops.depthwise(padded.x, dyT, [dh, dw], [sh, sw], padded.pad); // perPair is (1, kh, kw, C*B*M)
    return ops.sum(ops.reshape(perPair, [kh, kw, C, B, M]), 3); // (kh, kw, C, M)
  });
}

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter,
};
