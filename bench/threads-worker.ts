/**
 * A worker thread for bench/micro.ts: runs `iters` iterations of either a bare
 * barrier crossing or one all-reduce (reduce-scatter of its slice between two
 * barriers, exactly as a training step does) and reports the mean µs per
 * iteration.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { arenaViews } from '../src/simd/arena.js';
import { kernelsFor } from '../src/simd/kernels.js';
import { reduceScatter } from '../src/collective/allreduce.js';
import { Barrier } from '../src/collective/barrier.js';

export interface ThreadJob {
  readonly mode: 'barrier' | 'allreduce';
  readonly memory: WebAssembly.Memory;
  readonly barrier: Int32Array;
  readonly P: number;
  readonly parties: number;
  readonly rank: number;
  readonly iters: number;
  readonly spinCapMs: number;
}

const job = workerData as ThreadJob;
const barrier = new Barrier(job.barrier, job.parties, 30_000, job.spinCapMs);
const arena = arenaViews(job.memory, job.P, job.parties);
const k = kernelsFor(job.memory);
const once =
  job.mode === 'barrier'
    ? (): void => barrier.wait()
    : (): void => {
        barrier.wait();
        reduceScatter(k, arena.grads, job.parties, job.P, job.rank, 1 / 64, arena.reduced);
        barrier.wait();
      };
for (let i = 0; i < 100; i++) once(); // warm-up
barrier.wait();
const t0 = performance.now();
for (let i = 0; i < job.iters; i++) once();
parentPort?.postMessage(((performance.now() - t0) * 1000) / job.iters);
