import * as tf from '@tensorflow/tfjs';
import type { Targets } from '../data/dataset.js';
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
 *   total = mean over the batch of sum_k w_k * loss_k(yTrue_k, yPred_k) + regularizer penalties
 * over the outputs k, w_k the per-sample weights of an output with a classWeight
 * (1 without), but for its shard of n samples and scaled by n: d(n * total_shard)/d(params).
 * Summed over the shards and divided by the global batch size B, the means become
 * the batch mean and the penalties count once, so N workers equal 1 (and equal
 * tfjs's model.fit) for any split.
 *
 * Note [no loss weights]: tfjs 4.22's compile accepts lossWeights and neither keeps
 * nor applies them (training.js: "TODO(cais): Add lossWeights"), so model.fit sums the
 * outputs' losses unweighted; so does this, or N workers would not equal model.fit.
 * With several outputs tfjs logs each output's (weighted) mean loss as `<output>_loss`
 * before the metrics; the metrics are never weighted.
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

  /** The first output's loss and metrics functions (a one-output model's only ones): the one-output fast paths' view. */
  readonly loss: LossOrMetricFn;
  readonly metrics: readonly LossOrMetricFn[];

  private constructor(
    readonly spec: LayersSpec,
    readonly model: tf.LayersModel,
    /** One loss function per output. */
    private readonly losses: readonly LossOrMetricFn[],
    /** tfjs's metricsTensors: with several outputs each output's loss first (logged weighted in training), then the metrics. */
    private readonly logged: readonly Logged[],
  ) {
    this.loss = losses[0];
    this.metrics = logged.filter((m) => !m.isLoss).map((m) => m.fn);
    this.layout = makeLayout(spec.trainable);
    this.vars = variablesOf(model.trainableWeights);
    this.fixed = variablesOf(model.nonTrainableWeights);
  }

  static async create(spec: LayersSpec): Promise<LayersReplica> {
    for (const m of spec.modules) await import(m);
    const model = await tf.models.modelFromJSON(JSON.parse(spec.topology) as tf.serialization.ConfigDict);
    checkShapes(
      'trainable',
      model.trainableWeights.map((w) => w.shape),
      spec.trainable,
    );
    checkShapes(
      'non-trainable',
      model.nonTrainableWeights.map((w) => w.shape),
      spec.nonTrainable,
    );
    // Compiled only to get tfjs's own choice of metric functions (which accuracy 'acc'
    // means depends on the loss, by name, and the output shape); its optimizer is never used.
    const losses = spec.outputs.map((o) => lossFunction(o.loss));
    const several = spec.outputs.length > 1;
    // tfjs's types want all names or all functions; compile itself takes each entry as losses.get does.
    const lossArg = spec.outputs.map((o, k) => (o.loss.source === undefined ? o.loss.name : losses[k]));
    const metricArgs = Object.fromEntries(spec.outputs.map((o) => [o.name, o.metrics.map(metricArg)]));
    model.compile({
      optimizer: 'sgd',
      loss: lossArg as tf.ModelCompileArgs['loss'],
      metrics: metricArgs as unknown as tf.ModelCompileArgs['metrics'],
    });
    const logged = model.metricsTensors.map(([fn, output], i): Logged => ({
      fn: fn as LossOrMetricFn,
      output,
      isLoss: several && i < spec.outputs.length,
    }));
    const replica = new LayersReplica(spec, model, losses, logged);
    assignFlat(replica.fixed, spec.nonTrainableValues);
    return replica;
  }

  lossAndGradSum(
    params: Float32Array,
    batch: Batch,
    grad: Float32Array,
    clock?: Clock,
    metricSums?: Float64Array,
  ): number {
    const n = batch.indices.length;
    return tf.tidy(() => {
      this.setParams(params);
      const xs = this.allInputs(batch); // xs[j] is (n, ...inputs[j].shape)
      const ys = this.allTargets(batch); // ys[k] is (n, ...outputs[k].shape) or (n, 1) of class indices
      const ws = this.weights(batch); // ws[k] is (n) or undefined
      clock?.('uploaded');
      const scaled = (): tf.Scalar => {
        const yPreds = this.outputs(xs, true); // yPreds[k] is (n, ...outputs[k].shape)
        // As makeTrainFunction: the per-sample losses, weighted, summed over the outputs, then one mean.
        const perOutput = this.losses.map((f, k) => {
          const l = f(ys[k], yPreds[k]); // l is (n) for tfjs's losses
          return ws[k] === undefined ? l : tf.mul(l, ws[k] as tf.Tensor);
        });
        metricSums?.set(
          this.logged.map(
            (m) => tf.mean(m.isLoss ? perOutput[m.output] : m.fn(ys[m.output], yPreds[m.output])).dataSync()[0] * n,
          ),
        );
        let total = tf.mean(perOutput.reduce((a, l) => tf.add(a, l)));
        for (const penalty of this.model.calculateLosses()) total = tf.add(total, penalty);
        return tf.mul(total, n);
      };
      const { value, grads } = tf.variableGrads(scaled, this.vars);
      clock?.('computed');
      this.layout.segments.forEach((s, i) => {
        const g = grads[this.vars[i].name];
        if (g === undefined)
          grad.fill(0, s.offset, s.offset + s.size); // a weight the loss does not reach
        else this.io.read(g, s.size, grad, s.offset);
      });
      return value.dataSync()[0];
    });
  }

  /**
   * What tfjs's model.evaluate sums (inference mode, no regularizer penalties, no
   * sample weights: training.js makeTestFunction): the sum of the outputs' mean losses,
   * and every logged value (the outputs' losses, unweighted, then the metrics).
   * Note [validation names]: with several outputs tfjs 4.22's makeTestFunction returns
   * one value more than it has names (the running total after each output), so its
   * val_* logs are shifted by one: `val_loss` holds the first output's loss,
   * `val_<first>_loss` the total, and the last metric is lost. Here each key holds
   * what its name says (what Keras reports); the training logs equal tfjs's.
   */
  evaluate(params: Float32Array, batch: Batch): EvalSums {
    const n = batch.indices.length;
    return tf.tidy(() => {
      this.setParams(params);
      const ys = this.allTargets(batch);
      const yPreds = this.outputs(this.allInputs(batch), false);
      const means = this.losses.map((f, k) => tf.mean(f(ys[k], yPreds[k])));
      return {
        lossSum: means.reduce((a, m) => tf.add(a, m)).dataSync()[0] * n,
        metricSums: this.logged.map((m) => tf.mean(m.fn(ys[m.output], yPreds[m.output])).dataSync()[0] * n),
      };
    });
  }

  /** The outputs for the batch, row-major (n, ...outputShape); with several outputs, each one's block after the other. */
  predict(params: Float32Array, batch: Batch): Float32Array {
    return tf.tidy(() => {
      this.setParams(params);
      const xs = this.allInputs(batch);
      const out = this.model.predict(xs.length === 1 ? xs[0] : xs) as tf.Tensor | tf.Tensor[];
      const outs = (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
      if (outs.length === 1) return outs[0];
      const all = new Float32Array(outs.reduce((a, o) => a + o.length, 0));
      outs.reduce((at, o) => (all.set(o, at), at + o.length), 0);
      return all;
    });
  }

  nonTrainable(): Float32Array {
    return readFlat(this.fixed);
  }

  /** The shared parameters into the model's variables (the layout is their order: Note [weights by order]). */
  private setParams(params: Float32Array): void {
    assignFlat(this.vars, params, this.io);
  }

  /** The model's outputs, one tensor per output. */
  private outputs(xs: tf.Tensor[], training: boolean): tf.Tensor[] {
    const out = this.model.apply(xs.length === 1 ? xs[0] : xs, { training }) as tf.Tensor | tf.Tensor[];
    return Array.isArray(out) ? out : [out];
  }

  /** The batch's first input, (n, ...inputShape). */
  inputs({ images, features, indices }: Batch): tf.Tensor {
    const k = this.spec.inputShape.reduce((a, b) => a * b, 1);
    if (features !== k) throw new Error(`the data has ${features} values per sample, the model's input takes ${k}`);
    return this.rowsOf({ data: images, shape: this.spec.inputShape }, indices);
  }

  /** Every input of the batch, in model.inputNames order. */
  private allInputs(batch: Batch): tf.Tensor[] {
    return [this.inputs(batch), ...(batch.extraInputs ?? []).map((t) => this.rowsOf(t, batch.indices))];
  }

  /** Every target of the batch, in model.outputNames order. */
  private allTargets(batch: Batch): tf.Tensor[] {
    return [this.targets(batch), ...(batch.extraTargets ?? []).map((t) => this.rowsOf(t, batch.indices))];
  }

  /** Each output's per-sample weights for the batch, (n), or undefined where it has none. */
  private weights({ sampleWeights, indices }: Batch): (tf.Tensor | undefined)[] {
    return this.spec.outputs.map((_, k) => {
      const w = sampleWeights?.[k];
      return w === undefined
        ? undefined
        : this.io.make([indices.length], (into) => indices.forEach((i, j) => (into[j] = w[i])));
    });
  }

  /** The batch's rows of one array of samples, (n, ...shape). */
  private rowsOf({ data, shape }: Targets, indices: Int32Array): tf.Tensor {
    const k = shape.reduce((a, b) => a * b, 1);
    return this.io.make([indices.length, ...shape], (into) =>
      indices.forEach((i, j) => into.set(data.subarray(i * k, i * k + k), j * k)),
    );
  }

  /** The batch's first targets, built on the host and written once (Note [no staging arrays]); one-hot rows without tfjs's OneHot and Cast kernels. */
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
      return {
        shape: [n, ...targets.shape],
        fill: (y) => indices.forEach((i, j) => y.set(targets.data.subarray(i * k, i * k + k), j * k)),
      };
    }
    if (this.spec.targets === 'index')
      return { shape: [n, 1], fill: (y) => indices.forEach((i, j) => (y[j] = labels[i])) };
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

/** One of tfjs's metricsTensors: the function, the output it reads, and whether it is that output's loss. */
interface Logged {
  readonly fn: LossOrMetricFn;
  readonly output: number;
  readonly isLoss: boolean;
}

function checkShapes(what: string, got: readonly (readonly (number | null)[])[], want: readonly VariableSpec[]): void {
  const show = (s: readonly (readonly (number | null)[])[]): string => s.map((x) => `[${x.join(',')}]`).join(' ');
  const expected = want.map((v) => v.shape);
  if (show(got) !== show(expected)) {
    throw new Error(`the rebuilt model's ${what} weights ${show(got)} differ from the original's ${show(expected)}`);
  }
}
