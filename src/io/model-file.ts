/**
 * A model folder in TensorFlow.js's LayersModel format: `model.json` (topology
 * and weights manifest) and `weights.bin`, the layout tfjs-node's `file://`
 * saver writes. Any tfjs program loads it with the standard loader:
 * `tf.loadLayersModel('file://DIR/model.json')` (with this package or tfjs-node
 * imported), or `tf.loadLayersModel('http://HOST/model.json')` with the folder served.
 *
 * Saving and loading go through the `file://` handlers of file-handlers.ts,
 * which read and write the files tfjs-node's handler does. Both run on this
 * thread's tfjs backend: initialise one first (initBackend in
 * src/backend.ts), or tfjs picks its default.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CHECKPOINT_FILE } from '../checkpoint.js';
import { readFlat } from '../model/flat-weights.js';
import type { VariableSpec } from '../model/types.js';
import { MODEL_JSON, fileLoadHandler, fileSaveHandler, firstLine } from './file-handlers.js';
import { ModelFileError } from './model-error.js';

export { MODEL_JSON, WEIGHTS_BIN } from './file-handlers.js';

/** A model loaded from a folder; `file` is its model.json, for messages. The caller disposes `model`. */
export interface SavedModel {
  readonly file: string;
  readonly model: tf.LayersModel;
}

/** Writes `model` to `dir` (created if needed) through fileSaveHandler: model.json and weights.bin, each replaced whole. */
export async function saveModel(dir: string, model: tf.LayersModel): Promise<void> {
  await model.save(fileSaveHandler(dir));
}

/** Loads the LayersModel saved in `dir` (or its model.json named itself); any problem is a ModelFileError naming the file. */
export async function loadModel(dir: string): Promise<SavedModel> {
  const file = basename(dir) === MODEL_JSON && !isDirectory(dir) ? dir : join(dir, MODEL_JSON);
  try {
    // A run folder with a checkpoint but no model: the run stopped before its end.
    const stopped = existsSync(join(dirname(file), CHECKPOINT_FILE));
    const missing = stopped
      ? `not found: the run stopped before saving it (continue it with train --resume ${dirname(file)})`
      : 'not found (save a model with train --save DIR)';
    const model = await tf.loadLayersModel(fileLoadHandler(file, missing));
    return { file, model };
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    throw new ModelFileError(file, `is not a TensorFlow.js LayersModel: ${firstLine(err)}`);
  }
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
}

/**
 * The saved model's trainable weights as a flat vector in `want`'s layout (a
 * run's, Trainer.layout); a ModelFileError naming the file and both lists of
 * shapes when they differ. `why` says whose layout `want` is.
 */
export function trainableParams(saved: SavedModel, want: readonly VariableSpec[], why: string): Float32Array {
  const weights = saved.model.trainableWeights;
  const have = describeShapes(weights);
  const need = describeShapes(want);
  if (have !== need) throw new ModelFileError(saved.file, `has weights ${have}, but ${why} has ${need}`);
  return readFlat(weights.map((w) => w.read()));
}

/** "[784,128] [128] [128,10] [10]". */
function describeShapes(vars: readonly { readonly shape: readonly (number | null)[] }[]): string {
  return vars.map((v) => `[${v.shape.join(',')}]`).join(' ');
}
