/**
 * A folder of images in torchvision's ImageFolder layout, `root/<class>/<image>`,
 * as labelled samples in shared memory, decoded in parallel.
 *
 * Defined as: the classes are root's subfolders, sorted by name (as ImageFolder
 * sorts them), the label of an image being its class's position; a class's
 * images are its .png, .jpg and .jpeg files (any case), in its subfolders too,
 * in ImageFolder's order (folder by folder, sorted by path, each folder's files
 * sorted). Names starting with "." (hidden files and folders) are left out;
 * other files are ignored. Every image is decoded to one size and 1 or 3
 * channels (image-decode.ts). An empty root, a class folder without images and
 * an unreadable image (unless skipBadFiles) are DataFileErrors naming the folder
 * or file.
 */
import { readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { availableParallelism } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { OptionError, showValue } from '../errors.js';
import { checkInt } from '../options.js';
import type { Split } from './dataset.js';
import { DataFileError } from './idx.js';
import {
  IMAGE_EXTENSIONS,
  ImageFileError,
  ImageSizeError,
  imageSize,
  notFound,
  type ImageFormat,
} from './image-decode.js';
import { MAX_CLASSES, Samples, checkClasses, nameList } from './samples.js';

export interface ImageFolderOptions {
  /** 1: luminance (default), 3: RGB. */
  readonly channels?: 1 | 3;
  /** [height, width] of every sample (default: the first image's size). */
  readonly size?: readonly [number, number];
  /** Scale every image to `size`; false (default): an image of another size is an error. */
  readonly resize?: boolean;
  /** Leave out the images that cannot be read or decoded, listed in Samples.skipped (default false: an error). */
  readonly skipBadFiles?: boolean;
  /** The classes the folders' names are looked up in (a training set's `classes`, for its test set); default: root's own. */
  readonly classes?: readonly string[];
  /** Decoding threads (default: the number of cores; fewer for a small folder). */
  readonly threads?: number;
  /** A decoding thread that finishes no image for this long fails the load (default 60000 ms). */
  readonly timeoutMs?: number;
}

/**
 * A decoding thread's work: files[i] goes to row first + i of `images` (undefined: to a
 * scratch row, a check that every file decodes); it stops early once stop[0] is 1.
 */
export interface DecodeTask {
  readonly files: readonly string[];
  readonly first: number;
  readonly images: Float32Array | undefined;
  readonly format: ImageFormat;
  readonly stop: Int32Array;
}

/** What a decoding thread posts after each of its files, and when it is done. */
export type DecodeMessage =
  | { readonly kind: 'decoded' }
  | { readonly kind: 'bad'; readonly detail: string; readonly size: boolean }
  | { readonly kind: 'done' };

const OPTION_NAMES = ['channels', 'size', 'resize', 'skipBadFiles', 'classes', 'threads', 'timeoutMs'];
/** The largest height or width of a sample. */
export const MAX_IMAGE_SIDE = 8192;
/** Fewer files than this per thread do not pay for starting one. */
const FILES_PER_THREAD = 256;
/** How long a failed load waits for a thread to stop (Note [threads stop between images]). */
const STOP_GRACE_MS = 5000;
const WORKER = new URL('../../workers/image-worker.js', import.meta.url);

/** Reads the image folder `root` (see the file's contract). */
export async function imageFolder(root: string, options: ImageFolderOptions = {}): Promise<Samples> {
  const o = checkOptions(options);
  return decodeFolder(await scanFolder(root, o), o);
}

/** A folder listed, and the format its images decode to; `bad`: the files found unreadable so far. */
export interface FolderScan {
  readonly root: string;
  readonly classes: readonly string[];
  readonly files: readonly string[];
  readonly labels: readonly number[];
  readonly format: ImageFormat;
  readonly bad: Map<number, string>;
}

export async function scanFolder(root: string, o: Resolved): Promise<FolderScan> {
  const { classes, files, labels } = listFolder(root, o.classes);
  const bad = new Map<number, string>();
  const format = await formatOf(root, files, o, bad);
  return { root, classes, files, labels, format, bad };
}

/** The scanned folder's images decoded into shared memory. */
export async function decodeFolder(
  { root, classes, files, labels, format, bad }: FolderScan,
  o: Resolved,
): Promise<Samples> {
  const f = format.height * format.width * format.channels;
  let images: Float32Array;
  try {
    images = new Float32Array(new SharedArrayBuffer(files.length * f * Float32Array.BYTES_PER_ELEMENT));
  } catch {
    const gb = (files.length * f * 4) / 2 ** 30;
    throw new DataFileError(
      root,
      `${files.length} images of ${f} values need ${gb.toFixed(1)} GiB, more than can be allocated`,
    );
  }
  for (const [i, detail] of await decodeAll(files, format, images, o)) bad.set(i, detail);
  // Note [skipped rows]: the threads write each image at its row; the rows of skipped files are
  // then closed up in place, so the samples keep the folder's order and no second buffer is made.
  // Re-check: npx vitest run test/image-folder.test.ts (skipBadFiles: the rows after a skip)
  let count = 0;
  const shared = new Uint8Array(new SharedArrayBuffer(files.length));
  for (let i = 0; i < files.length; i++) {
    if (bad.has(i)) continue;
    if (count !== i) images.copyWithin(count * f, i * f, (i + 1) * f);
    shared[count++] = labels[i];
  }
  if (count === 0) throw noneReadable(root, files.length);
  const split = {
    count,
    features: f,
    rows: format.height,
    cols: format.width,
    images: images.subarray(0, count * f),
    labels: shared.subarray(0, count),
  };
  return folderSamples({ root, classes, files, labels, format, bad }, split);
}

/**
 * A scanned folder's Samples: `split` holds its readable files' rows; the bad ones
 * are listed as skipped, in file order. A class folder whose images were all
 * skipped is refused, as an empty one is.
 */
export function folderSamples({ root, classes, files, labels, format, bad }: FolderScan, split: Split): Samples {
  const [listed, kept] = [new Map<number, number>(), new Set<number>()];
  labels.forEach((label, i) => {
    listed.set(label, (listed.get(label) ?? 0) + 1);
    if (!bad.has(i)) kept.add(label);
  });
  for (const [label, n] of listed)
    if (!kept.has(label))
      throw new DataFileError(join(resolve(root), classes[label]), `has no readable images (${n} skipped)`);
  const skipped = [...bad].sort(([a], [b]) => a - b).map(([i, reason]) => ({ file: files[i], reason }));
  return new Samples(resolve(root), split, [format.height, format.width, format.channels], classes, skipped);
}

export type Resolved = Required<Omit<ImageFolderOptions, 'size' | 'classes'>> &
  Pick<ImageFolderOptions, 'size' | 'classes'>;

/** The options checked, defaults filled in; `reader` and its `extra` option names are for the messages. */
export function checkOptions(
  options: ImageFolderOptions,
  reader = 'imageFolder',
  extra: readonly string[] = [],
): Resolved {
  if (typeof options !== 'object' || options === null) throw new OptionError(`${reader} options must be an object`);
  const known = [...OPTION_NAMES, ...extra];
  for (const k of Object.keys(options))
    if (!known.includes(k)) throw new OptionError(`unknown ${reader} option ${k} (known: ${known.join(', ')})`);
  const { channels = 1, size, resize = false, skipBadFiles = false, classes } = options;
  if (channels !== 1 && channels !== 3) throw new OptionError(`channels must be 1 or 3, got ${showValue(channels)}`);
  const side = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_IMAGE_SIDE;
  if (size !== undefined && !(Array.isArray(size) && size.length === 2 && size.every(side))) {
    throw new OptionError(
      `size must be [height, width], each an integer from 1 to ${MAX_IMAGE_SIDE}, got ${showValue(size)}`,
    );
  }
  if (typeof resize !== 'boolean') throw new OptionError(`resize must be true or false, got ${showValue(resize)}`);
  if (resize && size === undefined) throw new OptionError('resize needs size: the [height, width] to scale to');
  if (typeof skipBadFiles !== 'boolean')
    throw new OptionError(`skipBadFiles must be true or false, got ${showValue(skipBadFiles)}`);
  const threads = checkInt('threads', options.threads ?? availableParallelism(), [1, 256]);
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0 && timeoutMs <= 2 ** 31 - 1))
    throw new OptionError(`timeoutMs must be a number of ms from 1 to 2^31-1, got ${showValue(timeoutMs)}`);
  return { channels, size, resize, skipBadFiles, classes: checkClasses(classes), threads, timeoutMs };
}

