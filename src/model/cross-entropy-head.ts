/**
 * Softmax + tfjs-layers' categorical cross-entropy, forward and the backward
 * tfjs autograd runs for it, written out on the host: for the sequential
 * replica's head on the wasm backend.
 *
 * Contract: for p = softmax(z) (n, k) and targets t (n, k), forward() and
 * backward() give value = n * mean_i loss_i and d value / dz, bit for bit what
 * tfjs 4.22 computes on wasm for
 *   tf.valueAndGrad(z => tf.mul(tf.mean(categoricalCrossentropy(t, tf.softmax(z))), n))
 * where categoricalCrossentropy (tfjs-layers losses.js, fromLogits false) is
 *   q = p / sum(p, -1, keepDims); c = clip(q, eps, 1 - eps); loss = -sum(t * log(c), -1).
 * The two transcendental steps stay the backend's kernels (Softmax before,
 * Log between forward and backward); every other step is one float32
 * operation, done here with Math.fround in the order the tape runs its
 * gradient functions (tfjs-core gradients/*_grad.js), and the sums
 * accumulate in float32 from 0, in index order, as the wasm backend's Sum and
 * Mean kernels do (tfjs-backend-wasm kernels/Sum.cc, Mean.cc).
 *
 * Note [why by hand]: through autograd this head was over half of the convnet
 * step's kernels, each a trip through tfjs's engine for a (batch, classes)
 * tensor. Decision: the Softmax and Log kernels and a few hundred float
 * operations on the host, in autograd's order (invariant: Note [wasm only]).
 * Re-measure: `npm run bench:replica` (kernels per step and time).
 *
 * Note [wasm only]: the order of the sums is the wasm kernels'; the cpu
 * backend sums in float64 and rounds once, tfjs-node in Eigen's order. The
 * replica uses this head on wasm only (test/cross-entropy-head.test.ts checks
 * the bits against autograd there, so a change of tfjs's order fails loudly).
 */

import * as tf from '@tensorflow/tfjs';
import type { TensorIo } from './tensor-io.js';

const f = Math.fround;

/**
 * The head for logits z (n, k) and targets t (n, k) on the host: the backend's
 * Softmax and Log kernels around forward(), value() and backward().
 */
export function crossEntropyOnHost(
  logits: tf.Tensor,
  t: Float32Array,
  io: TensorIo,
  eps: number,
): { value: number; dLogits: tf.Tensor; probabilities: tf.Tensor; p: Float32Array } {
  const [n, k] = logits.shape;
  const probabilities = tf.softmax(logits); // p is (n, k)
  const p = new Float32Array(n * k);
  io.read(probabilities, n * k, p, 0);
  const fw = forward(p, n, k, eps);
  const logC = new Float32Array(n * k); // log(c) is (n, k)
  io.read(tf.log(io.make([n, k], (into) => into.set(fw.c))), n * k, logC, 0);
  const dz = backward(fw, p, t);
  return { value: value(fw, logC, t), dLogits: io.make([n, k], (into) => into.set(dz)), probabilities, p };
}

/** What the forward pass keeps for the Log kernel and for backward(). */
export interface CrossEntropyForward {
  readonly n: number;
  readonly k: number;
  /** Each row's sum of probabilities, (n). */
  readonly s: Float32Array;
  /** The normalised probabilities before the clip, (n, k). */
  readonly q: Float32Array;
  /** q clipped to [eps, 1 - eps], (n, k): the Log kernel's input. */
  readonly c: Float32Array;
  /** The clip's bounds as float32, as the kernel and its gradient see them. */
  readonly lo: number;
  readonly hi: number;
}

