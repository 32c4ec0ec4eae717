import * as tf from '@tensorflow/tfjs';
import type { Clock } from '../profile/record.js';
import type { ParamLayout } from './layout.js';
import type { Batch, Replica } from './types.js';

/** Logits (n, classes) from the params (shaped per the layout's segments) and x (n, features). */
export type LogitsFn = (params: tf.Tensor[], x: tf.Tensor2D) => tf.Tensor2D;

/**
 * The generic path: any model written as a tfjs function of its declared
 * variables, differentiated by tfjs autograd (tf.valueAndGrads). Public API
 * only. It is the reference the fast MLP backward is tested against, and the way
 * user-defined models train before they have a hand-written backward.
 */
export class AutogradReplica implements Replica {
  constructor(
    private readonly layout: ParamLayout,
    private readonly numClasses: number,
    private readonly logits: LogitsFn,
  ) {}

  lossAndGradSum(params: Float32Array, batch: Batch, grad: Float32Array, clock?: Clock): number {
    return tf.tidy(() => {
      const x = gather(batch); // x is (n, features)
      const onehot = tf.oneHot(labelsOf(batch), this.numClasses); // onehot is (n, classes)
      const ps = this.tensors(params);
      clock?.('uploaded');
      const sumNll = (...p: tf.Tensor[]): tf.Scalar =>
        tf.neg(tf.sum(tf.mul(tf.logSoftmax(this.logits(p, x)), onehot))) as tf.Scalar;
      const { value, grads } = tf.valueAndGrads(sumNll)(ps);
      clock?.('computed');
      this.layout.segments.forEach((s, i) => grad.set(grads[i].dataSync() as Float32Array, s.offset));
      return value.dataSync()[0];
    });
  }

  logProbs(params: Float32Array, batch: Batch): Float32Array {
    return tf.tidy(() => tf.logSoftmax(this.logits(this.tensors(params), gather(batch))).dataSync() as Float32Array);
  }

  private tensors(params: Float32Array): tf.Tensor[] {
    return this.layout.segments.map((s) => tf.tensor(params.slice(s.offset, s.offset + s.size), [...s.shape]));
  }
}

function gather({ images, features: f, indices }: Batch): tf.Tensor2D {
  const x = new Float32Array(indices.length * f);
  indices.forEach((i, j) => x.set(images.subarray(i * f, i * f + f), j * f));
  return tf.tensor2d(x, [indices.length, f]);
}

function labelsOf({ labels, indices }: Batch): tf.Tensor1D {
  return tf.tensor1d(
    Int32Array.from(indices, (i) => labels[i]),
    'int32',
  );
}
