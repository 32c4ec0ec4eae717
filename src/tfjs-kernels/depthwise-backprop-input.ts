import * as tf from '@tensorflow/tfjs';
import { padOrCrop, spread } from './padding.js';
import { composed } from './wasm-ops.js';

/**
 * DepthwiseConv2dNativeBackpropInput on wasm, which has none.
 *
 *   dx[b, h, w, c] = sum over i, j, p, q, m with i*sh + p*dh - pt = h, j*sw + q*dw - pl = w
 *                    of dy[b, i, j, c*M + m] * filter[p, q, c, m]
 *
 * Each of the C*M output channels of the forward pass sends its gradient back
 * to one input channel through one filter: a depthwise convolution (multiplier
 * 1) of dy, spread by the strides (Note [spread] in conv2d-backprop-input.ts),
 * with the filter rotated 180 degrees at the forward dilation, then a sum over
 * m. Dilations are honoured, as in depthwise-backprop-filter.ts.
 */
function depthwiseBackpropInput({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, filter } = inputs as Record<'dy' | 'filter', tf.TensorInfo>;
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
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
  const M = filter.shape[3];
  if (dy.shape[1] !== Ho || dy.shape[2] !== Wo)
    throw new Error(
      `DepthwiseConv2dNativeBackpropInput: dy is ${Ho}x${Wo} for this convolution, got ${dy.shape[1]}x${dy.shape[2]}`,
    );
  return composed(backend as tf.KernelBackend, (ops) => {
    const rotated = ops.reshape(ops.reverse(filter, [0, 1]), [kh, kw, C * M, 1]); // rotated is (kh, kw, C*M, 1)
    const { top, left } = info.padInfo;
    const padded = padOrCrop(
      ops,
      spread(ops, dy, sh, sw),
      (kh - 1) * dh - top,
      H + top - Ho * sh,
      (kw - 1) * dw - left,
      W + left - Wo * sw,
    );
    const perChannel = ops.depthwise(padded.x, rotated, [1, 1], [dh, dw], padded.pad); // perChannel is (B, H, W, C*M)
    return M === 1 ? perChannel : ops.sum(ops.reshape(perChannel, [B, H, W, C, M]), 4); // (B, H, W, C)
  });
}

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput,
};
