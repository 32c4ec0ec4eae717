/**
 * Labelled samples read from files (a CSV file, an image folder), in shared
 * memory, and the two ways they become what training takes: a `Dataset` for the
 * Trainer (a training and a test set), or `x` and `y` for fitParallel.
 */
import { OptionError } from '../errors.js';
import { Rng, deriveSeed } from '../rng.js';
import type { Dataset, Split, Targets } from './dataset.js';
import { takeFiles } from './image-files.js';

/** Class labels are uint8 (Split.labels). */
export const MAX_CLASSES = 256;

/** Names for a message: the first 8, then "...". */
export function nameList(names: readonly string[]): string {
  return names.length > 8 ? `${names.slice(0, 8).join(', ')}, ...` : names.join(', ');
}

/** A reader's `classes` option (a training set's classes, for its test set): 1 to MAX_CLASSES different names. */
export function checkClasses(classes: unknown): readonly string[] | undefined {
  if (classes === undefined) return undefined;
  const ok =
    Array.isArray(classes) &&
    classes.length >= 1 &&
    classes.length <= MAX_CLASSES &&
    classes.every((c) => typeof c === 'string') &&
    new Set(classes).size === classes.length;
  if (!ok) throw new OptionError(`classes must be 1 to ${MAX_CLASSES} different names`);
  return classes as string[];
}

/** fitParallel's `x` or `y`: values with their shape, batch axis first. */
export interface SampleArray {
  readonly data: Float32Array | Uint8Array;
  readonly shape: readonly number[];
}

/** Labelled samples from one file or folder. */
export class Samples {
  private oneHot: SampleArray | undefined;

  constructor(
    /** The file or folder they came from. */
    readonly source: string,
    /**
     * The samples as the Trainer reads them, in shared memory: `images` (count, features)
     * float32, and class labels (`labels`) or regression targets (`targets`).
     */
    readonly split: Split,
    /** One sample's shape: [height, width, channels] for images, [features] for a CSV row. */
    readonly shape: readonly number[],
    /** Class names, the label being the index; undefined for regression targets. */
    readonly classes: readonly string[] | undefined,
    /** Files left out as unreadable (the skipBadFiles option), each with the reason. */
    readonly skipped: readonly { readonly file: string; readonly reason: string }[] = [],
    /** The feature columns by name, in order: a CSV file's with a header line. */
    readonly columns?: readonly string[],
  ) {}

  get count(): number {
    return this.split.count;
  }

  /** fitParallel's `x`: (count, ...shape) float32, a view of `split.images` (no copy). */
  get x(): SampleArray {
    return { data: this.split.images, shape: [this.count, ...this.shape] };
  }

  /**
   * fitParallel's `y`: for classes, one-hot rows (count, classes) float32, as
   * categoricalCrossentropy takes them (made on first use); for regression, the
   * targets (count, ...). For sparseCategoricalCrossentropy pass `labels`.
   */
  get y(): SampleArray {
    const t = this.split.targets;
    if (t !== undefined) return { data: t.data, shape: [this.count, ...t.shape] };
    this.oneHot ??= oneHot(this.split.labels, this.numClasses);
    return this.oneHot;
  }

  /** The class labels (count) uint8, a view of `split.labels`: sparseCategoricalCrossentropy's `y`. */
  get labels(): SampleArray {
    return { data: this.split.labels, shape: [this.count] };
  }

  /** Classes, or for regression the values per target. */
  get numClasses(): number {
    return this.classes?.length ?? (this.split.targets?.shape ?? [1]).reduce((a, d) => a * d, 1);
  }
}

/** (count, classes) float32 rows with a 1 at each label. */
function oneHot(labels: Uint8Array, classes: number): SampleArray {
  const data = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => (data[i * classes + c] = 1));
  return { data, shape: [labels.length, classes] };
}

/**
 * The Trainer's Dataset of a training and a test set (its evaluation set):
 * `test` must have the sample shape and the classes of `train` (load it with
 * the option `classes: train.classes`).
 */
