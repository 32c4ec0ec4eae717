// imageFolderDataset (src/data/image-stream.ts): an image folder decoded batch by batch on
// threads. Each pass is imageFolder's samples, bit for bit, in fitParallel's seeded order of
// that epoch; fitDatasetParallel on it trains fitParallel's model on imageFolder's x and y, and
// tfjs's model.fitDataset's; a bad file fails the pass naming it, or is skipped with full
// batches after it; bad options are their exact errors; idle threads let the program end.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochPermutation } from '../dist/src/data/shuffle.js';
import {
  DataFileError,
  DatasetError,
  OptionError,
  fitDatasetParallel,
  fitParallel,
  imageFolder,
  imageFolderDataset,
  type ImageBatch,
  type ImageFolderDataset,
  type Samples,
} from '../dist/src/index.js';
import { DIGIT_NAMES, digitPng, digitSoftmax, writeDigitFolder } from './digit-files.js';
import { flatWeights, maxAbsDiff, mnist, rejection } from './helpers.js';

const COUNT = 300;
const B = 64;
let tmp: string;
let digits: string;
let memory: Samples;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-image-stream-'));
  digits = writeDigitFolder(join(tmp, 'digits'), mnist().train, 0, COUNT, DIGIT_NAMES);
  memory = await imageFolder(digits);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** One pass of a fresh iterator: its batches' sizes, and xs and ys end to end. */
async function readPass(ds: ImageFolderDataset): Promise<{ sizes: number[]; xs: Float32Array; ys: Float32Array }> {
  const it = await ds.dataset.iterator();
  const sizes: number[] = [];
  const xs: number[] = [];
  const ys: number[] = [];
  for (let r = await it.next(); r.done !== true; r = await it.next()) {
    const { xs: x, ys: y } = r.value as ImageBatch;
    sizes.push(x.shape[0]);
    xs.push(...x.dataSync());
    ys.push(...y.dataSync());
    tf.dispose([x, y]);
  }
  return { sizes, xs: new Float32Array(xs), ys: new Float32Array(ys) };
}

/** `s`'s x and y rows in `order`. */
function rowsOf(s: Samples, order: ArrayLike<number>): { xs: Float32Array; ys: Float32Array } {
  const f = s.split.features;
  const K = s.numClasses;
  const xs = new Float32Array(order.length * f);
  const ys = new Float32Array(order.length * K);
  Array.from(order).forEach((r, i) => {
    xs.set(s.x.data.subarray(r * f, (r + 1) * f), i * f);
    ys.set(s.y.data.subarray(r * K, (r + 1) * K), i * K);
  });
  return { xs, ys };
}

describe('imageFolderDataset on MNIST digits written as PNG', () => {
  it("pass e is imageFolder's samples in fitParallel's order of epoch e; an unread iterator is no pass", async () => {
    const ds = await imageFolderDataset(digits, { batchSize: B, seed: 7, threads: 2, prefetch: 3 });
    expect([ds.count, ds.shape, ds.classes]).toEqual([COUNT, [28, 28, 1], [...DIGIT_NAMES].sort()]);
    await ds.dataset.iterator(); // never read, as model.fitDataset's first
    for (const epoch of [0, 1]) {
      const pass = await readPass(ds);
      expect(pass.sizes).toEqual([64, 64, 64, 64, 44]);
      const want = rowsOf(memory, epochPermutation(COUNT, 7, epoch));
      expect(pass.xs).toEqual(want.xs);
      expect(pass.ys).toEqual(want.ys);
    }
    const ordered = await imageFolderDataset(digits, { batchSize: 100, shuffle: false, threads: 1 });
    const pass = await readPass(ordered);
    expect(pass.sizes).toEqual([100, 100, 100]);
    expect(pass.xs).toEqual(memory.x.data);
    await Promise.all([ds.close(), ordered.close()]);
  });

  it('fitDatasetParallel on it trains what fitParallel trains on imageFolder, and what model.fitDataset does', async () => {
    await tf.setBackend('cpu');
    const [inMemory, streamed, tfjs] = [digitSoftmax(), digitSoftmax(), digitSoftmax()];
    const a = await fitParallel(inMemory, memory.x, memory.y, { epochs: 2, batchSize: B, seed: 3, workers: 2 });
    const ds = await imageFolderDataset(digits, { batchSize: B, seed: 3 });
    const b = await fitDatasetParallel(streamed, ds.dataset, { epochs: 2, workers: 2, backend: 'cpu' });
    const ds2 = await imageFolderDataset(digits, { batchSize: B, seed: 3 });
    const c = await tfjs.fitDataset(ds2.dataset, { epochs: 2, verbose: 0 });
    expect(maxAbsDiff(flatWeights(streamed), flatWeights(inMemory))).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(flatWeights(streamed), flatWeights(tfjs))).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(b.history.loss as number[], a.history.loss as number[])).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(b.history.loss as number[], c.history.loss as number[])).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(b.history.acc as number[], c.history.acc as number[])).toBeLessThanOrEqual(1e-6);
    await Promise.all([ds.close(), ds2.close()]);
  });
});

