import * as tf from '@tensorflow/tfjs';
import type { Clock } from '../profile/record.js';
import { biasRelu } from '../tfjs-kernels/bias-relu.js';
import { reluGradient } from '../tfjs-kernels/relu-grad.js';
import { accuracySum, argMax, crossEntropyOnHost } from './cross-entropy-head.js';
import type { LayersReplica } from './layers-replica.js';
import { makeLayout } from './layout.js';
import type { Batch, EvalSums, WorkerModel } from './types.js';

/**
 * The generic path without the gradient tape, for the tf.Sequential models it
 * can write out: conv2d (channels last, dilation 1, any strides and padding),
 * maxPooling2d, flatten and dense layers, hidden activations ReLU or linear,
 * ending in a dense layer with any of softmax, sigmoid, linear or ReLU; no
 * regularizers, no frozen layers; a batch with per-sample loss weights
 * (classWeight) it hands to LayersReplica.
 *
 * Contract: lossAndGradSum gives what LayersReplica's does (the shard's
 * n * mean loss, its gradient and the metrics' sums), bit for bit: the forward
 * runs the kernels tfjs-layers runs under the gradient tape (Note [same
 * kernels]), the backward those tfjs's gradients run, layer by layer (conv:
 * the filter and input gradients, bias: a sum, pooling: MaxPoolGrad, ReLU: its
 * gradient kernel, dense: two products). The head, the last activation and
 * the loss, is softmax with a named cross-entropy written out on the host on
 * wasm (cross-entropy-head.ts, tfjs autograd's float operations in its order),
 * else tfjs autograd on the logits, so every tfjs loss keeps its exact
 * semantics. Evaluation runs the same forward and head (Note [evaluation on
 * the training path]); prediction and the non-trainable weights are LayersReplica's.
 *
 * Note [same kernels]: tfjs-layers' conv and dense layers call tfjs's fused
 * ops, which under the tape unfuse with a ReLU (conv2d or matMul, add, relu)
 * and stay fused when linear (one FusedConv2D or _FusedMatMul); a softmax or
 * sigmoid head's product is a _FusedMatMul without bias, then the bias added.
 * conv() and dense() below make the same choice, so the bits match
 * (test/sequential-replica.test.ts compares every element).
 *
 * Note [why no tape]: under tfjs autograd the convnet's step ran several times
 * the kernels it needs, and tfjs's bookkeeping (the tape, its saves, tidy
 * scopes, tfjs-layers' apply) was a sizeable share of it. Decision: for the
 * layers above, the forward runs tfjs-layers' kernels and the backward is
 * written out layer by layer, with the softmax + cross-entropy head on the host
 * (cross-entropy-head.ts). Invariant: the same loss and gradient bits as
 * autograd (Note [same kernels]; test/sequential-replica.test.ts); anything
 * else stays on LayersReplica. Re-measure: `npm run bench:replica` (checks the
 * bits, then times both paths and counts their kernels; docs/performance.md).
 */
export class SequentialReplica implements WorkerModel {
  private constructor(
    private readonly layers: LayersReplica,
    private readonly stages: readonly Stage[],
    private readonly head: Head,
  ) {}

