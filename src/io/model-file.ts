/**
 * A model folder in TensorFlow.js's LayersModel format: `model.json` (topology
 * and weights manifest) and `weights.bin`, the layout tfjs-node's `file://`
 * saver writes. Any tfjs program loads it with the standard loader:
 * `tf.loadLayersModel('file://DIR/model.json')` with tfjs-node, or
 * `tf.loadLayersModel('http://HOST/model.json')` with the folder served.
 *
 * tfjs's own `file://` handler lives in tfjs-node, which we cannot depend on,
 * so saving and loading go through custom IOHandlers that read and write the
 * same files. Both run on this thread's tfjs backend: initialise one first
 * (initBackend in src/backend.ts), or tfjs picks its default.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, isAbsolute } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { MlpConfig } from '../model/mlp.js';
import { mkdirp } from './dirs.js';
import { describeSizes, fromLayersModel, toSequential, type MlpWeights } from './layers.js';
import { ModelFileError } from './model-error.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** Far above any MLP's topology; guards against reading a huge stray file as JSON. */
const MAX_JSON_BYTES = 16 << 20;

/** A model loaded from a folder; `file` is its model.json, for messages. */
export interface SavedModel extends MlpWeights {
  readonly file: string;
}

/**
 * Writes the MLP to `dir` (created if needed). Each file is replaced whole
 * (written aside, then renamed), weights.bin first: a reader never sees a
 * partly written file, and a new model.json never precedes its weights.
 */
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
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      mkdirp(dir);
      writeAtomic(join(dir, WEIGHTS_BIN), new Uint8Array(data));
      writeAtomic(join(dir, MODEL_JSON), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

/** Loads the MLP saved in `dir`; any problem is a ModelFileError naming the file. */
export async function loadModel(dir: string): Promise<SavedModel> {
  const file = join(dir, MODEL_JSON);
  const json = readModelJson(file);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel({ load: () => tf.io.getModelArtifactsForJSON(json, (m) => readWeights(dir, file, m)) });
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

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

function readModelJson(file: string): tf.io.ModelJSON {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_JSON_BYTES) throw new ModelFileError(file, `is ${size} bytes; a model.json has at most ${MAX_JSON_BYTES}`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelFileError(file, code === 'ENOENT' ? 'not found (save a model with train --save DIR)' : `cannot be read (${code ?? firstLine(err)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelFileError(file, `is not valid JSON: ${firstLine(err)}`);
  }
  const o = json as Partial<tf.io.ModelJSON> | null;
  if (typeof o !== 'object' || o === null || typeof o.modelTopology !== 'object' || !Array.isArray(o.weightsManifest)) {
    throw new ModelFileError(file, 'is not a LayersModel model.json: it needs "modelTopology" and "weightsManifest"');
  }
  return o as tf.io.ModelJSON;
}

/** Bytes per stored value of a manifest entry (quantized entries store fewer). */
function bytesPerValue(entry: tf.io.WeightsManifestEntry): number | undefined {
  const dtype = entry.quantization?.dtype ?? entry.dtype;
  return { float32: 4, int32: 4, uint16: 2, float16: 2, uint8: 1, bool: 1 }[dtype as string];
}

/** Reads the weight files a manifest names, each of which must lie inside `dir`, and checks their total size. */
async function readWeights(dir: string, file: string, manifest: tf.io.WeightsManifestConfig): Promise<[tf.io.WeightsManifestEntry[], ArrayBuffer]> {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of manifest) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group.weights)) throw new ModelFileError(file, 'has a weightsManifest group without "paths" and "weights"');
    specs.push(...group.weights);
    for (const p of group.paths) {
      const path = resolve(dir, String(p));
      const rel = relative(resolve(dir), path);
      if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new ModelFileError(file, `names weights file ${JSON.stringify(p)} outside its folder`);
      try {
        buffers.push(readFileSync(path));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new ModelFileError(path, code === 'ENOENT' ? `not found (named in ${file})` : `cannot be read (${code ?? firstLine(err)})`);
      }
    }
  }
  let need = 0;
  for (const s of specs) {
    const bytes = bytesPerValue(s);
    if (bytes === undefined || !Array.isArray(s.shape)) throw new ModelFileError(file, `has weight ${JSON.stringify(s.name)} of unsupported dtype ${JSON.stringify(s.quantization?.dtype ?? s.dtype)}`);
    need += bytes * s.shape.reduce((a, b) => a * b, 1);
  }
  const have = buffers.reduce((a, b) => a + b.length, 0);
  if (have !== need) throw new ModelFileError(file, `has ${have} bytes of weights but its manifest needs ${need}`);
  const data = new Uint8Array(have);
  let offset = 0;
  for (const b of buffers) {
    data.set(b, offset);
    offset += b.length;
  }
  return [specs, data.buffer];
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