/** The loss's steps up to its log: p is softmax(z), (n, k); eps is the backend's epsilon(). */
export function forward(p: Float32Array, n: number, k: number, eps: number): CrossEntropyForward {
  const lo = f(eps);
  const hi = f(1 - eps);
  const s = new Float32Array(n); // s is (n): sum(p, -1, keepDims)
  const q = new Float32Array(n * k); // q is (n, k): p / s
  const c = new Float32Array(n * k); // c is (n, k): clip(q, lo, hi)
  for (let i = 0; i < n; i++) {
    const row = i * k;
    let si = 0;
    for (let j = 0; j < k; j++) si = f(si + p[row + j]);
    s[i] = si;
    for (let j = 0; j < k; j++) {
      const qij = f(p[row + j] / si);
      q[row + j] = qij;
      c[row + j] = qij < lo ? lo : qij > hi ? hi : qij; // NaN stays NaN
    }
  }
  return { n, k, s, q, c, lo, hi };
}

/** n * mean_i loss_i from log(c) (the Log kernel's output, (n, k)) and the targets t, (n, k). */
export function value(fw: CrossEntropyForward, logC: Float32Array, t: Float32Array): number {
  const { n, k } = fw;
  let total = 0; // the Mean kernel's float32 sum of the per-sample losses
  for (let i = 0; i < n; i++) {
    let r = 0; // r is sum_j t_ij * log(c_ij)
    for (let j = i * k; j < i * k + k; j++) r = f(r + f(t[j] * logC[j]));
    total = f(total + -r); // the loss is -r
  }
  return f(f(total / n) * n); // tf.mul(tf.mean(loss), n)
}

/** d value / dz, (n, k), for p = softmax(z): the gradient functions in the order the tape runs them. */
export function backward(fw: CrossEntropyForward, p: Float32Array, t: Float32Array): Float32Array {
  const { n, k, s, q, c, lo, hi } = fw;
  // tf.mul(mean, n): d/dmean = 1 * n; Mean: d/dloss_i = n / n = 1 exactly; Neg: d/dr_i = -1;
  // Sum over j: d/d(t * log c)_ij = -1 * 1.
  const dr = -1;
  const dz = new Float32Array(n * k); // dz is (n, k)
  const dq = new Float32Array(k); // one row of d/dq
  for (let i = 0; i < n; i++) {
    const row = i * k;
    const si = s[i];
    // Multiply: d/dlog(c) = dy * t; Log: d/dc = that / c; ClipByValue: passes where lo <= q <= hi, else 0.
    // RealDiv q = p / s, d/ds part: -(sum_j dq_j * p_j) / s^2.
    let ds = 0;
    for (let j = 0; j < k; j++) {
      const x = row + j;
      const dqj = q[x] >= lo && q[x] <= hi ? f(f(dr * t[x]) / c[x]) : 0;
      dq[j] = dqj;
      ds = f(ds + f(dqj * p[x]));
    }
    ds = -f(ds / f(si * si));
    // d/dp = dq / s (RealDiv's a) + ds (the keepDims Sum's gradient), then Softmax's:
    // dz = dp * p - sum_j(dp * p) * p.
    let dot = 0;
    for (let j = 0; j < k; j++) {
      const dpp = f(f(f(dq[j] / si) + f(ds * 1)) * p[row + j]);
      dz[row + j] = dpp;
      dot = f(dot + dpp);
    }
    for (let j = 0; j < k; j++) dz[row + j] = f(dz[row + j] - f(dot * p[row + j]));
  }
  return dz;
}

/**
 * tfjs's categorical or sparse categorical accuracy summed over the rows, as
 * tf.mean(accuracy(y, p)) * n: the rows whose first largest probability (the
 * ArgMax kernel keeps the first of equal maxima, and never moves to or from a
 * NaN) is at their label, p (n, k). For one-hot targets the label is the first
 * largest target, as tfjs's argMax(yTrue) takes it.
 */
export function accuracySum(p: Float32Array, labels: ArrayLike<number>, n: number, k: number): number {
  let hits = 0;
  for (let i = 0; i < n; i++) if (argMax(p, i * k, k) === labels[i]) hits++;
  return f(hits / n) * n; // the Mean kernel's float32 mean of 0s and 1s, times n in float64
}

/** The index of the first largest of x[at..at+k), as the ArgMax kernel finds it. */
export function argMax(x: Float32Array, at: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (x[at + best] < x[at + j]) best = j;
  return best;
}