  /** The tape-free replica of `layers`' model, or undefined where it has something this does not write out. */
  static over(layers: LayersReplica): SequentialReplica | undefined {
    const model = layers.model;
    if (model.getClassName() !== 'Sequential' || model.nonTrainableWeights.length > 0) return undefined;
    const all = model.layers;
    const { segments } = makeLayout(layers.spec.trainable);
    const stages: Stage[] = [];
    let weight = 0; // the next segment of the flat parameters (model.trainableWeights order)
    let rank = layers.spec.inputShape.length + 1;
    const take = (shape: readonly number[]): Weight | undefined => {
      const s = segments[weight];
      if (s === undefined || s.shape.join(',') !== shape.join(',')) return undefined;
      weight++;
      return { offset: s.offset, shape: [...s.shape] };
    };
    let head: Head | undefined;
    for (const [i, layer] of all.entries()) {
      const c = layer.getConfig() as Record<string, unknown>;
      if (!layer.trainable || hasRegularizer(c)) return undefined;
      const last = i === all.length - 1;
      const kind = layer.getClassName();
      if (kind === 'Conv2D' && rank === 4 && !last) {
        const relu = hiddenActivation(c.activation);
        const kernel = take(layer.trainableWeights[0]?.shape as number[]);
        const bias = c.useBias === true ? take(layer.trainableWeights[1]?.shape as number[]) : undefined;
        if (relu === undefined || kernel === undefined || (c.useBias === true && bias === undefined)) return undefined;
        if (
          c.dataFormat !== 'channelsLast' ||
          !pair(c.dilationRate, 1) ||
          (c.padding !== 'same' && c.padding !== 'valid')
        )
          return undefined;
        stages.push({ kind: 'conv', kernel, bias, relu, strides: c.strides as [number, number], pad: c.padding });
      } else if (kind === 'MaxPooling2D' && rank === 4 && !last) {
        if (c.dataFormat !== 'channelsLast' || (c.padding !== 'same' && c.padding !== 'valid')) return undefined;
        stages.push({
          kind: 'pool',
          size: c.poolSize as [number, number],
          strides: c.strides as [number, number],
          pad: c.padding,
        });
      } else if (kind === 'Flatten' && !last) {
        stages.push({ kind: 'flatten' });
        rank = 2;
      } else if (kind === 'Dense' && rank === 2) {
        const kernel = take(layer.trainableWeights[0]?.shape as number[]);
        const bias = c.useBias === true ? take(layer.trainableWeights[1]?.shape as number[]) : undefined;
        if (kernel === undefined || (c.useBias === true && bias === undefined)) return undefined;
        if (last) {
          const activation = HEADS[String(c.activation)];
          if (activation === undefined) return undefined;
          const a = String(c.activation);
          stages.push({
            kind: 'dense',
            kernel,
            bias,
            relu: false,
            product: a === 'relu' ? 'unfused' : a === 'linear' ? 'fused-bias' : 'fused',
          });
          head = chooseHead(layers, a, activation);
        } else {
          const relu = hiddenActivation(c.activation);
          if (relu === undefined) return undefined;
          stages.push({ kind: 'dense', kernel, bias, relu, product: relu ? 'unfused' : 'fused-bias' });
        }
      } else {
        return undefined;
      }
    }
    if (head === undefined || weight !== segments.length) return undefined;
    return new SequentialReplica(layers, stages, head);
  }

  lossAndGradSum(
    params: Float32Array,
    batch: Batch,
    grad: Float32Array,
    clock?: Clock,
    metricSums?: Float64Array,
  ): number {
    // Per-sample loss weights (classWeight): the head here does not weigh; LayersReplica does, as tfjs.
    if (batch.sampleWeights !== undefined) return this.layers.lossAndGradSum(params, batch, grad, clock, metricSums);
    return tf.tidy(() => {
      const { ws, ins, outs } = this.forward(params, batch, clock);
      const { value, dLogits } = this.head(outs[outs.length - 1], batch, metricSums); // dLogits is (n, ...outputShape)
      // Backward, stage by stage; d is the gradient of the stage's output.
      let d = dLogits;
      for (let i = this.stages.length - 1; i >= 0; i--) {
        const s = this.stages[i];
        const w = ws[i];
        const input = ins[i];
        const first = i === 0;
        if (s.kind === 'conv' && w !== undefined) {
          if (s.relu) d = reluGradient(d, outs[i]);
          const attrs = { strides: s.strides, pad: s.pad, dataFormat: 'NHWC' };
          this.export(
            run(tf.Conv2DBackpropFilter, { x: input, dy: d }, { ...attrs, filterShape: s.kernel.shape }),
            s.kernel,
            grad,
          );
          if (s.bias !== undefined) this.export(tf.sum(d, [0, 1, 2]), s.bias, grad);
          if (!first)
            d = run(tf.Conv2DBackpropInput, { dy: d, filter: w.kernel }, { ...attrs, inputShape: input.shape });
        } else if (s.kind === 'pool') {
          d = run(
            tf.MaxPoolGrad,
            { dy: d, input, output: outs[i] },
            { filterSize: s.size, strides: s.strides, pad: s.pad },
          );
        } else if (s.kind === 'flatten') {
          d = tf.reshape(d, input.shape);
        } else if (s.kind === 'dense' && w !== undefined) {
          if (s.relu) d = reluGradient(d, outs[i]);
          this.export(tf.matMul(input as tf.Tensor2D, d as tf.Tensor2D, true, false), s.kernel, grad); // (in, units)
          if (s.bias !== undefined) this.export(tf.sum(d, 0), s.bias, grad);
          if (!first) d = tf.matMul(d as tf.Tensor2D, w.kernel as tf.Tensor2D, false, true); // (n, in)
        }
      }
      clock?.('computed');
      return value;
    });
  }