export function toDataset(train: Samples, test: Samples): Dataset {
  const shape = (s: Samples): string => `[${s.shape.join(', ')}]`;
  if (shape(test) !== shape(train)) {
    throw new OptionError(`${test.source} has samples of shape ${shape(test)}, ${train.source} ${shape(train)}`);
  }
  const names = (s: Samples): string => JSON.stringify(s.classes ?? 'regression targets');
  if (names(test) !== names(train) || test.numClasses !== train.numClasses) {
    throw new OptionError(
      `${test.source} has other classes than ${train.source}: load it with the option classes: train.classes`,
    );
  }
  return { dir: train.source, train: train.split, test: test.split, numClasses: train.numClasses };
}

/** Stream of the seeded hold-out draw (epochs use 0, 1, ...: Note [hold-out stream]). */
const HOLD_OUT_STREAM = 0x686f6c64;

/**
 * Splits `samples` in two, as a validation split drawn at random: `fraction` of
 * them (rounded, at least one, leaving at least one) chosen with a seeded draw
 * become `test`, the rest `train`, each keeping the file order. Both are fresh
 * shared copies.
 *
 * Note [hold-out stream]: the draw is a Fisher-Yates shuffle seeded by (seed,
 * HOLD_OUT_STREAM), a stream no epoch's shuffle uses, so the held-out samples
 * depend on the seed and the data alone (a resumed run draws the same ones) and
 * are not correlated with the training order. No stratification: each class is
 * held out in proportion only on average. Re-check: npx vitest run test/csv.test.ts
 */
export function holdOut(samples: Samples, fraction: number, seed: number): { train: Samples; test: Samples } {
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) {
    throw new OptionError(`the held-out fraction must be a number between 0 and 1, got ${String(fraction)}`);
  }
  const n = samples.count;
  const k = Math.round(fraction * n);
  if (k < 1 || k > n - 1) {
    throw new OptionError(
      `holding out ${fraction} of the ${n} samples of ${samples.source} leaves ${k < 1 ? 'no test' : 'no training'} sample`,
    );
  }
  const rng = new Rng(deriveSeed(seed, HOLD_OUT_STREAM));
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const held = new Uint8Array(n);
  for (let i = 0; i < k; i++) held[order[i]] = 1;
  const pick = (want: number): Samples => {
    const rows: number[] = [];
    held.forEach((h, i) => h === want && rows.push(i));
    const { source, shape, classes, skipped, columns } = samples;
    return new Samples(source, takeRows(samples.split, rows), shape, classes, skipped, columns);
  };
  return { train: pick(0), test: pick(1) };
}

/** The given rows of a split, copied into new SharedArrayBuffers. */
function takeRows(s: Split, rows: readonly number[]): Split {
  const f = s.features;
  const images = s.files === undefined ? sharedF32(rows.length * f) : s.images; // image files: no images to copy
  const labels = new Uint8Array(new SharedArrayBuffer(s.labels.length === 0 ? 0 : rows.length));
  rows.forEach((r, i) => {
    if (s.files === undefined) images.set(s.images.subarray(r * f, (r + 1) * f), i * f);
    if (labels.length > 0) labels[i] = s.labels[r];
  });
  let targets: Targets | undefined;
  if (s.targets !== undefined) {
    const w = s.targets.shape.reduce((a, d) => a * d, 1);
    const data = sharedF32(rows.length * w);
    rows.forEach((r, i) => data.set(s.targets!.data.subarray(r * w, (r + 1) * w), i * w));
    targets = { data, shape: s.targets.shape };
  }
  return {
    ...s,
    count: rows.length,
    images,
    labels,
    ...(targets === undefined ? {} : { targets }),
    ...(s.files === undefined ? {} : { files: takeFiles(s.files, rows) }),
  };
}

/** A zeroed Float32Array of n values in a new SharedArrayBuffer. */
export function sharedF32(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * Float32Array.BYTES_PER_ELEMENT));
}
