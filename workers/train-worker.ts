/**
 * The worker side of a training run: a Piscina task module. Each exported
 * function is one kind of task; the coordinator (src/trainer/trainer.ts) sends
 * one task per worker per collective call.
 *
 * Per global step g, rank r of N:
 *   1. forward/backward on its shard of the batch, reading params[g % 2]
 *      -> d(sum of shard losses)/d(params) into its row of grads
 *   2. barrier                                          (all rows written)
 *   3. reduce-scatter its slice of P -> reduced; SGD on that slice into params[(g+1) % 2]
 *   4. barrier                                          (all slices updated)
 *
 * Note [loop, not a task per step]: steps run in a loop inside one task, synced
 * by the SharedArrayBuffer barrier, instead of one Piscina task per step. A
 * Piscina round trip of 2 trivial tasks on 2 threads costs ~75 µs (8 on 8:
 * ~390 µs), a barrier crossing ~14 µs sleeping or ~0.3 µs spinning
 * (tfjs-wasm-probe.md Q5; `npm run bench` re-measures both), and a step needs
 * two crossings. Tasks are dispatched per chunk of steps (an epoch at most).
 *
 * Note [verdicts by consensus]: a non-finite loss or gradient, and a stop
 * request, end the chunk in every rank at the same step, because every rank
 * decides from the same shared data (all shards' losses, all slices' probes,
 * control[stopAt]) read after the same barrier. No rank is left waiting.
 */
import { threadId } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src/backend.js';
import { stepsPerEpoch } from '../src/data/shuffle.js';
import type { Fault } from '../src/faults.js';
import { arenaViews, paramsAt, type Arena } from '../src/kernels/arena.js';
import { kernelsFor, type Kernels } from '../src/kernels/kernels.js';
import { AutogradReplica } from '../src/model/autograd.js';
import { MlpReplica, mlpLayout, mlpLogits } from '../src/model/mlp.js';
import type { Replica } from '../src/model/types.js';
import { sgdStep } from '../src/optim/sgd.js';
import { partition } from '../src/partition.js';
import { slotClock } from '../src/profile/record.js';
import { Barrier } from '../src/shm/barrier.js';
import { reduceScatter } from '../src/shm/allreduce.js';
import {
  CONTROL,
  type EvalResult,
  type EvalTask,
  type InitResult,
  type InitTask,
  type PredictTask,
  type Session,
  type StopReason,
  type TrainResult,
  type TrainTask,
} from '../src/trainer/session.js';

/** What this thread keeps between tasks of one session. */
interface Local {
  readonly id: number;
  readonly backend: BackendName;
  readonly replica: Replica;
  readonly barrier: Barrier;
  readonly arena: Arena;
  readonly kernels: Kernels;
}

/**
 * Barrier deadline, a multiple of the step timeout: the coordinator's watchdog
 * (which can tell which rank is behind) should call a hang before a healthy
 * rank's barrier gives up and blurs the diagnosis.
 */
const BARRIER_TIMEOUT_FACTOR = 2;

let local: Local | undefined;

async function attach(session: Session): Promise<Local> {
  if (local?.id === session.id) return local;
  const backend = await initBackend(session.backend);
  const replica =
    session.gradients === 'manual'
      ? new MlpReplica(session.model)
      : new AutogradReplica(mlpLayout(session.model), session.model.numClasses, mlpLogits(session.model));
  const barrier = new Barrier(session.barrier, session.parties, BARRIER_TIMEOUT_FACTOR * session.stepTimeoutMs, session.spins);
  const arena = arenaViews(session.memory, session.paramCount, session.parties);
  local = { id: session.id, backend, replica, barrier, arena, kernels: kernelsFor(session.memory) };
  return local;
}

/** Runs fn; on failure releases the peers (they would otherwise wait at the barrier until the deadline) and rethrows. */
function guarded<T>(l: Local, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    l.barrier.abort();
    throw err;
  }
}

export async function init({ session }: InitTask): Promise<InitResult> {
  const l = await attach(session);
  // Every thread must hold an init task at once, or one thread could run two
  // and another none: the barrier makes each task wait for all the others.
  guarded(l, () => l.barrier.wait());
  return { backend: l.backend, threadId };
}