  /**
   * Note [evaluation on the training path]: the loss and metrics of the training
   * forward and head, not tfjs-layers' inference (model.apply with its fused
   * kernels): the same values up to float rounding, and the workers' JavaScript
   * stays on the path V8 optimised for the steps, where an evaluation through
   * tfjs-layers left the next epoch's steps slower while V8 re-optimised them.
   * Re-measure: `npm run train -- --workers 2 --epochs 4 --json` (samples/s of
   * epoch 2 against epoch 4). Per-sample weights stay on LayersReplica.
   */
  evaluate(params: Float32Array, batch: Batch): EvalSums {
    if (batch.sampleWeights !== undefined) return this.layers.evaluate(params, batch);
    const metricSums = new Float64Array(this.layers.spec.metricNames.length);
    const lossSum = tf.tidy(() => {
      const { outs } = this.forward(params, batch);
      return this.head(outs[outs.length - 1], batch, metricSums).value;
    });
    return { lossSum, metricSums: Array.from(metricSums) };
  }

  /** The weights as tensors, and each stage's input and output (the last: the logits), for the batch. */
  private forward(
    params: Float32Array,
    batch: Batch,
    clock?: Clock,
  ): { ws: (Weights | undefined)[]; ins: tf.Tensor[]; outs: tf.Tensor[] } {
    const n = batch.indices.length;
    const { io } = this.layers;
    const weight = (w: Weight): tf.Tensor =>
      io.make(w.shape, (into) => into.set(params.subarray(w.offset, w.offset + into.length)));
    const ws = this.stages.map((s) =>
      s.kind === 'conv' || s.kind === 'dense'
        ? { kernel: weight(s.kernel), bias: s.bias === undefined ? undefined : weight(s.bias) }
        : undefined,
    );
    const x = this.layers.inputs(batch); // x is (n, ...inputShape)
    clock?.('uploaded');
    const ins: tf.Tensor[] = [];
    const outs: tf.Tensor[] = [];
    let h = x;
    this.stages.forEach((s, i) => {
      ins.push(h);
      const w = ws[i];
      if (s.kind === 'conv' && w !== undefined) {
        h = conv(h as tf.Tensor4D, w, s); // (n, Ho, Wo, filters)
      } else if (s.kind === 'pool') {
        h = tf.maxPool(h as tf.Tensor4D, s.size, s.strides, s.pad); // (n, Ho, Wo, C)
      } else if (s.kind === 'flatten') {
        h = tf.reshape(h, [n, -1]); // (n, features)
      } else if (s.kind === 'dense' && w !== undefined) {
        h = dense(h as tf.Tensor2D, w, s); // (n, units)
      }
      outs.push(h);
    });
    return { ws, ins, outs };
  }

