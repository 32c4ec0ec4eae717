/**
 * `node dist/bench/image-stream.js [--samples N] [--pairs K]`: what decoding an image folder
 * batch by batch costs (imageFolderDataset, src/data/image-stream.ts) against decoding it once
 * up front (imageFolder), for examples/convnet.js at 2 workers on the wasm backend, batch 64.
 *
 * Writes the first --samples MNIST training digits (default 6,000) as PNG files into a
 * temporary image folder, then prints:
 * - decoding alone, no training: one thread's µs per file, decodeImage (these PNGs take the
 *   JavaScript path, Note [PNG in JavaScript]) against the canvas addon's decode of the same
 *   bytes, 5 interleaved rounds; imageFolder's load; one pass of imageFolderDataset;
 * - --pairs interleaved pairs (default 3): 2 epochs in memory (imageFolder, then fitParallel)
 *   and streamed (imageFolderDataset with fitDatasetParallel), the second epoch timed between
 *   onEpochBegin and onEpochEnd, samples/s and their ratio per pair, with the load average.
 * The memory a streamed run holds is prefetch + 1 batches of images, not the folder.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadDataset } from '../src/data/dataset.js';
import { decodeImage } from '../src/data/image-decode.js';
import { imageFolder } from '../src/data/image-folder.js';
import { imageFolderDataset } from '../src/data/image-stream.js';
import type { Callback } from '../src/fit/callbacks.js';
import { fitDatasetParallel } from '../src/fit/fit-dataset.js';
import { fitParallel } from '../src/fit/fit-parallel.js';
import { checkInt } from '../src/options.js';
import { writeDigitFolder } from './digit-files.js';

const B = 64;
const WORKERS = 2;
const load = (): string => `load ${loadavg()[0].toFixed(2)}`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const { values } = parseArgs({
  options: { samples: { type: 'string' }, pairs: { type: 'string' }, threads: { type: 'string' } },
  strict: true,
});
const samples = checkInt('--samples', Number(values.samples ?? 6000), [B, 60_000]);
const pairs = checkInt('--pairs', Number(values.pairs ?? 3), [1, 100]);
const threads = values.threads === undefined ? undefined : checkInt('--threads', Number(values.threads), [1, 256]);

const convnet = async (): Promise<tf.LayersModel> => {
  const url = new URL('../../examples/convnet.js', import.meta.url).href;
  const { default: make } = (await import(url)) as { default: () => tf.LayersModel };
  return make();
};

/** Callbacks timing the second of two epochs; `rate()` once the run is over. */
function secondEpoch(): { callbacks: Callback; rate: () => number } {
  let t0 = 0;
  let seconds = 0;
  return {
    callbacks: {
      onEpochBegin: (e) => void (e === 1 && (t0 = performance.now())),
      onEpochEnd: (e) => void (e === 1 && (seconds = (performance.now() - t0) / 1000)),
    },
    rate: () => samples / seconds,
  };
}

function folderFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((c) => readdirSync(join(dir, c)).map((f) => join(dir, c, f)));
}

/** One thread's µs per file: decodeImage, and the addon's decode of the file's bytes drawn on a canvas. */
async function perFile(files: readonly string[]): Promise<void> {
  const format = { height: 28, width: 28, channels: 1, resize: false } as const;
  const out = new Float32Array(784);
  const ctx = createCanvas(28, 28).getContext('2d');
  const [ours, addon]: number[][] = [[], []];
  const n = Math.min(files.length, 2000);
  for (let round = 0; round < 5; round++) {
    let t = performance.now();
    for (let i = 0; i < n; i++) await decodeImage(files[i], format, out);
    ours.push(((performance.now() - t) * 1000) / n);
    t = performance.now();
    for (let i = 0; i < n; i++) {
      ctx.drawImage(await loadImage(readFileSync(files[i])), 0, 0, 28, 28);
      ctx.getImageData(0, 0, 28, 28);
    }
    addon.push(((performance.now() - t) * 1000) / n);
  }
  const show = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(' ');
  console.log(
    `decoding alone, one thread, µs a file (5 rounds): decodeImage ${show(ours)}, the addon ${show(addon)}; ` +
      `medians ${median(ours).toFixed(0)} and ${median(addon).toFixed(0)}: ${(median(addon) / median(ours)).toFixed(2)}x, ${load()}`,
  );
}

const root = writeDigitFolder(
  join(mkdtempSync(join(tmpdir(), 'image-stream-bench-')), 'digits'),
  loadDataset().train,
  0,
  samples,
);
try {
  await tf.setBackend('wasm');
  await perFile(folderFiles(root));
  let t0 = performance.now();
  const folder = await imageFolder(root);
  const upFront = (performance.now() - t0) / 1000;
  console.log(
    `decoding alone: imageFolder (every core, up front): ${(samples / upFront).toFixed(0)} images/s, ${load()}`,
  );
  const ds = await imageFolderDataset(root, { batchSize: B });
  t0 = performance.now();
  const it = await ds.dataset.iterator();
  for (let r = await it.next(); r.done !== true; r = await it.next()) tf.dispose(r.value);
  const pass = (performance.now() - t0) / 1000;
  console.log(`decoding alone: one pass of imageFolderDataset: ${(samples / pass).toFixed(0)} images/s, ${load()}`);
  await ds.close();
  const ratios: number[] = [];
  const [memoryRates, streamRates] = [[] as number[], [] as number[]];
  for (let p = 0; p < pairs; p++) {
    const m = secondEpoch();
    const inMemory = await imageFolder(root);
    await fitParallel(await convnet(), inMemory.x, inMemory.y, {
      epochs: 2,
      batchSize: B,
      workers: WORKERS,
      backend: 'wasm',
      callbacks: m.callbacks,
    });
    const s = secondEpoch();
    const streamed = await imageFolderDataset(root, { batchSize: B, ...(threads === undefined ? {} : { threads }) });
    await fitDatasetParallel(await convnet(), streamed.dataset, {
      epochs: 2,
      workers: WORKERS,
      backend: 'wasm',
      callbacks: s.callbacks,
    });
    await streamed.close();
    memoryRates.push(m.rate());
    streamRates.push(s.rate());
    ratios.push(s.rate() / m.rate());
    console.log(
      `pair ${p + 1}: in memory ${m.rate().toFixed(0)}, streamed ${s.rate().toFixed(0)} samples/s: ${(s.rate() / m.rate()).toFixed(3)}x, ${load()}`,
    );
  }
  console.log(
    `median: in memory ${median(memoryRates).toFixed(0)}, streamed ${median(streamRates).toFixed(0)} samples/s, ratio ${median(ratios).toFixed(3)} (${folder.count} images, ${WORKERS} workers, batch ${B})`,
  );
} finally {
  rmSync(join(root, '..'), { recursive: true, force: true });
}
