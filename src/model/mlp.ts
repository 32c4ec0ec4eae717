import * as tf from '@tensorflow/tfjs';
import { makeLayout, type ParamLayout } from './layout.js';
import type { Clock } from '../profile/record.js';
import { currentIo, type TensorIo } from './tensor-io.js';
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
 * change every step, so `x·W1` would repack 784x128 floats every step.
 * Decision: every weight is the FIRST operand: activations are (features, n), W
 * is (out, in + 1), and the bias rides along as the last column of W against a
 * row of ones appended to the activation, so only activations, fresh every
 * step, get packed (and with our BatchMatMul and _FusedMatMul, Note [no pack] in
 * tfjs-kernels/batch-mat-mul.ts, nothing is). Invariant: the gradient equals
 * autograd's on the standard layout (test/equivalence.test.ts). Re-measure:
 * `npm run bench:scaling -- --rows lean,strong-1` (docs/performance.md).
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
  private z = new Float32Array(0);

  /** `io` defaults to the wasm heap path on the wasm backend, else the public API (tensor-io.ts). */
  constructor(
    cfg: MlpConfig,
    readonly io: TensorIo = currentIo(),
  ) {
    this.layers = layersOf(cfg);
    this.numClasses = cfg.numClasses;
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
      const z = this.logits(ws[L - 1], acts[L - 1], n); // z is (c, n), on the host
      let loss = 0;
      // dz = softmax(z) - onehot(y), per column: Note [host softmax]
      let dz = this.make2d([c, n], (d) => {
        for (let j = 0; j < n; j++) {
          const y = batch.labels[batch.indices[j]];
          const lse = logSumExpColumn(z, n, c, j);
          loss += lse - z[y * n + j];
          for (let k = 0; k < c; k++) d[k * n + j] = Math.exp(z[k * n + j] - lse) - (k === y ? 1 : 0);
        }
      });
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
      this.layers.forEach(({ inSize, outSize, offset }, l) =>
        this.io.read(gs[l], outSize * (inSize + 1), grad, offset),
      );
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
      return this.logits(ws[L - 1], acts[L - 1], n);
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
    for (let l = 0; l < ws.length - 1; l++)
      acts.push(tf.fused.matMul({ a: ws[l], b: acts[l], activation: 'relu' }) as tf.Tensor2D);
    return acts;
  }

  /**
   * Note [host softmax]: the logits are only (c, n), so reading them to the host
   * costs less than the ~5 kernels a device softmax + NLL would, and the loss is
   * summed in float64. Returns a reused buffer: read it before the next call.
   */
  private logits(w: tf.Tensor2D, a: tf.Tensor2D, n: number): Float32Array {
    const size = this.numClasses * n;
    if (this.z.length < size) this.z = new Float32Array(size);
    this.io.read(tf.matMul(w, a), size, this.z, 0); // (c, n)
    return this.z;
  }

  /** io.make for the 2-D tensors this replica computes with. */
  private make2d(shape: [number, number], fill: (into: Float32Array) => void): tf.Tensor2D {
    return this.io.make(shape, fill) as tf.Tensor2D;
  }

  private input({ images, features: f, indices }: Batch): tf.Tensor2D {
    const w = f + 1;
    return this.make2d([indices.length, w], (x) => {
      for (let j = 0; j < indices.length; j++) {
        const i = indices[j];
        x.set(images.subarray(i * f, i * f + f), j * w);
        x[j * w + f] = 1;
      }
    });
  }

  private weights(params: Float32Array): tf.Tensor2D[] {
    const L = this.layers.length;
    return this.layers.map(({ inSize, outSize, offset }, l) => {
      const size = outSize * (inSize + 1);
      const ghost = l < L - 1 ? 1 : 0; // Note [ghost row]
      return this.make2d([outSize + ghost, inSize + 1], (w) => {
        w.set(params.subarray(offset, offset + size));
        if (ghost === 1) {
          w.fill(0, size, size + inSize);
          w[size + inSize] = 1;
        }
      });
    });
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
