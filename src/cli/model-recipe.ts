import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { MAE_NAMES } from '../io/metrics.js';
import { OptionError } from '../errors.js';
import { layersSource } from '../fit/spec.js';
import { optimizerFromName, optimizerFromTfjs, type OptimizerName, type OptimizerSpec } from '../optim/spec.js';
import type { ModelSource } from '../trainer/trainer.js';

/** The flags that override a module's compiled recipe. */
export interface RecipeFlags {
  readonly loss?: string;
  readonly optimizer?: OptimizerName;
  readonly lr?: number;
}

/**
 * What a run reports beside the loss, and the loss of a module whose model is
 * not compiled, for class labels and for regression targets. (The optimizer's
 * default is the MLP's: sgd 0.003.)
 */
const HEADS = {
  classes: { loss: 'categoricalCrossentropy', metric: 'acc', names: ['acc', 'accuracy'] },
  regression: { loss: 'meanSquaredError', metric: 'mae', names: MAE_NAMES },
} as const;

/** The activation of the model's last layer, as its config names it ('softmax', 'linear', ...). */
function outputActivation(model: tf.LayersModel): unknown {
  return (model.layers[model.layers.length - 1].getConfig() as { activation?: unknown }).activation;
}

/** The model's output is a softmax: its last layer's activation, or a Softmax layer. */
export function endsInSoftmax(model: tf.LayersModel): boolean {
  return outputActivation(model) === 'softmax' || model.layers[model.layers.length - 1].getClassName() === 'Softmax';
}

/**
 * The activation the last layer declares when it is not a softmax ('linear',
 * 'relu', ...); undefined when it is a softmax or declares none (a Reshape, a
 * Dropout or a nested model after one): then the output may still be one.
 */
function otherActivation(model: tf.LayersModel): string | undefined {
  const a = outputActivation(model);
  return typeof a === 'string' && !endsInSoftmax(model) ? a : undefined;
}

/**
 * `--model FILE`: (re)compiles the model with the flags over its own recipe, adds
 * accuracy (regression targets: mean absolute error) to its metrics (the run
 * reports it), checks it fits the data (its inputs per sample, one output per
 * class or target), and describes it for the Trainer: labels become one-hot
 * rows, or class indices for sparse crossentropy; regression targets are given.
 */
export function cliModelSource(
  model: tf.LayersModel,
  flags: RecipeFlags,
  data: Dataset,
  file: string,
): { source: ModelSource; optimizer: OptimizerSpec } {
  const regression = data.train.targets !== undefined;
  const head = HEADS[regression ? 'regression' : 'classes'];
  const compiled = model.optimizer !== undefined && model.optimizer !== null;
  const loss = flags.loss ?? (compiled ? model.loss : head.loss);
  if (regression && typeof loss === 'string' && /crossentropy/i.test(loss)) {
    const whose = flags.loss === undefined ? `--model ${file}: ` : '--loss ';
    throw new OptionError(
      `${whose}${loss} is a loss for classes; regression targets need a loss such as meanSquaredError`,
    );
  }
  if (regression && endsInSoftmax(model)) {
    throw new OptionError(
      `--model ${file}: its output is a softmax, 1 for one unit; regression targets need a linear output`,
    );
  }
  const other = otherActivation(model);
  if (!regression && typeof loss === 'string' && /categoricalcrossentropy/i.test(loss) && other !== undefined) {
    const whose =
      flags.loss === undefined && compiled ? 'its loss ' : flags.loss === undefined ? 'the loss ' : '--loss ';
    throw new OptionError(
      `--model ${file}: its output activation is ${other}, but ${whose}${loss} takes class probabilities: end the model in a softmax`,
    );
  }
  const given = compiled ? model.metrics : undefined;
  if (given !== undefined && given !== null && typeof given === 'object' && !Array.isArray(given)) {
    throw new OptionError(`--model ${file}: metrics per output are not supported: the model has one output`);
  }
  const metrics = given === undefined || given === null ? [] : Array.isArray(given) ? given : [given];
  const hasMetric = metrics.some((m) => (head.names as readonly unknown[]).includes(m));
  // The flags override the compiled optimizer: --optimizer with its defaults (and --lr), or --lr alone its rate.
  const optimizer =
    flags.optimizer !== undefined || !compiled
      ? optimizerFromName(flags.optimizer ?? 'sgd', flags.lr)
      : { ...optimizerFromTfjs(model.optimizer), ...(flags.lr === undefined ? {} : { lr: flags.lr }) };
  if (flags.loss !== undefined || !compiled || !hasMetric) {
    model.compile({
      optimizer: compiled ? model.optimizer : 'sgd',
      loss: loss as string,
      metrics: hasMetric ? metrics : [...metrics, head.metric],
    });
  }
  const inputSize = model.inputs[0].shape.slice(1).reduce<number>((a, d) => a * (d ?? NaN), 1);
  if (inputSize !== data.train.features) {
    throw new OptionError(
      `--model ${file}: its input [${model.inputs[0].shape.slice(1).join(', ')}] holds ${inputSize} values, the data has ${data.train.features} values per sample${data.train.rows > 1 ? ` (${data.train.rows}x${data.train.cols})` : ''}`,
    );
  }
  const units = model.outputs[0].shape[model.outputs[0].shape.length - 1];
  if (units !== data.numClasses) {
    const what = regression ? `regression target${data.numClasses > 1 ? 's' : ''}` : 'classes';
    throw new OptionError(
      `--model ${file}: its output has ${String(units)} unit${units === 1 ? '' : 's'}, the data has ${data.numClasses} ${what}`,
    );
  }
  const targets = regression ? 'given' : model.loss === 'sparseCategoricalCrossentropy' ? 'index' : 'onehot';
  const source = layersSource(model, { targets });
  return { source, optimizer };
}
