/**
 * `node dist/bench/dataset.js [--only memory|overhead] [--samples N] [--pairs K]` (--samples for
 * whichever part runs):
 * what streaming a tf.data dataset through the batch ring (fitDatasetParallel,
 * Note [batch ring] in src/data/ring.ts) costs, for the tutorial MLP
 * (784-128-64-10, sgd 0.003, batch 64) at 2 workers on the wasm backend.
 *
 * memory: one epoch of a tf.data.generator that makes --samples MNIST-shaped
 * samples on the fly (default 2,000,000: 6.3 GB as float32), copying rows of the
 * real MNIST into fresh tensors batch by batch; prints the process's peak RSS
 * (process.resourceUsage().maxRSS: the coordinator and every worker thread) and
 * the samples/s. The dataset never is in memory: the bound is 1.5 GB.
 *
 * overhead: --pairs interleaved pairs (default 3) of the same model trained on the
 * first --samples MNIST images (default 60,000) in memory with fitParallel, and
 * streamed with fitDatasetParallel from two tf.data.array datasets: of batches
 * made beforehand (tfjs clones each batch's tensors as it yields them), and of
 * samples with .batch(64) (tfjs stacks 64 tensors a batch on the main thread). Each run trains 2 epochs and times the second, between
 * onEpochBegin and onEpochEnd; ratios are paired by repetition. Also the main
 * thread's cost of each dataset alone (iterating it, no training), of the pump
 * alone (pulling, checking and copying each batch into the ring, no training),
 * and, for each timed epoch, the CPU of all threads per batch and the main
 * thread's busy time per batch (event-loop utilisation, preempted time included):
 * time taken from the cores the workers compute on. Every figure comes with the load average.
 */
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadDataset } from '../src/data/dataset.js';
import { release } from '../src/data/ring.js';
import { TrainPump, type BatchSource } from '../src/fit/dataset-pump.js';
import { fitDatasetParallel } from '../src/fit/fit-dataset.js';
import { layersSource } from '../src/fit/spec.js';
import { fitParallel } from '../src/fit/fit-parallel.js';
import type { Callback } from '../src/fit/callbacks.js';
import { tutorialMlp } from '../src/model/tutorial-mlp.js';

const B = 64;
const WORKERS = 2;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;

const load = (): string => `load ${loadavg()[0].toFixed(2)}`;
const mlp = (): tf.Sequential => tutorialMlp({ inputSize: 784, hidden: [128, 64], numClasses: 10 }, 0);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const mnist = loadDataset();
/** One-hot labels of samples [lo, hi), sample i being MNIST's row i % rows. */
const oneHot = (lo: number, hi: number, rows = mnist.train.count): Float32Array => {
  const y = new Float32Array((hi - lo) * 10);
  for (let i = lo; i < hi; i++) y[(i - lo) * 10 + mnist.train.labels[i % rows]] = 1;
  return y;
};

/** The second epoch of a run: samples/s, the CPU of all threads and the main thread's busy time (event-loop utilisation), ms a batch. */
interface Epoch {
  readonly rate: number;
  readonly cpuMs: number;
  readonly busyMs: number;
}

/** Callbacks that measure the second epoch of a run that trains two; `result()` once it has run. */
function secondEpoch(samples: number): { callbacks: Callback; result: () => Epoch } {
  const batches = Math.ceil(samples / B);
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  let elu0 = performance.eventLoopUtilization();
  let result: Epoch | undefined;
  return {
    callbacks: {
      onEpochBegin: (e) => {
        if (e !== 1) return;
        t0 = performance.now();
        elu0 = performance.eventLoopUtilization();
        cpu0 = process.cpuUsage();
      },
      onEpochEnd: (e) => {
        if (e !== 1) return;
        const seconds = (performance.now() - t0) / 1000;
        const used = process.cpuUsage(cpu0);
        result = {
          rate: samples / seconds,
          cpuMs: (used.user + used.system) / 1000 / batches,
          busyMs: performance.eventLoopUtilization(elu0).active / batches,
        };
      },
    },
    result: () => {
      if (result === undefined) throw new Error('the run ended before its second epoch');
      return result;
    },
  };
}

async function memory(samples: number): Promise<void> {
  const rows = Math.min(10_000, mnist.train.count); // the rows the batches are copied from
  const made = tf.data.generator(function* () {
    for (let lo = 0; lo < samples; lo += B) {
      const n = Math.min(B, samples - lo);
      const x = new Float32Array(n * 784);
      for (let j = 0; j < n; j++) {
        const r = (lo + j) % rows;
        x.set(mnist.train.images.subarray(r * 784, (r + 1) * 784), j * 784);
      }
      yield { xs: tf.tensor2d(x, [n, 784]), ys: tf.tensor2d(oneHot(lo, lo + n, rows), [n, 10]) };
    }
  });
  const model = mlp();
  const t0 = performance.now();
  const h = await fitDatasetParallel(model, made, { epochs: 1, workers: WORKERS, backend: 'wasm' });
  const seconds = (performance.now() - t0) / 1000;
  const rssMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    `memory: ${samples.toLocaleString('en')} samples (${((samples * 784 * 4) / 1e9).toFixed(1)} GB as float32), 1 epoch, ${WORKERS} workers: ` +
      `peak RSS ${rssMb.toFixed(0)} MB, ${(samples / seconds).toFixed(0)} samples/s (start-up included), loss ${h.history.loss[0].toFixed(4)}, ${load()}`,
  );
}