/** The classes and the image files with their labels, in ImageFolder's order. */
function listFolder(
  root: string,
  given: readonly string[] | undefined,
): { classes: readonly string[]; files: string[]; labels: number[] } {
  if (typeof root !== 'string' || root === '')
    throw new OptionError(`the image folder must be a path (a non-empty string), got ${showValue(root)}`);
  const entries = readFolder(root, root);
  const folders = entries.filter((e) => isFolder(root, e)).map((e) => e.name);
  if (folders.length === 0) {
    throw new DataFileError(
      root,
      `has no class folders: an image folder holds <class>/<image>${IMAGE_EXTENSIONS.join('|')}`,
    );
  }
  folders.sort();
  if (given === undefined && folders.length > MAX_CLASSES)
    throw new DataFileError(root, `has ${folders.length} class folders, more than ${MAX_CLASSES}`);
  const classes = given ?? folders;
  const files: string[] = [];
  const labels: number[] = [];
  for (const name of folders) {
    const dir = join(root, name);
    const label = classes.indexOf(name);
    if (label < 0)
      throw new DataFileError(dir, `is not one of the ${classes.length} classes given (${nameList(classes)})`);
    const images = imagesUnder(dir, root);
    if (images.length === 0) throw new DataFileError(dir, `has no images (${IMAGE_EXTENSIONS.join(', ')} files)`);
    for (const file of images) {
      files.push(file);
      labels.push(label);
    }
  }
  return { classes, files, labels };
}

