/**
 * TensorFlow.js `file://` IOHandlers for Node without tfjs-node, so that
 * `model.save('file://DIR')` and `tf.loadLayersModel('file://DIR/model.json')`
 * work with the wasm or cpu backend alone.
 *
 * Contract: the files are those tfjs-node 4.22's NodeFileSystem handler writes
 * and reads. Saving to DIR (created, parents included) writes `model.json`
 * ({ modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights }],
 * format, generatedBy, convertedBy, and trainingConfig, signature,
 * userDefinedMetadata where present}) and `weights.bin`; loading takes the path
 * of a model.json and reads the weight files its manifest names, relative to
 * its folder. Any problem is a one-line ModelFileError naming the file.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { mkdirp } from './dirs.js';
import { ModelFileError } from './model-error.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const FILE_SCHEME = 'file://';

/** Far above any topology we train; guards against reading a huge stray file as JSON. */
const MAX_JSON_BYTES = 16 << 20;

/**
 * Saves into the folder `dir`. Each file is replaced whole (written aside,
 * then renamed), weights.bin first: a reader never sees a partly written
 * file, and a new model.json never precedes its weights.
 */
export function fileSaveHandler(dir: string): tf.io.IOHandler {
  return {
    save: async (artifacts) => {
      if (artifacts.modelTopology instanceof ArrayBuffer)
        throw new ModelFileError(dir, 'cannot hold a binary (GraphDef) topology; only LayersModel JSON is saved');
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
      };
      if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature != null) json.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata != null) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      const data =
        artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      try {
        mkdirp(dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new ModelFileError(
          dir,
          code === 'EEXIST' || code === 'ENOTDIR'
            ? 'is a file; a model is saved into a folder'
            : `cannot be made (${code ?? firstLine(err)})`,
        );
      }
      writeAtomic(join(dir, WEIGHTS_BIN), new Uint8Array(data));
      writeAtomic(join(dir, MODEL_JSON), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** Loads the model.json at `file` and its weights; `missing` is the detail when it does not exist. */
export function fileLoadHandler(file: string, missing = 'not found'): tf.io.IOHandler {
  return {
    load: async () =>
      tf.io.getModelArtifactsForJSON(readModelJson(file, missing), (m) => readWeights(dirname(file), file, m)),
  };
}

/**
 * Note [file handlers defer to tfjs-node]: tfjs refuses a URL that two
 * routers answer ("Found more than one ... handlers"), so ours must never
 * answer beside tfjs-node's. Registration is skipped where a `file://`
 * handler exists already (tfjs-node imported first), and each router asks the
 * registry again on every URL, with itself muted, and stands aside when
 * another one answers (tfjs-node imported after us, as initBackend('auto')
 * does). A stand-in router registered after ours is the only one to answer:
 * `npx vitest run test/file-handlers.test.ts` checks it.
 */
let muted = false;

function othersAnswer(find: (url: string) => tf.io.IOHandler[], url: string): boolean {
  muted = true;
  try {
    return find(url).length > 0;
  } finally {
    muted = false;
  }
}

/** The path a `file://` URL names, or undefined where the router should not answer. */
function routedPath(url: string | string[], find: (url: string) => tf.io.IOHandler[]): string | undefined {
  if (muted || typeof url !== 'string' || !url.startsWith(FILE_SCHEME)) return undefined;
  return othersAnswer(find, url) ? undefined : url.slice(FILE_SCHEME.length);
}

/** A router's answer for a URL it does not take: tfjs checks for null, though its IORouter type omits it. */
const DECLINED = null as unknown as tf.io.IOHandler;

/**
 * Registers the `file://` routers unless tfjs has one already (Note [file
 * handlers defer to tfjs-node]). Idempotent; the package's entry point calls it.
 */
export function registerFileHandlers(): void {
  const probe = `${FILE_SCHEME}.`;
  if (tf.io.getSaveHandlers(probe).length === 0) {
    tf.io.registerSaveRouter((url) => {
      const dir = routedPath(url, tf.io.getSaveHandlers);
      return dir === undefined ? DECLINED : fileSaveHandler(dir);
    });
  }
  if (tf.io.getLoadHandlers(probe).length === 0) {
    tf.io.registerLoadRouter((url) => {
      const file = routedPath(url, (u) => tf.io.getLoadHandlers(u));
      return file === undefined ? DECLINED : fileLoadHandler(file);
    });
  }
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

function readModelJson(file: string, missing: string): tf.io.ModelJSON {
  let text: string;
  try {
    const info = statSync(file);
    if (info.isDirectory())
      throw new ModelFileError(file, `is a folder; load the model.json inside it (${join(file, MODEL_JSON)})`);
    if (info.size > MAX_JSON_BYTES)
      throw new ModelFileError(file, `is ${info.size} bytes; a model.json has at most ${MAX_JSON_BYTES}`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelFileError(file, code === 'ENOENT' ? missing : `cannot be read (${code ?? firstLine(err)})`);
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
async function readWeights(
  dir: string,
  file: string,
  manifest: tf.io.WeightsManifestConfig,
): Promise<[tf.io.WeightsManifestEntry[], ArrayBuffer]> {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of manifest) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group.weights))
      throw new ModelFileError(file, 'has a weightsManifest group without "paths" and "weights"');
    specs.push(...group.weights);
    for (const p of group.paths) {
      const path = resolve(dir, String(p));
      const rel = relative(resolve(dir), path);
      if (rel === '' || rel.startsWith('..') || isAbsolute(rel))
        throw new ModelFileError(file, `names weights file ${JSON.stringify(p)} outside its folder`);
      try {
        buffers.push(readFileSync(path));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new ModelFileError(
          path,
          code === 'ENOENT' ? `not found (named in ${file})` : `cannot be read (${code ?? firstLine(err)})`,
        );
      }
    }
  }
  let need = 0;
  for (const s of specs) {
    const bytes = bytesPerValue(s);
    if (bytes === undefined || !Array.isArray(s.shape))
      throw new ModelFileError(
        file,
        `has weight ${JSON.stringify(s.name)} of unsupported dtype ${JSON.stringify(s.quantization?.dtype ?? s.dtype)}`,
      );
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

/** The first line of an error's message. */
export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
