import * as tf from '@tensorflow/tfjs';
import type { Clock } from '../profile/record.js';
import { lossFunction, metricArg, type LossOrMetricFn } from './functions.js';
import { assignFlat, readFlat, variablesOf } from './flat-weights.js';
import { makeLayout, type ParamLayout } from './layout.js';
import type { LayersSpec } from './layers-spec.js';
import { currentIo, type TensorIo } from './tensor-io.js';
import type { Batch, EvalSums, VariableSpec, WorkerModel } from './types.js';

/**
 * The generic path: a user's tf.LayersModel, rebuilt in a worker thread from its
 * topology (layers-spec.ts) and differentiated by tfjs autograd, public API only.
 *
 * Per step it computes exactly what tfjs's own model.fit differentiates for one
 * batch (tfjs-layers 4.22 training.js makeTrainFunction):
 *   total = mean over the batch of loss(yTrue, yPred) + regularizer penalties
 * but for its shard of n samples and scaled by n: d(n * total_shard)/d(params).
 * Summed over the shards and divided by the global batch size B, the means become
 * the batch mean and the penalties count once, so N workers equal 1 (and equal
 * tfjs's model.fit) for any split.
 *
 * Note [weights by order]: the flat parameter vector lays out
 * model.trainableWeights in order. A rebuilt model gets fresh variable names (tfjs
 * uniquifies them per thread), so only order and shapes tie it to the user's
 * model; create() checks the shapes.
 */
export class LayersReplica implements WorkerModel {
  private readonly layout: ParamLayout;
  private readonly vars: tf.Variable[];
  private readonly fixed: tf.Variable[];
  /**
   * Note [no staging arrays]: on wasm the parameters, the inputs and the
   * gradients move through the heap (tensor-io.ts), one copy each way. Through
   * the public API every step allocated, zero-filled, copied and later swept a
   * fresh array for each of them: for the tutorial MLP 2 x 437 KB plus the inputs.
   * Measured (the two builds' replicas in one thread, blocks of 100 steps
   * interleaved, 30 pairs): the generic MLP step 1.071x as fast at 64 samples,
   * 1.088x at 32; the convnet's 1.010x (its parameters are few). Building the
   * one-hot targets on the host instead of with OneHot and Cast kernels: a
   * further 1.025x at 64 and at 32.
   */
  readonly io: TensorIo = currentIo();

  private constructor(
    readonly spec: LayersSpec,
    readonly model: tf.LayersModel,
    readonly loss: LossOrMetricFn,
    readonly metrics: readonly LossOrMetricFn[],
  ) {
    this.layout = makeLayout(spec.trainable);
    this.vars = variablesOf(model.trainableWeights);
    this.fixed = variablesOf(model.nonTrainableWeights);
  }

  static async create(spec: LayersSpec): Promise<LayersReplica> {
    for (const m of spec.modules) await import(m);
    const model = await tf.models.modelFromJSON(JSON.parse(spec.topology) as tf.serialization.ConfigDict);
    checkShapes('trainable', model.trainableWeights.map((w) => w.shape), spec.trainable);
    checkShapes('non-trainable', model.nonTrainableWeights.map((w) => w.shape), spec.nonTrainable);
    // Compiled only to get tfjs's own choice of metric functions (which accuracy 'acc'
    // means depends on the loss, by name, and the output shape); its optimizer is never used.
    const loss = lossFunction(spec.loss);
    model.compile({ optimizer: 'sgd', loss: spec.loss.source === undefined ? spec.loss.name : loss, metrics: spec.metrics.map(metricArg) });
    const metrics = model.metricsTensors.map(([fn]) => fn as LossOrMetricFn);
    const replica = new LayersReplica(spec, model, loss, metrics);
    assignFlat(replica.fixed, spec.nonTrainableValues);
    return replica;
  }