  predict(params: Float32Array, batch: Batch): Float32Array {
    return this.layers.predict(params, batch);
  }

  nonTrainable(): Float32Array {
    return this.layers.nonTrainable();
  }

  private export(g: tf.Tensor, w: Weight, grad: Float32Array): void {
    this.layers.io.read(g, g.size, grad, w.offset);
  }
}

/** The generic path's fastest replica for `layers`' model: the tape-free one where it allows it, else tfjs autograd. */
export function fastestReplica(layers: LayersReplica): WorkerModel {
  return SequentialReplica.over(layers) ?? layers;
}

/** A weight's place in the flat parameters and its shape. */
interface Weight {
  readonly offset: number;
  readonly shape: number[];
}

type Stage =
  | {
      readonly kind: 'conv';
      readonly kernel: Weight;
      readonly bias: Weight | undefined;
      readonly relu: boolean;
      readonly strides: [number, number];
      readonly pad: 'same' | 'valid';
    }
  | {
      readonly kind: 'pool';
      readonly size: [number, number];
      readonly strides: [number, number];
      readonly pad: 'same' | 'valid';
    }
  | { readonly kind: 'flatten' }
  | {
      readonly kind: 'dense';
      readonly kernel: Weight;
      readonly bias: Weight | undefined;
      readonly relu: boolean;
      readonly product: Product;
    };

/**
 * Which kernels tfjs-layers' Dense runs under the gradient tape, which decides the bits:
 * 'unfused' (ReLU: its fused op unfuses there) matMul, then the bias added; 'fused-bias'
 * (linear) one _FusedMatMul with the bias; 'fused' (an activation tfjs cannot fuse:
 * softmax, sigmoid) a _FusedMatMul without bias, then the bias added.
 */
type Product = 'unfused' | 'fused-bias' | 'fused';

/** The last layer's activation and the loss on the logits, for the batch's targets: n * mean loss and its gradient; the metrics' sums into metricSums. */
type Head = (
  logits: tf.Tensor,
  batch: Batch,
  metricSums: Float64Array | undefined,
) => { value: number; dLogits: tf.Tensor };

/**
 * Softmax with a named cross-entropy on the wasm backend: on the host (cross-entropy-head.ts,
 * its Note [wasm only]), and with it the accuracy ('acc' or 'accuracy': no ArgMax, Equal, Cast
 * and Mean kernels); any other head: the activation and the loss through tfjs autograd, so
 * every tfjs loss keeps its exact semantics (the cross-entropy's clip included).
 */
function chooseHead(layers: LayersReplica, name: string, activation: (z: tf.Tensor) => tf.Tensor): Head {
  const { loss, metrics, spec, io } = layers;
  const sparse = spec.loss.name === 'sparseCategoricalCrossentropy' && spec.targets === 'index';
  const k = spec.outputShape[spec.outputShape.length - 1];
  if (
    name === 'softmax' &&
    spec.loss.source === undefined &&
    (spec.loss.name === 'categoricalCrossentropy' || sparse) &&
    k > 1 &&
    tf.getBackend() === 'wasm'
  ) {
    const eps = tf.backend().epsilon();
    // tfjs-layers' compile makes 'acc' and 'accuracy' the categorical accuracy, or the sparse one for a sparse loss, when k > 1
    const lined = spec.metrics.length === metrics.length;
    const onHost = spec.metrics.map(
      (m) => lined && m.source === undefined && (m.name === 'acc' || m.name === 'accuracy'),
    );
    return (logits, batch, metricSums) => {
      const n = batch.indices.length;
      const t = new Float32Array(n * k); // t is (n, k)
      const labels = new Float32Array(n); // each row's class: for accuracy
      // The targets straight into host arrays; a tensor of them only for a metric through tfjs.
      if (sparse) {
        layers.targetRows(batch).fill(labels); // class indices: one-hot rows, a label beyond k a zero row as tf.oneHot's
        labels.forEach((c, i) => c < k && (t[i * k + c] = 1));
      } else {
        layers.targetRows(batch).fill(t);
        labels.forEach((_, i) => (labels[i] = argMax(t, i * k, k)));
      }
      const { value, dLogits, probabilities, p } = crossEntropyOnHost(logits, t, io, eps);
      let y: tf.Tensor | undefined;
      metricSums?.set(
        metrics.map((m, i) =>
          onHost[i]
            ? accuracySum(p, labels, n, k)
            : tf.mean(m((y ??= layers.targets(batch)), probabilities)).dataSync()[0] * n,
        ),
      );
      return { value, dLogits };
    };
  }
  return (logits, batch, metricSums) => {
    const n = batch.indices.length;
    const y = layers.targets(batch); // y is (n, ...outputShape) or (n, 1) of class indices
    const scaled = (z: tf.Tensor): tf.Scalar => tf.mul(tf.mean(loss(y, activation(z))), n);
    const { value, grad } = tf.valueAndGrad(scaled)(logits);
    if (metricSums !== undefined) {
      const yPred = activation(logits);
      metricSums.set(metrics.map((m) => tf.mean(m(y, yPred)).dataSync()[0] * n));
    }
    return { value: value.dataSync()[0], dLogits: grad };
  };
}

