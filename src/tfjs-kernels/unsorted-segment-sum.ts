import * as tf from '@tensorflow/tfjs';

/**
 * UnsortedSegmentSum on wasm, which has none (tensorflow/tfjs#8082); the
 * gradient of a gather, so of every embedding layer.
 *
 *   out[s, k] = sum over n with segmentIds[n] = s of x[n, k]
 *
 * x is (N, K) once its leading dimensions, those of segmentIds, are flattened.
 * A direct kernel: no stock composition scatters. The cpu backend's, as one
 * masked sum per segment, costs O(numSegments * N * K), which for a
 * vocabulary of thousands is the whole step; this loop is O(N * K). Ids
 * outside [0, numSegments) are dropped, as TensorFlow and the cpu backend do.
 */
function unsortedSegmentSum({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, segmentIds } = inputs as Record<'x' | 'segmentIds', tf.TensorInfo>;
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const b = backend as tf.KernelBackend;
  const N = tf.util.sizeFromShape(segmentIds.shape);
  const K = tf.util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
  const xs = b.readSync(x.dataId) as Float32Array | Int32Array; // xs is (N, K)
  const ids = b.readSync(segmentIds.dataId) as Int32Array; // ids is (N)
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * K) : new Float32Array(numSegments * K); // out is (numSegments, K)
  for (let n = 0; n < N; n++) {
    const s = ids[n];
    if (!(s >= 0 && s < numSegments)) continue;
    const from = n * K;
    const to = s * K;
    for (let k = 0; k < K; k++) out[to + k] += xs[from + k];
  }
  const shape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  return { dataId: b.write(out, shape, x.dtype), shape, dtype: x.dtype };
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum,
};