describe('imageFolderDataset, bad files, folders and options', () => {
  const png = (i: number): Buffer => digitPng(mnist().train.images.subarray(i * 784, (i + 1) * 784));
  /** root/a/00.png ... root/a/10.png, file 03.png truncated. */
  function withTruncated(name: string): { root: string; file: string } {
    const root = join(tmp, name);
    mkdirSync(join(root, 'a'), { recursive: true });
    for (let i = 0; i < 11; i++) writeFileSync(join(root, 'a', `${String(i).padStart(2, '0')}.png`), png(i));
    const file = join(root, 'a', '03.png');
    const good = png(3);
    writeFileSync(file, good.subarray(0, good.length >> 1));
    return { root, file };
  }
  const TRUNCATED = 'is a truncated PNG (its IDAT chunk runs past the end)';

  it('a truncated PNG fails the run naming the epoch, batch and file', async () => {
    const { root, file } = withTruncated('truncated');
    const ds = await imageFolderDataset(root, { batchSize: 4, shuffle: false });
    const m = tf.sequential({
      layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 1 })],
    });
    m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const err = await rejection(fitDatasetParallel(m, ds.dataset, { epochs: 1, workers: 2, backend: 'cpu' }));
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).toBe(`the dataset threw at epoch 0, batch 0: ${file}: ${TRUNCATED}`);
    await ds.close();
  });

  it('a pass that fails (a thread without progress for timeoutMs) leaves the next pass new threads', async () => {
    // No thread decodes its first image within 1 ms of being started: each pass fails, each on its own first file.
    const ds = await imageFolderDataset(digits, { timeoutMs: 1, threads: 1 });
    const fails: string[] = [];
    for (let e = 0; e < 2; e++) fails.push(((await rejection(readPass(ds))) as Error).message);
    for (const m of fails) expect(m).toMatch(/\/\d{5}\.png: was not decoded within 0\.001 s$/);
    expect(fails[1]).not.toBe(fails[0]);
    await ds.close();
  });

  it('with skipBadFiles: left out and listed once, the batches after it full', async () => {
    const { root, file } = withTruncated('skipped');
    const ds = await imageFolderDataset(root, { batchSize: 4, shuffle: false, skipBadFiles: true, threads: 2 });
    for (let pass = 0; pass < 2; pass++) {
      const { sizes, xs } = await readPass(ds);
      expect(sizes).toEqual([4, 4, 2]);
      const keep = [0, 1, 2, 4, 5, 6, 7, 8, 9, 10];
      expect(xs).toEqual(
        new Float32Array(keep.flatMap((i) => [...mnist().train.images.subarray(i * 784, (i + 1) * 784)])),
      );
    }
    expect(ds.skipped).toEqual([{ file, reason: TRUNCATED }]);
    await ds.close();
  });

  it('with skipBadFiles, a class folder whose images are all skipped: refused once the pass has read it', async () => {
    const root = join(tmp, 'class-all-bad');
    for (const c of ['a', 'b']) mkdirSync(join(root, c), { recursive: true });
    for (let i = 0; i < 5; i++) writeFileSync(join(root, 'a', `${i}.png`), png(i));
    for (let i = 0; i < 2; i++) writeFileSync(join(root, 'b', `${i}.png`), 'junk');
    const ds = await imageFolderDataset(root, { batchSize: 2, skipBadFiles: true, threads: 1 });
    const err = await rejection(readPass(ds));
    expect(err).toBeInstanceOf(DataFileError);
    expect((err as Error).message).toBe(`${join(root, 'b')}: has no readable images (2 skipped)`);
    await ds.close();
  });

  it("a class folder without images, and bad options: imageFolder's errors, each one line", async () => {
    const root = join(tmp, 'empty-class');
    mkdirSync(join(root, 'a'), { recursive: true });
    mkdirSync(join(root, 'b'), { recursive: true });
    writeFileSync(join(root, 'a', 'x.png'), png(0));
    const err = await rejection(imageFolderDataset(root));
    expect(err).toBeInstanceOf(DataFileError);
    expect((err as Error).message).toBe(`${join(root, 'b')}: has no images (.png, .jpg, .jpeg files)`);
    const bad: [object, string][] = [
      [
        { batch: 4 },
        'unknown imageFolderDataset option batch (known: channels, size, resize, skipBadFiles, classes, threads, timeoutMs, batchSize, shuffle, seed, prefetch)',
      ],
      [{ batchSize: 0 }, 'batchSize must be an integer from 1 to 1048576, got 0'],
      [{ shuffle: 'yes' }, 'shuffle must be true or false, got "yes"'],
      [{ seed: -1 }, 'seed must be an integer from 0 to 4294967295, got -1'],
      [{ prefetch: 1.5 }, 'prefetch must be an integer from 1 to 1024, got 1.5'],
      [{ channels: 2 }, 'channels must be 1 or 3, got 2'],
    ];
    const noRoot = await rejection(imageFolderDataset(undefined as unknown as string));
    expect((noRoot as Error).message).toBe('the image folder must be a path (a non-empty string), got undefined');
    for (const [options, message] of bad) {
      const e = await rejection(imageFolderDataset(digits, options));
      expect(e).toBeInstanceOf(OptionError);
      expect((e as Error).message).toBe(message);
    }
  });

  it('threads left open do not keep the program running', () => {
    const index = new URL('../dist/src/index.js', import.meta.url).href;
    const script = `
      const { imageFolderDataset } = await import(${JSON.stringify(index)});
      const ds = await imageFolderDataset(${JSON.stringify(digits)}, { batchSize: 8, threads: 2 });
      const it = await ds.dataset.iterator();
      const { value } = await it.next();
      console.log(value.xs.shape.join('x'));`;
    const file = join(tmp, 'one-batch.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    expect([r.status, r.stdout.trim(), r.signal]).toEqual([0, '8x28x28x1', null]);
  });
});