/** tfjs-layers' activations as they apply them (softmax over the last axis). */
const HEADS: Readonly<Record<string, (z: tf.Tensor) => tf.Tensor>> = {
  softmax: (z) => tf.softmax(z, -1),
  sigmoid: (z) => tf.sigmoid(z),
  linear: (z) => z,
  relu: (z) => tf.relu(z),
};

/** A hidden layer's activation: true for ReLU, false for linear, undefined for any other. */
function hiddenActivation(a: unknown): boolean | undefined {
  return a === 'relu' ? true : a === 'linear' ? false : undefined;
}

function hasRegularizer(c: Record<string, unknown>): boolean {
  return ['kernelRegularizer', 'biasRegularizer', 'activityRegularizer'].some(
    (k) => c[k] !== undefined && c[k] !== null,
  );
}

function pair(v: unknown, n: number): boolean {
  return Array.isArray(v) ? v.every((x) => x === n) : v === n;
}

type Weights = { readonly kernel: tf.Tensor; readonly bias: tf.Tensor | undefined };

/**
 * A conv layer as tfjs-layers runs it under the gradient tape (conv2dWithBiasActivation):
 * with a ReLU, conv2d, add, relu (tf.fused.conv2d unfuses there; here the add and relu in one
 * kernel of ours, bias-relu.ts, with the same bits); linear, one FusedConv2D.
 */
function conv(x: tf.Tensor4D, w: Weights, s: Extract<Stage, { kind: 'conv' }>): tf.Tensor {
  if (!s.relu)
    return tf.fused.conv2d({ x, filter: w.kernel as tf.Tensor4D, strides: s.strides, pad: s.pad, bias: w.bias });
  const z = tf.conv2d(x, w.kernel as tf.Tensor4D, s.strides, s.pad);
  return w.bias === undefined ? tf.relu(z) : biasRelu(z, w.bias);
}

/** A dense layer (up to the head's activation, for the last) as tfjs-layers runs it under the tape (Product). */
function dense(x: tf.Tensor2D, w: Weights, s: Extract<Stage, { kind: 'dense' }>): tf.Tensor {
  const k = w.kernel as tf.Tensor2D;
  if (s.product === 'fused-bias') return tf.fused.matMul({ a: x, b: k, bias: w.bias });
  const z = s.product === 'unfused' ? tf.matMul(x, k) : tf.fused.matMul({ a: x, b: k });
  if (w.bias === undefined) return s.relu ? tf.relu(z) : z;
  return s.relu ? biasRelu(z, w.bias) : tf.add(z, w.bias);
}

function run(kernel: string, inputs: tf.NamedTensorMap, attrs: object = {}): tf.Tensor {
  return tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
}
