/**
 * A model folder in TensorFlow.js's LayersModel format: `model.json` (topology
 * and weights manifest) and `weights.bin`, the layout tfjs-node's `file://`
 * saver writes. Any tfjs program loads it with the standard loader:
 * `tf.loadLayersModel('file://DIR/model.json')` with tfjs-node, or
 * `tf.loadLayersModel('http://HOST/model.json')` with the folder served.
 *
 * Saving and loading go through the `file://` handlers of file-handlers.ts,
 * which read and write the files tfjs-node's handler does. Both run on this
 * thread's tfjs backend: initialise one first (initBackend in
 * src/backend.ts), or tfjs picks its default.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { MlpConfig } from '../model/mlp.js';
import { MODEL_JSON, fileLoadHandler, fileSaveHandler, firstLine } from './file-handlers.js';
import { describeSizes, fromLayersModel, toSequential, type MlpWeights } from './layers.js';
import { ModelFileError } from './model-error.js';

export { MODEL_JSON, WEIGHTS_BIN } from './file-handlers.js';

/** A model loaded from a folder; `file` is its model.json, for messages. */
export interface SavedModel extends MlpWeights {
  readonly file: string;
}

/** Writes the MLP to `dir` (created if needed) through fileSaveHandler: each file replaced whole. */
export async function saveModel(dir: string, weights: MlpWeights): Promise<void> {
  const model = toSequential(weights);
  try {
    await saveLayersModel(dir, model);
  } finally {
    model.dispose();
  }
}

/** Writes any LayersModel to `dir` as saveModel does: model.json + weights.bin, each replaced whole. */
export async function saveLayersModel(dir: string, model: tf.LayersModel): Promise<void> {
  await model.save(fileSaveHandler(dir));
}

/** Loads the MLP saved in `dir`; any problem is a ModelFileError naming the file. */
export async function loadModel(dir: string): Promise<SavedModel> {
  const file = join(dir, MODEL_JSON);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(fileLoadHandler(file, 'not found (save a model with train --save DIR)'));
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    throw new ModelFileError(file, `is not a TensorFlow.js LayersModel: ${firstLine(err)}`);
  }
  try {
    return { ...fromLayersModel(model, file), file };
  } finally {
    model.dispose();
  }
}

/** Throws a ModelFileError unless the saved model has exactly the layer sizes of `want`; `why` says where they come from. */
export function checkArchitecture(saved: SavedModel, want: MlpConfig, why: string): void {
  const have = describeSizes(saved.config);
  const need = describeSizes(want);
  if (have !== need) throw new ModelFileError(saved.file, `has layers ${have}, but ${why} needs ${need}`);
}
