import * as tf from '@tensorflow/tfjs';
import { makeLayout, type ParamLayout } from './layout.js';
import type { Clock } from '../profile/record.js';
import type { Batch, ModelDef, Replica } from './types.js';

/**
 * The tutorial's MLP: 784 -> 128 -> 64 -> 10, ReLU between layers, LogSoftmax at
 * the end, trained on the sum of per-sample NLL losses.
 *
 * Parameter layout (flat Float32, layout.ts): one "augmented" weight per layer,
 * `fc{l}` of shape (out, in + 1), row-major: row o is [W[o, 0..in), b[o]]. That is
 * PyTorch's (weight, bias) pair with the bias as an extra last column, which is
 * exactly the layout the fast backward below produces, so gradients leave the
 * backend with one contiguous copy per layer. 784-128-64-10: 128*785 + 64*129 +
 * 10*65 = 109,386 floats.
 */
export interface MlpConfig {
  readonly inputSize: number;
  readonly hidden: readonly number[];
  readonly numClasses: number;
}

interface Layer {
  readonly inSize: number;
  readonly outSize: number;
  readonly offset: number;
}

function layersOf(cfg: MlpConfig): Layer[] {
  const sizes = [cfg.inputSize, ...cfg.hidden, cfg.numClasses];
  const layout = mlpLayout(cfg);
  return layout.segments.map((s, l) => ({ inSize: sizes[l], outSize: sizes[l + 1], offset: s.offset }));
}

export function mlpLayout(cfg: MlpConfig): ParamLayout {
  return makeLayout(mlpDef(cfg).variables);
}

export function mlpDef(cfg: MlpConfig): ModelDef {
  const sizes = [cfg.inputSize, ...cfg.hidden, cfg.numClasses];
  const variables = sizes.slice(1).map((out, l) => ({ name: `fc${l + 1}`, shape: [out, sizes[l] + 1] }));
  return {
    name: `mlp ${sizes.join('-')}`,
    inputSize: cfg.inputSize,
    numClasses: cfg.numClasses,
    variables,
    // PyTorch's nn.Linear default: weight and bias both uniform in ±1/sqrt(fan_in).
    init(params, random) {
      let k = 0;
      for (const v of variables) {
        const [out, inPlus1] = v.shape;
        const bound = 1 / Math.sqrt(inPlus1 - 1);
        for (let i = 0; i < out * inPlus1; i++) params[k++] = (2 * random() - 1) * bound;
      }
    },
  };
}

/**
 * Note [transposed world]: on the wasm backend a matrix product C = A·B packs
 * its second operand B for XNNPACK and caches the pack by B's tensor id. Weights
 * change every step, so `x·W1` would repack 784x128 floats per step (~0.9 ms).
 * Here every weight is the FIRST operand: activations are (features, n), W is
 * (out, in + 1), and the bias rides along as the last column of W against a row
 * of ones appended to the activation. Only activations, fresh every step, get
 * packed. Measured (../shared/measurements/lean-step-probe.md): fwd+bwd at n=8
 * 0.63 ms with public ops vs 1.5-2.6 ms in the standard layout.
 *
 * Note [ghost row]: hidden weights get one extra row [0 … 0 1] so that
 * relu(W·a) ends in a row of ones — the next layer's bias input — without a
 * concat kernel. Its gradient row is never exported.
 *
 * Note [stale pack]: never write new values into a tensor that was a B operand;
 * XNNPACK would multiply with the cached, stale pack. Every tensor here is
 * created fresh within the step and disposed at its end.
 */
export class MlpReplica implements Replica {
  private readonly layers: Layer[];
  private readonly numClasses: number;
  /** Per hidden layer: (out + 1, in + 1) weights with the ghost row preset. */
  private readonly ghosted: Float32Array[];
  private xs = new Float32Array(0);
  private dz = new Float32Array(0);

  constructor(cfg: MlpConfig) {
    this.layers = layersOf(cfg);
    this.numClasses = cfg.numClasses;
    this.ghosted = this.layers.slice(0, -1).map(({ inSize, outSize }) => {
      const w = new Float32Array((outSize + 1) * (inSize + 1));
      w[w.length - 1] = 1;
      return w;
    });
  }

  lossAndGradSum(params: Float32Array, batch: Batch, grad: Float32Array, clock?: Clock): number {
    const n = batch.indices.length;
    const c = this.numClasses;
    const L = this.layers.length;
    return tf.tidy(() => {
      const x = this.input(batch); // x is (n, in + 1): pixels and a ones column
      const ws = this.weights(params); // ws[l] is (out_l [+1 ghost], in_l + 1)
      clock?.('uploaded');
      const acts = this.hidden(ws, x); // acts[l] is (in_l + 1, n): the input of layer l
      const z = tf.matMul(ws[L - 1], acts[L - 1]); // z is (c, n)
      const loss = this.nllGrad(z.dataSync() as Float32Array, batch, n);
      let dz: tf.Tensor2D = tf.tensor2d(this.dz.subarray(0, c * n), [c, n]); // dz is (c, n)
      const gs: tf.Tensor2D[] = [];
      for (let l = L - 1; l >= 0; l--) {
        // x doubles as acts[0]^T: a fresh tensor each step, see Note [stale pack].
        const aT = l === 0 ? x : tf.transpose(acts[l]); // aT is (n, in_l + 1)
        gs[l] = tf.matMul(dz, aT); // gs[l] is (out_l [+1], in_l + 1); the ghost row, if any, is last
        if (l > 0) {
          const da = tf.matMul(tf.transpose(ws[l]), dz); // da is (in_l + 1, n)
          dz = tf.mul(da, tf.step(acts[l])); // relu'(z) = [a > 0]; the ghost row's mask is 1, harmless
        }
      }
      clock?.('computed');
      this.layers.forEach(({ inSize, outSize, offset }, l) => {
        grad.set((gs[l].dataSync() as Float32Array).subarray(0, outSize * (inSize + 1)), offset);
      });
      return loss;
    });
  }