  lossAndGradSum(params: Float32Array, batch: Batch, grad: Float32Array, clock?: Clock, metricSums?: Float64Array): number {
    const n = batch.indices.length;
    return tf.tidy(() => {
      this.setParams(params);
      const x = this.inputs(batch); // x is (n, ...inputShape)
      const y = this.targets(batch); // y is (n, ...outputShape) or (n, 1) of class indices
      clock?.('uploaded');
      const scaled = (): tf.Scalar => {
        const yPred = this.model.apply(x, { training: true }) as tf.Tensor; // yPred is (n, ...outputShape)
        metricSums?.set(this.metrics.map((m) => tf.mean(m(y, yPred)).dataSync()[0] * n));
        let total = tf.mean(this.loss(y, yPred));
        for (const penalty of this.model.calculateLosses()) total = tf.add(total, penalty);
        return tf.mul(total, n);
      };
      const { value, grads } = tf.variableGrads(scaled, this.vars);
      clock?.('computed');
      this.layout.segments.forEach((s, i) => {
        const g = grads[this.vars[i].name];
        if (g === undefined) grad.fill(0, s.offset, s.offset + s.size); // a weight the loss does not reach
        else this.io.read(g, s.size, grad, s.offset);
      });
      return value.dataSync()[0];
    });
  }

  /** What tfjs's model.evaluate sums (inference mode, no regularizer penalties: training.js makeTestFunction). */
  evaluate(params: Float32Array, batch: Batch): EvalSums {
    const n = batch.indices.length;
    return tf.tidy(() => {
      this.setParams(params);
      const y = this.targets(batch);
      const yPred = this.model.apply(this.inputs(batch), { training: false }) as tf.Tensor;
      return {
        lossSum: tf.mean(this.loss(y, yPred)).dataSync()[0] * n,
        metricSums: this.metrics.map((m) => tf.mean(m(y, yPred)).dataSync()[0] * n),
      };
    });
  }

  predict(params: Float32Array, batch: Batch): Float32Array {
    return tf.tidy(() => {
      this.setParams(params);
      return (this.model.predict(this.inputs(batch)) as tf.Tensor).dataSync() as Float32Array;
    });
  }

  nonTrainable(): Float32Array {
    return readFlat(this.fixed);
  }

  /** The shared parameters into the model's variables (the layout is their order: Note [weights by order]). */
  private setParams(params: Float32Array): void {
    assignFlat(this.vars, params, this.io);
  }

  /** The batch's inputs, (n, ...inputShape). */
  inputs({ images, features: f, indices }: Batch): tf.Tensor {
    return this.io.make([indices.length, ...this.spec.inputShape], (x) => indices.forEach((i, j) => x.set(images.subarray(i * f, i * f + f), j * f)));
  }

  /** The batch's targets, built on the host and written once (Note [no staging arrays]); one-hot rows without tfjs's OneHot and Cast kernels. */
  targets(batch: Batch): tf.Tensor {
    const { shape, fill } = this.targetRows(batch);
    return this.io.make(shape, fill);
  }

  /**
   * targets(batch)'s shape, and how to write its values into an array of that size:
   * (n, ...shape) as given, (n, 1) class indices, or (n, k) one-hot rows. For a head
   * that works on the host (cross-entropy-head.ts) as well as for targets().
   */
  targetRows({ labels, targets, indices }: Batch): { shape: number[]; fill: (into: Float32Array) => void } {
    const n = indices.length;
    if (this.spec.targets === 'given') {
      if (targets === undefined) throw new Error('the data has no targets for this model');
      const k = targets.shape.reduce((a, b) => a * b, 1);
      return { shape: [n, ...targets.shape], fill: (y) => indices.forEach((i, j) => y.set(targets.data.subarray(i * k, i * k + k), j * k)) };
    }
    if (this.spec.targets === 'index') return { shape: [n, 1], fill: (y) => indices.forEach((i, j) => (y[j] = labels[i])) };
    const k = this.spec.outputShape[this.spec.outputShape.length - 1];
    const fill = (y: Float32Array): void => {
      y.fill(0); // the heap path hands out uninitialised memory
      indices.forEach((i, j) => {
        if (labels[i] < k) y[j * k + labels[i]] = 1; // a label beyond k: a zero row, as tf.oneHot gives
      });
    };
    return { shape: [n, k], fill };
  }
}

function checkShapes(what: string, got: readonly (readonly (number | null)[])[], want: readonly VariableSpec[]): void {
  const show = (s: readonly (readonly (number | null)[])[]): string => s.map((x) => `[${x.join(',')}]`).join(' ');
  const expected = want.map((v) => v.shape);
  if (show(got) !== show(expected)) {
    throw new Error(`the rebuilt model's ${what} weights ${show(got)} differ from the original's ${show(expected)}`);
  }
}
