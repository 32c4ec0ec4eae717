import * as tf from '@tensorflow/tfjs';
import { Rng, deriveSeed } from '../rng.js';

/** The tutorial MLP's sizes: inputSize -> hidden[0] -> ... -> numClasses. */
export interface MlpConfig {
  readonly inputSize: number;
  readonly hidden: readonly number[];
  /** Outputs: classes, or with the regression head the targets per sample. */
  readonly numClasses: number;
  /**
   * The last layer and the loss: 'classes' (default) softmax, categorical
   * cross-entropy and accuracy; 'regression' linear, mean squared error and mean
   * absolute error.
   */
  readonly head?: MlpHead;
}

export type MlpHead = 'classes' | 'regression';

/** "784-128-64-10". */
export function describeSizes(cfg: MlpConfig): string {
  return [cfg.inputSize, ...cfg.hidden, cfg.numClasses].join('-');
}

/**
 * The tutorial's MLP as an ordinary tf.Sequential: Dense layers `fc1`, `fc2`, ...
 * with ReLU between them and softmax last, compiled with categorical
 * cross-entropy, accuracy and SGD at `lr` (the regression head: a linear last
 * layer, mean squared error and mean absolute error). It is what the CLI and Trainer.create
 * train when given no model, on the same path as every user model
 * (fit/spec.ts -> model/layers-replica.ts, sequential-replica.ts). The caller
 * disposes it, and its optimizer (model.dispose() leaves a given optimizer).
 *
 * Initial weights: PyTorch's nn.Linear default, weight and bias uniform in
 * ±1/sqrt(fan_in), drawn from the seed's stream in PyTorch's order (per layer,
 * each output row's weights, then its bias) and transposed into Dense's
 * (in, out) kernel (test/pytorch.test.ts trains it beside PyTorch's).
 *
 * Note [the tutorial's head]: PyTorch's LogSoftmax + NLL becomes softmax +
 * categorical cross-entropy, -log(clip(p_y, eps, 1 - eps)) with tfjs's eps 1e-7:
 * the same loss and gradient wherever 1e-7 <= p_y <= 1 - 1e-7, i.e. except for
 * samples already classified with certainty to float32's resolution. Decision:
 * the head every tfjs classifier uses, so one path trains every model, and its
 * host-side backward (model/cross-entropy-head.ts) is the fast one. Invariant:
 * the tutorial curve of the former LogSoftmax head within 0.002 per epoch
 * (docs/performance.md). Re-measure: `npm run train -- --workers 2`.
 */
export function tutorialMlp(cfg: MlpConfig, seed: number, lr = 0.003): tf.Sequential {
  const sizes = [cfg.inputSize, ...cfg.hidden, cfg.numClasses];
  const regression = cfg.head === 'regression';
  const model = tf.sequential({ name: 'worker_ddp_mlp' });
  const rng = new Rng(deriveSeed(seed, -1));
  for (let l = 0; l + 1 < sizes.length; l++) {
    const [inSize, out] = [sizes[l], sizes[l + 1]];
    const dense = tf.layers.dense({
      name: `fc${l + 1}`,
      units: out,
      activation: l + 2 < sizes.length ? 'relu' : regression ? 'linear' : 'softmax',
      kernelInitializer: 'zeros',
      ...(l === 0 ? { inputShape: [inSize] } : {}),
    });
    model.add(dense);
    const bound = 1 / Math.sqrt(inSize);
    const kernel = new Float32Array(inSize * out); // kernel is (in, out)
    const bias = new Float32Array(out); // bias is (out)
    for (let o = 0; o < out; o++) {
      for (let i = 0; i < inSize; i++) kernel[i * out + o] = (2 * rng.next() - 1) * bound;
      bias[o] = (2 * rng.next() - 1) * bound;
    }
    tf.tidy(() => dense.setWeights([tf.tensor2d(kernel, [inSize, out]), tf.tensor1d(bias)]));
  }
  const [loss, metric] = regression ? ['meanSquaredError', 'mae'] : ['categoricalCrossentropy', 'acc'];
  model.compile({ optimizer: tf.train.sgd(lr), loss, metrics: [metric] });
  return model;
}
