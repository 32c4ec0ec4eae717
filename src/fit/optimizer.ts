import type * as tf from '@tensorflow/tfjs';
import { OptionError } from '../errors.js';
import type { TrainerOptions } from '../options.js';

/** The Trainer options that reproduce a compiled tfjs optimizer. */
export function optimizerOf(opt: tf.Optimizer): Pick<TrainerOptions, 'lr'> {
  const name = opt.getClassName();
  if (name !== 'SGD') throw new OptionError(`optimizer ${name} is not supported (supported: sgd)`);
  return { lr: (opt.getConfig() as { learningRate: number }).learningRate };
}
