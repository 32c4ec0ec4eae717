import * as tf from '@tensorflow/tfjs';
import { OptionError } from '../errors.js';

/** What tfjs's fit and fitDataset read and set: protected in its types. */
interface Marked {
  isTraining: boolean;
}

/**
 * Marks the user's model as training for the length of a fit, as tfjs's own fit
 * does (model.isTraining), and clears the mark when disposed: a second fit of the
 * same model while the first runs, ours or tfjs's, is refused instead of both
 * stepping one set of weights. A tf.Sequential trains through its inner model,
 * whose mark tfjs's fit reads, so both are marked. test/fit-contract.test.ts fails
 * if tfjs's fit stops reading the mark.
 */
export function claimModel(model: tf.LayersModel): Disposable {
  const inner = model instanceof tf.Sequential ? (model as unknown as { model: unknown }).model : undefined;
  const marked = (inner === undefined ? [model] : [model, inner]) as Marked[];
  if (marked.some((m) => m.isTraining))
    throw new OptionError(
      'the model is training already: another fit of it has not ended (one fit at a time, as model.fit)',
    );
  for (const m of marked) m.isTraining = true;
  return {
    [Symbol.dispose]: () => {
      for (const m of marked) m.isTraining = false;
    },
  };
}
