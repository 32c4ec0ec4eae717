/**
 * An image folder streamed: imageFolderDataset(root, opts) is a tf.data dataset
 * of { xs, ys } batches decoded from the files while training runs, for a
 * folder whose decoded images do not fit in memory (imageFolder decodes them all
 * up front). fitDatasetParallel and model.fitDataset take its `dataset`.
 *
 * Defined as: the folder, classes, sample format and bad-file rules of
 * imageFolder (image-folder.ts); pass e over the files (the e-th iterator read,
 * counting from 0) takes them in the order epochPermutation(count, seed, e),
 * fitParallel's order of epoch e, or in folder order without shuffle; each batch
 * is the next batchSize readable files, the last one shorter; xs is (batch,
 * height, width, channels) float32 in [0, 1] and ys one-hot (batch, classes),
 * as imageFolder's x and y. So fitDatasetParallel on it trains the model that
 * fitParallel trains on imageFolder's x and y with the same batchSize and seed.
 *
 * Note [decoding ahead]: `threads` threads (decode-pool.ts) decode chunks of
 * batchSize files, `prefetch` chunks ahead of the batch being read, so decoding
 * overlaps training and memory holds about prefetch + 1 batches. A chunk is the
 * next batch unless a file in it is skipped; then batches are made of the
 * readable rows in order across chunks. Re-check: npx vitest run test/image-stream.test.ts
 */
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { OptionError, showValue } from '../errors.js';
import { checkInt } from '../options.js';
import { DecodePool, type Decoded } from './decode-pool.js';
import { DataFileError } from './idx.js';
import { ImageFileError, ImageSizeError } from './image-decode.js';
import { checkOptions, noneReadable, scanFolder, type ImageFolderOptions } from './image-folder.js';
import { epochPermutation } from './shuffle.js';

export interface ImageFolderDatasetOptions extends ImageFolderOptions {
  /** Samples per batch (default 32, as model.fit's). */
  readonly batchSize?: number;
  /** Each pass in a fresh seeded order (default true); false: folder order. */
  readonly shuffle?: boolean;
  /** The seed of the passes' orders (default 0, as fitParallel's). */
  readonly seed?: number;
  /** Chunks of batchSize files decoded ahead of the batch being read (default: 2 per thread). */
  readonly prefetch?: number;
}

/** One batch: the images and their classes one-hot. */
export interface ImageBatch extends tf.TensorContainerObject {
  readonly xs: tf.Tensor4D;
  readonly ys: tf.Tensor2D;
}

export interface ImageFolderDataset {
  /** The batches, one pass per iterator: for fitDatasetParallel, model.fitDataset and model.evaluateDataset. */
  readonly dataset: tf.data.Dataset<ImageBatch>;
  /** Class names, the label being the index (the subfolders, sorted). */
  readonly classes: readonly string[];
  /** Image files found (before any is skipped). */
  readonly count: number;
  /** One sample's shape: [height, width, channels]. */
  readonly shape: readonly [number, number, number];
  /** The files left out so far as unreadable (skipBadFiles), each once, with the reason. */
  readonly skipped: readonly { readonly file: string; readonly reason: string }[];
  /** Ends the decoding threads (idle ones never hold the program open). */
  close(): Promise<void>;
}

const EXTRA = ['batchSize', 'shuffle', 'seed', 'prefetch'];

