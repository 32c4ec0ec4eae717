/**
 * npm run bench: micro-benchmarks of the pieces of a step, in one run.
 *  1. all-reduce of the MLP's 109,386 floats across N = 1..8 threads (the
 *     reduce-scatter between two barriers, as in a step) beside a plain copy of
 *     the same 437 KB (the floor);
 *  2. one barrier crossing between 2 threads, sleeping and spinning, beside a
 *     Piscina round trip of one trivial task per thread (the dispatch a
 *     task-per-step design would pay: Note [loop, not a task per step]);
 *  3. one training step (forward + backward + gradient export) per backend and
 *     shard size 64, 32, 16, 8, hand-written backward and tfjs autograd.
 * Medians; compare ratios within one run, never absolute times across runs.
 */
import { availableParallelism, cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import * as tf from '@tensorflow/tfjs';
import { Bench } from 'tinybench';
import { initBackend, type BackendName } from '../src/backend.js';
import { loadDataset } from '../src/data/dataset.js';
import { epochPermutation } from '../src/data/shuffle.js';
import { allocateArena, paramsAt } from '../src/kernels/arena.js';
import { AutogradReplica } from '../src/model/autograd.js';
import { makeLayout } from '../src/model/layout.js';
import { MlpReplica, mlpDef, mlpLogits } from '../src/model/mlp.js';
import type { Replica } from '../src/model/types.js';
import { DEFAULT_SPIN_CAP_MS as SPIN_CAP_MS } from '../src/options.js';
import { Rng } from '../src/rng.js';
import { Barrier } from '../src/shm/barrier.js';
import type { ThreadJob } from './threads-worker.js';

const CFG = { inputSize: 784, hidden: [128, 64], numClasses: 10 };
const P = makeLayout(mlpDef(CFG).variables).size;
const us = (ms: number): string => `${(ms * 1000).toFixed(1)} µs`;

async function threads(mode: ThreadJob['mode'], parties: number, spinCapMs: number, iters: number): Promise<number> {
  const arena = allocateArena(P, parties);
  arena.grads.fill(1);
  const barrier = Barrier.cells();
  const url = new URL('./threads-worker.js', import.meta.url);
  const times = await Promise.all(
    Array.from(
      { length: parties },
      (_, rank) =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(url, { workerData: { mode, memory: arena.memory, barrier, P, parties, rank, iters, spinCapMs } satisfies ThreadJob });
          w.once('message', (m: number) => {
            resolve(m);
            void w.terminate();
          });
          w.once('error', reject);
        }),
    ),
  );
  return Math.max(...times) / 1000; // ms
}

async function piscinaRoundTrip(threadsN: number, rounds: number): Promise<number> {
  const pool = new Piscina({ filename: new URL('./noop-task.js', import.meta.url).href, minThreads: threadsN, maxThreads: threadsN });
  const once = (): Promise<unknown[]> => Promise.all(Array.from({ length: threadsN }, () => pool.run(null)));
  for (let i = 0; i < 50; i++) await once();
  const t: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await once();
    t.push(performance.now() - t0);
  }
  await pool.destroy();
  return t.sort((a, b) => a - b)[t.length >> 1];
}

async function stepBench(backends: BackendName[]): Promise<string[]> {
  const data = loadDataset();
  const def = mlpDef(CFG);
  const layout = makeLayout(def.variables);
  const arena = allocateArena(P, 1);
  const rng = new Rng(1);
  def.init(paramsAt(arena, 0), () => rng.next());
  const order = epochPermutation(data.train.count, 1, 0);
  const lines: string[] = [];
  for (const name of backends) {
    if ((await initBackend(name).catch(() => undefined)) === undefined) {
      lines.push(`| ${name} | (backend not available here) |||||`);
      continue;
    }
    const formulations: [string, Replica][] = [
      ['hand-written backward', new MlpReplica(CFG)],
      ['tfjs autograd', new AutogradReplica(layout, CFG.numClasses, mlpLogits(CFG))],
    ];
    for (const [fname, replica] of formulations) {
      const row: string[] = [];
      for (const B of [64, 32, 16, 8]) {
        let i = 0;
        const bench = new Bench({ time: name === 'cpu' || fname === 'tfjs autograd' ? 600 : 400, iterations: 5 });
        bench.add('step', () => {
          const indices = order.subarray((i * B) % 59_000, ((i * B) % 59_000) + B);
          i++;
          paramsAt(arena, 0)[0] += 1e-7; // the weights change every step, as in training
          replica.lossAndGradSum(paramsAt(arena, 0), { ...data.train, indices }, arena.grads);
        });
        await bench.run();
        const r = bench.tasks[0].result;
        row.push(r !== undefined && 'latency' in r ? us(r.latency.p50 ?? NaN) : 'n/a');
      }
      lines.push(`| ${name} | ${fname} | ${row.join(' | ')} |`);
    }
  }
  return lines;
}

async function main(): Promise<void> {
  const cores = availableParallelism();
  console.log(`worker-ddp micro-benchmarks, ${new Date().toISOString()}\n${cpus()[0]?.model.trim() ?? ''}, ${cores} cores, Node ${process.version}\n`);

  const src = new Float32Array(new SharedArrayBuffer(4 * P)).fill(1);
  const dst = new Float32Array(new SharedArrayBuffer(4 * P));
  const copyBench = new Bench({ time: 300 });
  copyBench.add('copy', () => dst.set(src));
  await copyBench.run();
  const cr = copyBench.tasks[0].result;
  const copy = cr !== undefined && 'latency' in cr ? (cr.latency.p50 ?? NaN) : NaN;
  console.log(`1. all-reduce of ${P.toLocaleString('en-US')} floats (reduce-scatter between two barriers, wasm SIMD)`);
  console.log(`   plain copy of ${((4 * P) / 1000).toFixed(0)} KB (Float32Array.set between SharedArrayBuffers): ${us(copy)}`);
  console.log('| threads | all-reduce | / plain copy |\n|---|---|---|');
  for (let n = 1; n <= 8; n++) {
    const t = await threads('allreduce', n, n <= cores ? SPIN_CAP_MS : 0, 2000);
    console.log(`| ${n} | ${us(t)} | ${(t / copy).toFixed(2)}x |`);
  }
  const sleep = await threads('barrier', 2, 0, 20_000);
  const spin = await threads('barrier', 2, SPIN_CAP_MS, 20_000);
  const rt2 = await piscinaRoundTrip(2, 2000);
  console.log(`\n2. synchronisation, 2 threads: barrier crossing ${us(sleep)} (Atomics.wait) / ${us(spin)} (spin first);`);
  console.log(`   Piscina round trip of 2 trivial tasks on 2 threads: ${us(rt2)} (${(rt2 / sleep).toFixed(0)}x a sleeping crossing)`);

  console.log('\n3. one training step (forward + backward + gradient export), median per shard size');
  console.log('| backend | formulation | 64 | 32 | 16 | 8 |\n|---|---|---|---|---|---|');
  for (const line of await stepBench(['wasm', 'cpu', 'tensorflow'])) console.log(line);
  tf.disposeVariables();
}

main().catch((err: unknown) => {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
