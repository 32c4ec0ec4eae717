import * as tf from '@tensorflow/tfjs';
import { direct } from './heap.js';

/**
 * UnsortedSegmentSum on wasm, which has none (tensorflow/tfjs#8082); the
 * gradient of a gather, so of every embedding layer.
 *
 *   out[s, k] = sum over n with segmentIds[n] = s of x[n, k]
 *
 * x is (N, K) once its leading dimensions, those of segmentIds, are flattened.
 * A direct kernel, one pass over x: O(N * K). The cpu backend's, one masked
 * sum per segment, is O(numSegments * N * K), which for a vocabulary of
 * thousands is the whole step. Ids outside [0, numSegments) are dropped, as
 * TensorFlow and the cpu backend do.
 */
function unsortedSegmentSum({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, segmentIds } = inputs as Record<'x' | 'segmentIds', tf.TensorInfo>;
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const N = tf.util.sizeFromShape(segmentIds.shape);
  const K = tf.util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
  const shape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const dtype = x.dtype === 'int32' ? 'int32' : 'float32';
  // out is (numSegments, K), xs (N, K), ids (N)
  return direct(backend as tf.KernelBackend, [x, segmentIds], shape, dtype, (out, [xs, ids]) => {
    for (let n = 0; n < N; n++) {
      const s = ids[n];
      if (!(s >= 0 && s < numSegments)) continue;
      const from = n * K;
      const to = s * K;
      for (let k = 0; k < K; k++) out[to + k] += xs[from + k];
    }
  });
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum,
};
