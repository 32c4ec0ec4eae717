import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
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

/** The loss for a module whose model is not compiled: 10 classes. (The optimizer's default is the MLP's: sgd 0.003.) */
const DEFAULT_LOSS = 'categoricalCrossentropy';

/**
 * `--model FILE` on idx data: (re)compiles the model with the flags over its own
 * recipe, adds accuracy to its metrics (the run reports test accuracy), checks it
 * fits the data (784 pixels in, one output per class), and describes it for the
 * Trainer: labels become one-hot rows, or class indices for sparse crossentropy.
 */
export function cliModelSource(
  model: tf.LayersModel,
  flags: RecipeFlags,
  data: Dataset,
  file: string,
): { source: ModelSource; optimizer: OptimizerSpec } {
  const compiled = model.optimizer !== undefined && model.optimizer !== null;
  const loss = flags.loss ?? (compiled ? model.loss : DEFAULT_LOSS);
  const given = compiled ? model.metrics : undefined;
  if (given !== undefined && given !== null && typeof given === 'object' && !Array.isArray(given)) {
    throw new OptionError(`--model ${file}: metrics per output are not supported: the model has one output`);
  }
  const metrics = given === undefined || given === null ? [] : Array.isArray(given) ? given : [given];
  const hasAcc = metrics.some((m) => m === 'acc' || m === 'accuracy');
  // The flags override the compiled optimizer: --optimizer with its defaults (and --lr), or --lr alone its rate.
  const optimizer =
    flags.optimizer !== undefined || !compiled
      ? optimizerFromName(flags.optimizer ?? 'sgd', flags.lr)
      : { ...optimizerFromTfjs(model.optimizer), ...(flags.lr === undefined ? {} : { lr: flags.lr }) };
  if (flags.loss !== undefined || !compiled || !hasAcc) {
    model.compile({
      optimizer: compiled ? model.optimizer : 'sgd',
      loss: loss as string,
      metrics: hasAcc ? metrics : [...metrics, 'acc'],
    });
  }
  const inputSize = model.inputs[0].shape.slice(1).reduce<number>((a, d) => a * (d ?? NaN), 1);
  if (inputSize !== data.train.features) {
    throw new OptionError(
      `--model ${file}: its input [${model.inputs[0].shape.slice(1).join(', ')}] holds ${inputSize} values, the data has ${data.train.features} per sample (${data.train.rows}x${data.train.cols})`,
    );
  }
  const units = model.outputs[0].shape[model.outputs[0].shape.length - 1];
  if (units !== data.numClasses) {
    throw new OptionError(
      `--model ${file}: its output has ${String(units)} units, the data has ${data.numClasses} classes`,
    );
  }
  const source = layersSource(model, { targets: model.loss === 'sparseCategoricalCrossentropy' ? 'index' : 'onehot' });
  return { source, optimizer };
}