async function overhead(samples: number, pairs: number): Promise<void> {
  const x = tf.tensor2d(mnist.train.images.subarray(0, samples * 784), [samples, 784]);
  const y = tf.tensor2d(oneHot(0, samples), [samples, 10]);
  const batches = tf.data.array(
    Array.from({ length: Math.ceil(samples / B) }, (_, b) => {
      const n = Math.min(B, samples - b * B);
      return { xs: x.slice([b * B, 0], [n, 784]), ys: y.slice([b * B, 0], [n, 10]) };
    }),
  );
  const perSample = tf.tidy(() => {
    const xs = tf.unstack(x);
    const ys = tf.unstack(y);
    return xs.map((xi, i) => ({ xs: xi, ys: ys[i] }));
  });
  // .batch() stacks fresh tensors and fitDataset disposes them; the per-sample tensors stay.
  const arrayDs = tf.data.array(perSample).batch(B);
  for (const [name, ds] of [
    ['tf.data.array(batches)', batches],
    ['tf.data.array(samples).batch(64)', arrayDs],
  ] as const) {
    const t0 = performance.now();
    const it = await ds.iterator();
    for (let r = await it.next(); r.done !== true; r = await it.next()) tf.dispose(r.value);
    const ms = (performance.now() - t0) / Math.ceil(samples / B);
    console.log(`main thread, the dataset alone: ${name}: ${ms.toFixed(3)} ms a batch, ${load()}`);
  }
  console.log(
    `main thread, the pump alone (no training): tf.data.array(batches): ${(await pumpAlone(batches)).toFixed(3)} ms a batch, ${load()}`,
  );
  const common = { epochs: 2, workers: WORKERS, backend: 'wasm' } as const;
  const timed = async (train: (callbacks: Callback) => Promise<unknown>): Promise<Epoch> => {
    const s = secondEpoch(samples);
    await train(s.callbacks);
    return s.result();
  };
  const runs = {
    memory: () =>
      timed((callbacks) => fitParallel(mlp(), x, y, { ...common, batchSize: B, shuffle: false, callbacks })),
    batches: () => timed((callbacks) => fitDatasetParallel(mlp(), batches, { ...common, callbacks })),
    array: () => timed((callbacks) => fitDatasetParallel(mlp(), arrayDs, { ...common, callbacks })),
  };
  const epochs: Record<keyof typeof runs, Epoch[]> = { memory: [], batches: [], array: [] };
  const keys = Object.keys(runs) as (keyof typeof runs)[];
  for (let p = 0; p < pairs; p++) {
    const order = p % 2 === 0 ? keys : [...keys].reverse();
    for (const k of order) {
      const e = await runs[k]();
      epochs[k].push(e);
      console.log(
        `  pair ${p + 1} ${k.padEnd(7)} ${e.rate.toFixed(0)} samples/s, CPU ${e.cpuMs.toFixed(3)} ms a batch (all threads), main thread busy ${e.busyMs.toFixed(3)} ms, ${load()}`,
      );
    }
  }
  const rates = (k: keyof typeof runs): number[] => epochs[k].map((e) => e.rate);
  const ratio = (k: keyof typeof runs): string => median(rates(k).map((r, p) => r / rates('memory')[p])).toFixed(3);
  console.log(
    `overhead: ${samples.toLocaleString('en')} samples, ${WORKERS} workers, medians of ${pairs}: in memory ${median(rates('memory')).toFixed(0)}, ` +
      `tf.data.array(batches) ${median(rates('batches')).toFixed(0)} (${ratio('batches')}x), tf.data.array(samples).batch(64) ${median(rates('array')).toFixed(0)} (${ratio('array')}x) samples/s, ${load()}`,
  );
}

/**
 * The coordinator's cost per batch of `dataset` with no worker to compete with:
 * TrainPump pulls, checks and copies each batch into the ring, and this empties
 * each slot as soon as it is full, as rank 0 does after its step. 3 epochs, the
 * last 2 timed.
 */
async function pumpAlone(dataset: BatchSource): Promise<number> {
  const spec = layersSource(mlp()).spec;
  const epochs = 3;
  const pump = await TrainPump.open(dataset, spec, {
    slots: 4,
    steps: 1024,
    initialEpoch: 0,
    epochs,
    batchesPerEpoch: undefined,
    timeoutMs: 60_000,
  });
  let g = 0;
  let t0 = 0;
  let timed = 0;
  try {
    for (let e = 0; e < epochs; e++) {
      if (e === 1) [t0, timed] = [performance.now(), g];
      for (let n = await pump.batch(g); n !== undefined; n = await pump.batch(g))
        release(pump.ring, g++ % pump.ring.slots);
      pump.nextEpoch();
    }
  } finally {
    pump.close();
  }
  return (performance.now() - t0) / (g - timed);
}

await tf.setBackend('cpu'); // the main thread's tfjs, as a user's Node program has it without tfjs-node
// memory first: maxRSS is the process's peak so far.
if (only === undefined || only === 'memory') await memory(flag('samples', 2_000_000));
if (only === undefined || only === 'overhead') await overhead(flag('samples', 60_000), flag('pairs', 3));
