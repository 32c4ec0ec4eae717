// The softmax + cross-entropy head on the host (src/model/cross-entropy-head.ts) against tfjs
// autograd on the wasm backend: the value and every element of d/dlogits, bit for bit, for
// ordinary and extreme logits (the clip active at both ends), one-hot, soft, zero and negative
// targets, 1 to 33 rows and 2 to 10 classes; no tensor left. Its Note [wasm only] rests on this.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../dist/src/backend.js';
import { accuracySum, crossEntropyOnHost } from '../dist/src/model/cross-entropy-head.js';
import { currentIo } from '../dist/src/model/tensor-io.js';
import { Rng } from '../dist/src/rng.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/** What autograd computes for the head (the sequential replica's autograd head, LayersReplica's loss). */
function autograd(z: tf.Tensor, t: tf.Tensor, n: number): { value: number; grad: Float32Array } {
  return tf.tidy(() => {
    const scaled = (x: tf.Tensor): tf.Scalar =>
      tf.mul(tf.mean(tf.metrics.categoricalCrossentropy(t, tf.softmax(x, -1))), n);
    const { value, grad } = tf.valueAndGrad(scaled)(z);
    return { value: value.dataSync()[0], grad: grad.dataSync() as Float32Array };
  });
}

type Targets = 'one-hot' | 'soft' | 'zero rows' | 'negative';

function targets(rng: Rng, n: number, k: number, kind: Targets): Float32Array {
  const t = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    if (kind === 'one-hot') t[i * k + rng.int(k)] = 1;
    else if (kind === 'soft') for (let j = 0; j < k; j++) t[i * k + j] = rng.next() / k;
    else if (kind === 'zero rows') t[i * k + rng.int(k)] = i % 2;
    else for (let j = 0; j < k; j++) t[i * k + j] = rng.next() - 0.5;
  }
  return t;
}

describe('crossEntropyOnHost against tfjs autograd on wasm', () => {
  const cases: [number, number, number, Targets][] = [
    [1, 10, 1, 'one-hot'],
    [7, 10, 3, 'one-hot'],
    [32, 10, 3, 'soft'],
    [33, 3, 2, 'zero rows'],
    [5, 2, 1, 'negative'],
    [32, 10, 40, 'one-hot'], // softmax saturates: q below eps and above 1 - eps, the clip passes no gradient there
    [16, 7, 90, 'soft'], // p underflows to 0 in places
  ];
  it.each(cases)(
    '%i rows, %i classes, logits scale %i, %s targets: the value and d/dlogits bit for bit',
    (n, k, scale, kind) => {
      const rng = new Rng(n * 100 + k);
      const logits = Float32Array.from({ length: n * k }, () => scale * (rng.next() - 0.5));
      const t = targets(rng, n, k, kind);
      const z = tf.tensor2d(logits, [n, k]);
      const y = tf.tensor2d(t, [n, k]);
      const want = autograd(z, y, n);
      const before = tf.memory().numTensors;
      const got = tf.tidy(() => {
        const { value, dLogits, probabilities } = crossEntropyOnHost(z, t, currentIo(), tf.backend().epsilon());
        expect(probabilities.shape).toEqual([n, k]);
        return { value, grad: dLogits.dataSync() as Float32Array };
      });
      expect(tf.memory().numTensors).toBe(before);
      expect(got.value).toBe(want.value);
      expect(
        got.grad.findIndex((v, i) => !Object.is(v, want.grad[i])),
        'first element of d/dlogits that differs',
      ).toBe(-1);
      if (scale === 40) expect(got.grad.some((v) => v === 0)).toBe(true); // the clip's zero gradient was reached
      tf.dispose([z, y]);
    },
  );
});

describe('accuracySum against tfjs on wasm', () => {
  // ties (the first maximum counts), a NaN first and later, a row of zeros, labels beyond k
  const k = 4;
  const rows = [
    [0.1, 0.4, 0.4, 0.1],
    [0.3, 0.3, 0.2, 0.2],
    [NaN, 0.5, 0.2, 0.3],
    [0.2, NaN, 0.7, 0.1],
    [0, 0, 0, 0],
    [0.1, 0.2, 0.3, 0.4],
    [0.7, 0.1, 0.1, 0.1],
  ];
  const p = Float32Array.from(rows.flat());
  const n = rows.length;
  it.each([
    ['one-hot targets (categorical accuracy)', 'categorical'],
    ['class indices (sparse categorical accuracy)', 'sparse'],
  ] as const)('%s: the sum tf.mean(metric) * n gives, for ties, NaN and labels beyond k', (_, kind) => {
    const labels = [1, 0, 0, 2, 0, 3, 5];
    const want = tf.tidy(() => {
      const yPred = tf.tensor2d(p, [n, k]);
      const m =
        kind === 'categorical'
          ? tf.metrics.categoricalAccuracy(tf.oneHot(tf.tensor1d(labels, 'int32'), k), yPred)
          : tf.metrics.sparseCategoricalAccuracy(tf.tensor2d(labels, [n, 1]), yPred);
      return tf.mean(m).dataSync()[0] * n;
    });
    // tfjs's one-hot of a label beyond k is a zero row, whose argMax is 0
    const hostLabels = kind === 'categorical' ? labels.map((c) => (c < k ? c : 0)) : labels;
    expect(accuracySum(p, hostLabels, n, k)).toBe(want);
    // every row hits but the last with class indices: a NaN never becomes nor loses the maximum,
    // and the one-hot of label 5 is a zero row whose argMax, 0, meets the last row's
    expect(want).toBe(Math.fround((kind === 'categorical' ? 7 : 6) / n) * n);
  });
});