export async function train({ session, rank, from, to }: TrainTask): Promise<TrainResult> {
  const l = await attach(session);
  Atomics.add(session.beats, rank, 1); // alive: a fresh thread's backend start-up does not count as a stall
  const { grads, reduced } = l.arena;
  const { order, stepLoss, probes, control, parties, batchSize, paramCount: P } = session;
  const n = session.train.count;
  const steps = stepsPerEpoch(n, batchSize);
  const row = grads.subarray(rank * P, (rank + 1) * P);
  const sync = (): void => {
    Atomics.add(session.beats, rank, 1);
    l.barrier.wait();
  };
  const result = (stopped?: { step: number; reason: StopReason }): TrainResult => ({ threadId, numTensors: tf.memory().numTensors, stopped });
  return guarded(l, () => {
    for (let g = from; g < to; g++) {
      if (g >= Atomics.load(control, CONTROL.stopAt)) return result({ step: g, reason: 'requested' });
      const poison = injectFault(session, rank, g);
      const s = g % steps;
      const lo = s * batchSize;
      const len = Math.min(lo + batchSize, n) - lo;
      const shard = partition(len, parties, rank);
      const params = paramsAt(l.arena, g);
      const clock = slotClock(session.marks, s * parties + rank);
      clock?.('start');
      let loss = 0;
      if (shard.hi > shard.lo) {
        const indices = order.subarray(lo + shard.lo, lo + shard.hi);
        loss = l.replica.lossAndGradSum(params, { ...session.train, indices }, row, clock);
      } else {
        row.fill(0); // more workers than samples in this batch
        clock?.('uploaded');
        clock?.('computed');
      }
      if (poison.grad) row[0] = NaN;
      stepLoss[s * parties + rank] = poison.loss ? NaN : loss;
      clock?.('exported');
      sync();
      clock?.('grads synced');
      if (!Number.isFinite(sumOf(stepLoss, s * parties, parties))) return result({ step: g, reason: 'non-finite loss' });
      const slice = reduceScatter(l.kernels, grads, parties, P, rank, 1 / len, reduced);
      probes[rank] = slice.probe;
      clock?.('reduced');
      sgdStep(l.kernels, params, reduced, paramsAt(l.arena, g + 1), slice, session.lr);
      clock?.('stepped');
      sync();
      clock?.('params synced');
      if (!Number.isFinite(sumOf(probes, 0, parties))) return result({ step: g, reason: 'non-finite gradient' });
      if (rank === 0) Atomics.add(control, CONTROL.progress, 1);
    }
    return result();
  });
}

function sumOf(a: Float64Array, off: number, len: number): number {
  let s = 0;
  for (let i = off; i < off + len; i++) s += a[i];
  return s;
}

/** Fires the faults planned for (rank, step); returns which of this rank's numbers must become NaN. */
function injectFault(session: Session, rank: number, step: number): { loss: boolean; grad: boolean } {
  const poison = { loss: false, grad: false };
  session.faults.forEach((f: Fault, i) => {
    if (f.rank !== rank || f.step !== step + 1 || Atomics.add(session.faultsFired, i, 1) >= (f.times ?? 1)) return;
    const what = `injected fault '${f.kind}' at step ${step + 1}`;
    if (f.kind === 'throw') throw new Error(what);
    if (f.kind === 'exit') process.exit(3);
    if (f.kind === 'hang') for (;;);
    if (f.kind === 'nan') poison.loss = true;
    if (f.kind === 'nan-grad') poison.grad = true;
  });
  return poison;
}

/** Loss sum and correct count over this rank's contiguous part of a split, in chunks to bound memory. */
export async function evaluate({ session, rank, split, step }: EvalTask): Promise<EvalResult> {
  const l = await attach(session);
  const data = session[split];
  const c = session.model.numClasses;
  const { lo, hi } = partition(data.count, session.parties, rank);
  let lossSum = 0;
  let correct = 0;
  const chunk = 1000;
  for (let a = lo; a < hi; a += chunk) {
    const indices = Int32Array.from({ length: Math.min(chunk, hi - a) }, (_, j) => a + j);
    const logp = l.replica.logProbs(paramsAt(l.arena, step), { ...data, indices });
    indices.forEach((i, j) => {
      const y = data.labels[i];
      lossSum -= logp[j * c + y];
      if (argmax(logp, j * c, c) === y) correct++;
    });
  }
  return { lossSum, correct, count: hi - lo };
}

/** Class probabilities (count, classes) for the given images with the parameters after `step` steps. */
export async function predict({ session, images, count, step }: PredictTask): Promise<Float32Array> {
  const l = await attach(session);
  const features = session.model.inputSize;
  const indices = Int32Array.from({ length: count }, (_, j) => j);
  const logp = l.replica.logProbs(paramsAt(l.arena, step), { images, labels: new Uint8Array(count), features, indices });
  return logp.map(Math.exp);
}

function argmax(a: Float32Array, off: number, len: number): number {
  let best = 0;
  for (let k = 1; k < len; k++) if (a[off + k] > a[off + best]) best = k;
  return best;
}
