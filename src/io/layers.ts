/**
 * Our MLP as a standard tfjs LayersModel and back, so a saved model is an
 * ordinary tf.Sequential that any TensorFlow.js program can load and run.
 *
 * Our layer l is one augmented weight `fc{l}` of shape (out, in + 1), row-major,
 * bias in the last column (src/model/mlp.ts). A Dense layer holds kernel
 * (in, out) = W^T and bias (out), and computes x·kernel + bias. Hidden layers
 * use ReLU; the last uses softmax, so the LayersModel outputs probabilities
 * where our replica's logProbs gives their logarithms.
 */
import * as tf from '@tensorflow/tfjs';
import { mlpLayout, type MlpConfig } from '../model/mlp.js';
import { LIMITS } from '../options.js';
import { ModelFileError } from './model-error.js';

/** A model as plain numbers: its architecture and its flat parameters in the mlp layout. */
export interface MlpWeights {
  readonly config: MlpConfig;
  readonly params: Float32Array;
}

/** "784-128-64-10". */
export function describeSizes(cfg: MlpConfig): string {
  return [cfg.inputSize, ...cfg.hidden, cfg.numClasses].join('-');
}

/** A tf.Sequential computing the MLP's class probabilities; the caller disposes it. */
export function toSequential({ config, params }: MlpWeights): tf.Sequential {
  const layout = mlpLayout(config);
  if (params.length !== layout.size) throw new RangeError(`expected ${layout.size} parameters, got ${params.length}`);
  const model = tf.sequential({ name: 'worker_ddp_mlp' });
  layout.segments.forEach((s, l) => {
    const [out, inPlus1] = s.shape;
    const inSize = inPlus1 - 1;
    const last = l === layout.segments.length - 1;
    const dense = tf.layers.dense({
      units: out,
      activation: last ? 'softmax' : 'relu',
      name: s.name,
      ...(l === 0 ? { inputShape: [inSize] } : {}),
    });
    model.add(dense);
    const w = params.subarray(s.offset, s.offset + s.size);
    const kernel = new Float32Array(inSize * out);
    const bias = new Float32Array(out);
    for (let o = 0; o < out; o++) {
      for (let i = 0; i < inSize; i++) kernel[i * out + o] = w[o * inPlus1 + i];
      bias[o] = w[o * inPlus1 + inSize];
    }
    tf.tidy(() => dense.setWeights([tf.tensor2d(kernel, [inSize, out]), tf.tensor1d(bias)]));
  });
  return model;
}

/**
 * The MLP a LayersModel holds; `file` names it in errors. Accepts exactly what
 * toSequential makes: 2 to 17 Dense layers with bias, ReLU between, softmax last.
 */
export function fromLayersModel(model: tf.LayersModel, file: string): MlpWeights {
  const bad = (detail: string): ModelFileError => new ModelFileError(file, detail);
  const shape = model.inputs.length === 1 ? model.inputs[0].shape : [];
  if (shape.length !== 2 || typeof shape[1] !== 'number') {
    throw bad(`needs one input of shape [batch, features], got ${JSON.stringify(model.inputs.map((t) => t.shape))}`);
  }
  const layers = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
  const [lo, hi] = LIMITS.hiddenLayers;
  if (layers.length < lo + 1 || layers.length > hi + 1)
    throw bad(`has ${layers.length} layers; the MLP needs ${lo + 1} to ${hi + 1}`);
  const sizes = [shape[1]];
  const parts: Float32Array[] = [];
  layers.forEach((layer, l) => {
    const name = `layer ${l + 1} (${layer.name})`;
    if (layer.getClassName() !== 'Dense')
      throw bad(`${name} is ${layer.getClassName()}; the MLP has Dense layers only`);
    const cfg = layer.getConfig();
    const want = l === layers.length - 1 ? 'softmax' : 'relu';
    if (cfg.activation !== want)
      throw bad(`${name} has activation ${String(cfg.activation)}; the MLP needs ${want} there`);
    const weights = layer.getWeights();
    if (cfg.useBias !== true || weights.length !== 2) throw bad(`${name} has no bias; the MLP needs one`);
    const [inSize, out] = weights[0].shape;
    const kernel = weights[0].dataSync();
    const bias = weights[1].dataSync();
    const w = new Float32Array(out * (inSize + 1));
    for (let o = 0; o < out; o++) {
      for (let i = 0; i < inSize; i++) w[o * (inSize + 1) + i] = kernel[i * out + o];
      w[o * (inSize + 1) + inSize] = bias[o];
    }
    sizes.push(out);
    parts.push(w);
  });
  const config: MlpConfig = { inputSize: sizes[0], hidden: sizes.slice(1, -1), numClasses: sizes[sizes.length - 1] };
  const params = new Float32Array(mlpLayout(config).size);
  let offset = 0;
  for (const p of parts) {
    params.set(p, offset);
    offset += p.length;
  }
  return { config, params };
}
