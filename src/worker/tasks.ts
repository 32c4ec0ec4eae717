/**
 * The tasks a worker thread runs for the coordinator (src/trainer/trainer.ts),
 * one per thread per collective call: init, train (train-loop.ts), evaluate,
 * evaluateStream (stream-eval.ts), predict and weights. workers/train-worker.ts is the Piscina module exporting them.
 */
import { threadId } from 'node:worker_threads';
import { partition } from '../partition.js';
import { paramsAt } from '../simd/arena.js';
import type { EvalResult, EvalTask, InitResult, InitTask, PredictTask, WeightsTask } from '../trainer/session.js';
import { attach, guarded } from './local.js';
import { shardRows } from './shard-rows.js';

export { train } from './train-loop.js';
export { evaluateStream } from './stream-eval.js';

export async function init({ session, rank, step }: InitTask): Promise<InitResult> {
  const l = await attach(session, rank);
  // Every thread must hold an init task at once, or one thread could run two
  // and another none: the barrier makes each task wait for all the others.
  guarded(l, () => l.barrier.wait());
  l.cross?.start(rank === 0 ? paramsAt(l.arena, step) : undefined); // Notes [start together], [rank 0's parameters] in collective/cross-process.ts
  return { backend: l.backend, threadId };
}

/** Loss and metric sums over this thread's contiguous part of a split, in chunks to bound memory. */
export async function evaluate({ session, rank, split, step }: EvalTask): Promise<EvalResult> {
  const l = await attach(session, rank);
  const data = session[split];
  const { lo, hi } = partition(data.count, session.parties, rank);
  let lossSum = 0;
  const metricSums = new Array<number>(session.metricCount).fill(0); // an empty part adds 0s
  const chunk = 1000;
  for (let a = lo; a < hi; a += chunk) {
    const indices = Int32Array.from({ length: Math.min(chunk, hi - a) }, (_, j) => a + j);
    const part = l.model.evaluate(paramsAt(l.arena, step), shardRows(data, indices));
    lossSum += part.lossSum;
    part.metricSums.forEach((m, k) => (metricSums[k] += m));
  }
  return { lossSum, metricSums, count: hi - lo };
}

/** The model's outputs (count, ...) for the given inputs with the parameters after `step` steps. */
export async function predict({ session, images, count, step }: PredictTask): Promise<Float32Array> {
  const l = await attach(session);
  const indices = Int32Array.from({ length: count }, (_, j) => j);
  return l.model.predict(paramsAt(l.arena, step), {
    images,
    labels: new Uint8Array(count),
    features: session.train.features,
    indices,
  });
}

/** This thread's non-trainable weights (batch-norm statistics), end to end. */
export async function weights({ session }: WeightsTask): Promise<Float32Array> {
  return (await attach(session)).model.nonTrainable();
}