/** A folder's visible entries, sorted; a DataFileError naming `shown` when it cannot be listed. */
function readFolder(dir: string, shown: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => !e.name.startsWith('.'))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const detail =
      code === 'ENOENT'
        ? notFound(shown)
        : code === 'ENOTDIR'
          ? 'is not a folder'
          : `cannot be listed (${code ?? String(err)})`;
    throw new DataFileError(shown, detail);
  }
}

/** A folder, or a link to one (ImageFolder follows links). */
function isFolder(dir: string, e: Dirent): boolean {
  if (e.isDirectory()) return true;
  if (!e.isSymbolicLink()) return false;
  try {
    return statSync(join(dir, e.name)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The image files under `dir`, a class folder of `root`, as torchvision's
 * make_dataset orders them: by folder path, then by name. Links are followed, as
 * ImageFolder does; one to a folder above it (`root` included) would list its
 * images again and again, and is a DataFileError.
 */
function imagesUnder(dir: string, root: string): string[] {
  const byFolder: [string, string[]][] = [];
  const walk = (d: string, above: readonly string[]): void => {
    const entries = readFolder(d, d);
    byFolder.push([d, entries.filter((e) => !isFolder(d, e) && isImageName(e.name)).map((e) => join(d, e.name))]);
    for (const e of entries) {
      if (!isFolder(d, e)) continue;
      const sub = join(d, e.name);
      const real = realpathSync(sub);
      if (above.includes(real)) throw new DataFileError(sub, `links to ${real}, a folder it is in: a loop`);
      walk(sub, [...above, real]);
    }
  };
  walk(dir, [realpathSync(root), realpathSync(dir)]);
  byFolder.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return byFolder.flatMap(([, files]) => files);
}

function isImageName(name: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());
}

/**
 * The samples' format: the options' size, else the first image's (with
 * skipBadFiles, the first readable one's; those before it are recorded in `bad`).
 */
async function formatOf(
  root: string,
  files: readonly string[],
  o: Resolved,
  bad: Map<number, string>,
): Promise<ImageFormat> {
  const format = (height: number, width: number, sizeOf?: string): ImageFormat => ({
    height,
    width,
    channels: o.channels,
    resize: o.resize,
    ...(sizeOf === undefined ? {} : { sizeOf }),
  });
  if (o.size !== undefined) return format(o.size[0], o.size[1]);
  for (let i = 0; i < files.length; i++) {
    try {
      const { height, width } = await imageSize(files[i]);
      return format(height, width, files[i]);
    } catch (err) {
      if (!o.skipBadFiles || !(err instanceof ImageFileError)) throw err;
      bad.set(i, err.detail);
    }
  }
  throw noneReadable(root, files.length);
}

export function noneReadable(root: string, skipped: number): DataFileError {
  return new DataFileError(resolve(root), `has no readable images (${skipped} skipped)`);
}

/**
 * Decodes every file into its row of `images` (undefined: only to see that it decodes)
 * on `threads` threads, each taking a contiguous part of the list; the bad files (index -> reason) when skipBadFiles,
 * else the first bad file's DataFileError (the first in `files`). An image of another size is an error
 * either way. A thread that finishes no image for timeoutMs fails the load.
 */
export async function decodeAll(
  files: readonly string[],
  format: ImageFormat,
  images: Float32Array | undefined,
  o: Resolved,
): Promise<Map<number, string>> {
  const n = files.length;
  const threads = Math.max(1, Math.min(o.threads, Math.ceil(n / FILES_PER_THREAD)));
  const bad = new Map<number, string>();
  const stop = new Int32Array(new SharedArrayBuffer(4 * threads)); // stop[t]: thread t stops before its next image
  const exits: Promise<boolean>[] = [];
  const workers: Worker[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    await new Promise<void>((resolveAll, reject) => {
      const finished = new Array<boolean>(threads).fill(false);
      // Note [the first bad file]: the error names the folder's first bad file, whatever the timing:
      // a thread that finds one stops itself and the threads after it (their files come later),
      // and the load fails once every thread before it has finished (or found an earlier one).
      // Re-check: npx vitest run test/image-folder.test.ts (two bad files)
      let first: { readonly thread: number; readonly row: number; readonly error: Error } | undefined;
      const settle = (): void => {
        if (first === undefined) {
          if (finished.every(Boolean)) resolveAll();
        } else if (finished.slice(0, first.thread).every(Boolean)) reject(first.error);
      };
      for (let t = 0; t < threads; t++) {
        const from = Math.floor((t * n) / threads);
        const part = files.slice(from, Math.floor(((t + 1) * n) / threads));
        let next = from; // the row this thread decodes now
        const task: DecodeTask = { files: part, first: from, images, format, stop: stop.subarray(t, t + 1) };
        const worker = new Worker(WORKER, { workerData: task });
        workers.push(worker);
        exits.push(new Promise((exited) => worker.once('exit', () => exited(true))));
        const timer = setTimeout(() => {
          const s = o.timeoutMs / 1000;
          reject(new DataFileError(files[next] ?? files[from], `was not decoded within ${s} s`));
        }, o.timeoutMs);
        timers.push(timer);
        worker.on('message', (m: DecodeMessage) => {
          timer.refresh();
          if (m.kind === 'done') {
            clearTimeout(timer);
            finished[t] = true;
            settle();
            return;
          }
          if (m.kind === 'bad') {
            const Err = m.size ? ImageSizeError : ImageFileError;
            if ((m.size || !o.skipBadFiles) && (first === undefined || next < first.row)) {
              first = { thread: t, row: next, error: new Err(files[next], m.detail) };
              for (let k = t; k < threads; k++) Atomics.store(stop, k, 1);
              settle();
            }
            bad.set(next, m.detail);
          }
          next++;
        });
        worker.on('error', (err) => reject(new Error(`decoding ${files[next]}: ${err.message}`)));
        worker.on('exit', (code) => {
          if (code !== 0) reject(new Error(`a decoding thread exited with code ${code} at ${files[next]}`));
        });
      }
    });
  } finally {
    // Note [threads stop between images]: a failed load asks the threads to stop after their
    // current image and waits for them (a thread killed mid-decode makes the canvas addon
    // complain on stderr); one that does not stop within STOP_GRACE_MS (or timeoutMs, if
    // shorter: stuck in a read) is terminated. Re-check: npx vitest run test/cli-files.test.ts
    for (let t = 0; t < threads; t++) Atomics.store(stop, t, 1);
    for (const t of timers) clearTimeout(t);
    const grace = Math.min(o.timeoutMs, STOP_GRACE_MS);
    const late = (): Promise<boolean> => new Promise((r) => setTimeout(() => r(false), grace).unref());
    const stopped = await Promise.all(exits.map((e) => Promise.race([e, late()])));
    stopped.forEach((ok, i) => ok || void workers[i].terminate());
  }
  return bad;
}