/** Lists and checks the folder `root` (see the file's contract); nothing is decoded until a batch is read. */
export async function imageFolderDataset(
  root: string,
  options: ImageFolderDatasetOptions = {},
): Promise<ImageFolderDataset> {
  const o = checkOptions(options, 'imageFolderDataset', EXTRA);
  const batchSize = checkInt('batchSize', options.batchSize ?? 32, [1, 1 << 20]);
  const shuffle = options.shuffle ?? true;
  if (typeof shuffle !== 'boolean') throw new OptionError(`shuffle must be true or false, got ${showValue(shuffle)}`);
  const seed = checkInt('seed', options.seed ?? 0, [0, 2 ** 32 - 1]);
  const prefetch = checkInt('prefetch', options.prefetch ?? 2 * o.threads, [1, 1024]);
  const { classes, files, labels, format, bad } = await scanFolder(root, o);
  const skipped = new Map<string, string>();
  for (const [i, reason] of bad) skipped.set(files[i], reason);
  const pool = new DecodePool(o.threads, format, o.timeoutMs);
  const f = format.height * format.width * format.channels;
  const K = classes.length;
  const listed = new Array<number>(K).fill(0); // files per class
  for (const label of labels) listed[label]++;
  let passes = 0;

  /** The decoded chunk's bad files: skipped and recorded, or the first one's error. */
  const screen = (chunk: readonly string[], d: Decoded): void => {
    for (const { index, detail, size } of d.bad) {
      if (size) throw new ImageSizeError(chunk[index], detail);
      if (!o.skipBadFiles) throw new ImageFileError(chunk[index], detail);
      skipped.set(chunk[index], detail);
    }
  };

  async function* pass(): AsyncGenerator<ImageBatch> {
    pool.renew(); // a pass after one that failed starts on new threads
    const order = shuffle ? epochPermutation(files.length, seed, passes++) : identity(files.length);
    const chunks = Math.ceil(files.length / batchSize);
    const ahead: { readonly names: string[]; readonly labels: number[]; readonly decoded: Promise<Decoded> }[] = [];
    let next = 0;
    const launch = (): void => {
      for (; ahead.length < prefetch && next < chunks; next++) {
        const rows = order.subarray(next * batchSize, Math.min((next + 1) * batchSize, files.length));
        const names = Array.from(rows, (i) => files[i]);
        const decoded = pool.decode(names);
        decoded.catch(() => {}); // read when its turn comes; a pass left early never reads it
        ahead.push({ names, labels: Array.from(rows, (i) => labels[i]), decoded });
      }
    };
    // The readable rows decoded and not yet yielded: [images, labels] chunk by chunk.
    const held: { images: Float32Array; labels: number[] }[] = [];
    let rowsHeld = 0;
    let yielded = 0;
    const seen = new Set<number>(); // the classes of the rows read this pass
    for (;;) {
      launch();
      while (rowsHeld < batchSize && ahead.length > 0) {
        const chunk = ahead.shift()!;
        launch();
        const d = await chunk.decoded;
        screen(chunk.names, d);
        held.push({ images: d.images, labels: d.kept.map((k) => chunk.labels[k]) });
        for (const k of d.kept) seen.add(chunk.labels[k]);
        rowsHeld += d.kept.length;
      }
      if (rowsHeld === 0) {
        if (yielded === 0) throw noneReadable(root, skipped.size);
        // A class folder whose images were all skipped is refused, as imageFolder refuses it: known once a pass ends.
        const empty = listed.findIndex((n, c) => n > 0 && !seen.has(c));
        if (empty >= 0)
          throw new DataFileError(
            join(resolve(root), classes[empty]),
            `has no readable images (${listed[empty]} skipped)`,
          );
        return;
      }
      const n = Math.min(batchSize, rowsHeld);
      yield toBatch(take(held, n, f), n);
      rowsHeld -= n;
      yielded++;
    }
  }

  const toBatch = ({ images, labels: ls }: { images: Float32Array; labels: number[] }, n: number): ImageBatch => {
    const ys = new Float32Array(n * K);
    ls.forEach((c, i) => (ys[i * K + c] = 1));
    return {
      xs: tf.tensor4d(images, [n, format.height, format.width, format.channels]),
      ys: tf.tensor2d(ys, [n, K]),
    };
  };

  return {
    dataset: tf.data.generator(pass),
    classes,
    count: files.length,
    shape: [format.height, format.width, format.channels],
    get skipped() {
      return [...skipped].map(([file, reason]) => ({ file, reason }));
    },
    close: () => pool.close(),
  };
}

/** The first n rows held (removing them), as one array: the first chunk's own buffer when it has exactly n. */
function take(
  held: { images: Float32Array; labels: number[] }[],
  n: number,
  f: number,
): { images: Float32Array; labels: number[] } {
  if (held[0].labels.length === n) return held.shift()!;
  const images = new Float32Array(n * f);
  const labels: number[] = [];
  while (labels.length < n) {
    const h = held[0];
    const k = Math.min(n - labels.length, h.labels.length);
    images.set(h.images.subarray(0, k * f), labels.length * f);
    labels.push(...h.labels.slice(0, k));
    if (k === h.labels.length) held.shift();
    else held[0] = { images: h.images.subarray(k * f), labels: h.labels.slice(k) };
  }
  return { images, labels };
}

function identity(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}
