/**
 * An image folder whose images are decoded where they are read: by each training
 * thread, its own shard of each batch, within the step (worker/shard-rows.ts), as
 * PyTorch's DistributedSampler has each process load only its shard. The Trainer
 * takes it as a split like any other; memory holds the paths, not the images.
 *
 * Defined as: imageFolder's samples (image-folder.ts: classes, order, format,
 * skipBadFiles), each file decoded once up front on every core only to check it
 * and then dropped, so a bad file is refused or skipped before training exactly
 * as imageFolder does; a split's `images` is empty and `files` names row i's file.
 * With decode 'auto', a folder whose images take at most DECODE_BUDGET of the
 * machine's memory decoded is read by imageFolder instead.
 * The paths live in shared memory (UTF-8, end to end), so handing a split to a
 * thread copies no string.
 */
import { totalmem } from 'node:os';
import { OptionError } from '../errors.js';
import type { Split } from './dataset.js';
import type { ImageFormat } from './image-decode.js';
import {
  checkOptions,
  decodeAll,
  decodeFolder,
  folderSamples,
  noneReadable,
  scanFolder,
  type ImageFolderOptions,
} from './image-folder.js';
import { Samples } from './samples.js';

/** Row i's image file: names[starts[i], starts[i + 1]), and the format every one decodes to. */
export interface ImageFiles {
  /** The paths as UTF-8, end to end; SharedArrayBuffer-backed. */
  readonly names: Uint8Array;
  /** (count + 1) where each path starts in `names`, then where the last ends; SharedArrayBuffer-backed. */
  readonly starts: Int32Array;
  readonly format: ImageFormat;
}

/** How an image folder is read: decoded once up front, per step by the training threads, or up front when it fits DECODE_BUDGET. */
export const DECODE_WHEN = ['up-front', 'per-step', 'auto'] as const;
export type DecodeWhen = (typeof DECODE_WHEN)[number];

/** The share of the machine's memory an image folder may take decoded up front, with decode 'auto'. */
export const DECODE_BUDGET = 0.25;

/**
 * Reads the image folder `root` as `decode` says: imageFolder's samples, or the
 * same samples as files (see the file's contract).
 */
export async function imageFolderSamples(
  root: string,
  options: ImageFolderOptions,
  decode: DecodeWhen,
): Promise<Samples> {
  const o = checkOptions(options);
  const scan = await scanFolder(root, o);
  const { files, labels, format, bad } = scan;
  const f = format.height * format.width * format.channels;
  const bytes = files.length * f * Float32Array.BYTES_PER_ELEMENT;
  if (decode === 'up-front' || (decode === 'auto' && bytes <= DECODE_BUDGET * totalmem())) return decodeFolder(scan, o);
  for (const [i, detail] of await decodeAll(files, format, undefined, o)) bad.set(i, detail);
  const kept = files.flatMap((_, i) => (bad.has(i) ? [] : [i]));
  if (kept.length === 0) throw noneReadable(root, files.length);
  const shared = new Uint8Array(new SharedArrayBuffer(kept.length));
  kept.forEach((i, row) => (shared[row] = labels[i]));
  const split: Split = {
    count: kept.length,
    features: f,
    rows: format.height,
    cols: format.width,
    images: new Float32Array(0),
    labels: shared,
    files: fileTable(
      kept.map((i) => files[i]),
      format,
    ),
  };
  return folderSamples(scan, split);
}

/** The paths in shared memory. */
export function fileTable(paths: readonly string[], format: ImageFormat): ImageFiles {
  const encoded = paths.map((p) => Buffer.from(p, 'utf8'));
  const starts = new Int32Array(new SharedArrayBuffer(4 * (paths.length + 1)));
  encoded.forEach((b, i) => (starts[i + 1] = starts[i] + b.length));
  const total = starts[paths.length];
  if (total > 2 ** 31 - 1) throw new OptionError(`the ${paths.length} image paths take more than 2 GiB`);
  const names = new Uint8Array(new SharedArrayBuffer(total));
  encoded.forEach((b, i) => names.set(b, starts[i]));
  return { names, starts, format };
}

/** Row i's path. */
export function pathAt(files: ImageFiles, i: number): string {
  const { names, starts } = files;
  return Buffer.from(names.buffer, names.byteOffset + starts[i], starts[i + 1] - starts[i]).toString('utf8');
}

/** The table of the given rows, in their order. */
export function takeFiles(files: ImageFiles, rows: readonly number[]): ImageFiles {
  return fileTable(
    rows.map((r) => pathAt(files, r)),
    files.format,
  );
}
