import * as tf from '@tensorflow/tfjs';

type Shape4 = [number, number, number, number];

/**
 * The geometry of the forward convolution a Conv2D gradient kernel undoes, in
 * tfjs's own terms (backend_util.computeConv2DInfo), after checking that dy has
 * that convolution's output size: both gradient kernels start from it.
 */
export function convGeometry(
  kernelName: string,
  xShape: Shape4,
  filterShape: Shape4,
  dy: tf.TensorInfo,
  attrs: Pick<tf.Conv2DBackpropFilterAttrs, 'strides' | 'pad' | 'dataFormat' | 'dimRoundingMode'>,
): { info: tf.backend_util.Conv2DInfo; nchw: boolean } {
  const nchw = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat) === 'channelsFirst';
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    nchw ? 'channelsFirst' : 'channelsLast',
  );
  const dyHW = nchw ? dy.shape.slice(2, 4) : dy.shape.slice(1, 3);
  if (dyHW[0] !== info.outHeight || dyHW[1] !== info.outWidth) {
    throw new Error(
      `${kernelName}: dy is ${info.outHeight}x${info.outWidth} for this convolution, got ${dyHW.join('x')}`,
    );
  }
  return { info, nchw };
}