  logProbs(params: Float32Array, batch: Batch): Float32Array {
    const n = batch.indices.length;
    const c = this.numClasses;
    const L = this.layers.length;
    const z = tf.tidy(() => {
      const ws = this.weights(params);
      const acts = this.hidden(ws, this.input(batch));
      return tf.matMul(ws[L - 1], acts[L - 1]).dataSync() as Float32Array; // (c, n)
    });
    const out = new Float32Array(n * c); // (n, c)
    for (let j = 0; j < n; j++) {
      const lse = logSumExpColumn(z, n, c, j);
      for (let k = 0; k < c; k++) out[j * c + k] = z[k * n + j] - lse;
    }
    return out;
  }

  /** acts[0] = x^T, acts[l] = relu(W_{l-1} · acts[l-1]); each (in_l + 1, n). */
  private hidden(ws: tf.Tensor2D[], x: tf.Tensor2D): tf.Tensor2D[] {
    const acts: tf.Tensor2D[] = [tf.transpose(x)];
    for (let l = 0; l < ws.length - 1; l++) acts.push(tf.fused.matMul({ a: ws[l], b: acts[l], activation: 'relu' }) as tf.Tensor2D);
    return acts;
  }

  private input(batch: Batch): tf.Tensor2D {
    const { images, features: f, indices } = batch;
    const n = indices.length;
    const w = f + 1;
    if (this.xs.length < n * w) this.xs = new Float32Array(n * w);
    for (let j = 0; j < n; j++) {
      const i = indices[j];
      this.xs.set(images.subarray(i * f, i * f + f), j * w);
      this.xs[j * w + f] = 1;
    }
    return tf.tensor2d(this.xs.subarray(0, n * w), [n, w]);
  }

  private weights(params: Float32Array): tf.Tensor2D[] {
    return this.layers.map(({ inSize, outSize, offset }, l) => {
      const size = outSize * (inSize + 1);
      const w = this.ghosted[l];
      if (w === undefined) return tf.tensor2d(params.subarray(offset, offset + size), [outSize, inSize + 1]);
      w.set(params.subarray(offset, offset + size));
      return tf.tensor2d(w, [outSize + 1, inSize + 1]);
    });
  }

  /**
   * Softmax + NLL on the host: z is only (c, n), so reading it back is cheaper
   * than the 5 kernels it replaces, and the loss is summed in float64.
   * Fills this.dz (c, n) with softmax - onehot; returns sum_j -log p_j[y_j].
   */
  private nllGrad(z: Float32Array, batch: Batch, n: number): number {
    const c = this.numClasses;
    if (this.dz.length < c * n) this.dz = new Float32Array(c * n);
    let loss = 0;
    for (let j = 0; j < n; j++) {
      const y = batch.labels[batch.indices[j]];
      const lse = logSumExpColumn(z, n, c, j);
      loss += lse - z[y * n + j];
      for (let k = 0; k < c; k++) this.dz[k * n + j] = Math.exp(z[k * n + j] - lse) - (k === y ? 1 : 0);
    }
    return loss;
  }
}

/** log sum_k exp(z[k, j]) for column j of a (c, n) matrix, stable. */
function logSumExpColumn(z: Float32Array, n: number, c: number, j: number): number {
  let max = -Infinity;
  for (let k = 0; k < c; k++) max = Math.max(max, z[k * n + j]);
  let s = 0;
  for (let k = 0; k < c; k++) s += Math.exp(z[k * n + j] - max);
  return max + Math.log(s);
}

/** The same MLP in the standard (n, features) layout, for the generic autograd replica. */
export function mlpLogits(cfg: MlpConfig): (params: tf.Tensor[], x: tf.Tensor2D) => tf.Tensor2D {
  const layers = layersOf(cfg);
  return (params, x) => {
    let h: tf.Tensor2D = x; // h is (n, in)
    layers.forEach(({ inSize, outSize }, l) => {
      const wa = params[l] as tf.Tensor2D; // wa is (out, in + 1)
      const w = tf.slice(wa, [0, 0], [outSize, inSize]); // w is (out, in)
      const b = tf.reshape(tf.slice(wa, [0, inSize], [outSize, 1]), [outSize]); // b is (out)
      const z = tf.add(tf.matMul(h, w, false, true), b) as tf.Tensor2D; // z is (n, out)
      h = l < layers.length - 1 ? tf.relu(z) : z;
    });
    return h;
  };
}
