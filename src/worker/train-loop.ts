/**
 * The training task of a worker thread: steps [from, to) in a loop, in step with
 * the other threads. With more workers than threads, thread r computes the shards
 * of a block of workers as one (src/trainer/lanes.ts, Note [workers on fewer
 * threads]); "rank" below is the thread's.
 *
 * Per global step g, rank r of N:
 *   0. the step's batch from the feed (feed.ts): the epoch's order of a split in
 *      memory, or a streamed dataset's slot, waited for (Note [batch ring] in data/ring.ts)
 *   1. forward/backward on its shard of the batch (image files decoded here: shard-rows.ts), reading params[g % 2]
 *      -> d(sum of shard losses)/d(params) into its row of grads
 *   2. barrier                                          (all rows written)
 *   3. reduce-scatter its slice of P -> reduced; in an MPI job, all-reduce that slice
 *      with worker r of every other process (src/collective/cross-process.ts);
 *      the optimizer on that slice:
 *      params[g % 2], state[g % 2] -> params[(g+1) % 2], state[(g+1) % 2]
 *   4. barrier                                          (all slices updated)
 *   5. if any rank's young generation is nearly full: a scavenge in every rank
 *      (src/collective/scavenge.ts, Note [one pause, not two])
 *
 * Note [loop, not a task per step]: steps run in a loop inside one task, synced
 * by the SharedArrayBuffer barrier, instead of one Piscina task per step: a
 * Piscina round trip costs tens of times a barrier crossing, and a step needs
 * two crossings (`npm run bench` measures both; docs/performance.md). Tasks
 * are dispatched per chunk of steps (an epoch at most).
 *
 * Note [verdicts by consensus]: a non-finite loss or gradient, a stop request,
 * and a streamed dataset's end or failure, end the chunk in every rank at the
 * same step, because every rank decides from the same shared data (all shards'
 * losses, all slices' probes, control[stopAt], the step's slot) read after the
 * same barrier. No rank is left waiting.
 */
import { availableParallelism, loadavg } from 'node:os';
import { threadId } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { reduceScatter } from '../collective/allreduce.js';
import { spinCapFor } from '../collective/barrier.js';
import type { CrossProcess } from '../collective/cross-process.js';
import type { Fault } from '../faults.js';
import { nextPowers } from '../optim/adam.js';
import { readHyper } from '../optim/hyper.js';
import { scheduledLr } from '../optim/schedule.js';
import { optimizerStep } from '../optim/step.js';
import { partition, type Range } from '../partition.js';
import { slotClock } from '../profile/record.js';
import { paramsAt, stateAt } from '../simd/arena.js';
import { threadShard, workersOf } from '../trainer/lanes.js';
import { CONTROL, type Session, type StopReason, type TrainResult, type TrainTask } from '../trainer/session.js';
import { openFeed } from './feed.js';
import { shardRows } from './shard-rows.js';
import { attach, guarded, type Local } from './local.js';

export async function train({ session, rank, from, to }: TrainTask): Promise<TrainResult> {
  const l = await attach(session, rank);
  Atomics.add(session.beats, rank, 1); // alive: a fresh thread's backend start-up does not count as a stall
  l.barrier.spinCapMs = spinCapFor(session.spinCapMs, loadavg()[0], availableParallelism()); // Note [busy machine]
  const { grads, reduced } = l.arena;
  const { stepLoss, stepMetrics, metricCount: M, probes, control, parties, workers, paramCount: P } = session;
  const feed = openFeed(session, rank, l);
  const row = grads.subarray(rank * P, (rank + 1) * P);
  const cross = l.cross;
  // Note [global shards] in collective/cross-process.ts; an MPI job runs a thread per worker.
  const shardOf = (len: number): Range =>
    cross === undefined
      ? threadShard(len, workers, parties, rank)
      : partition(len, cross.allWorkers(parties), cross.globalRank(rank, parties));
  const sync = (): void => {
    Atomics.add(session.beats, rank, 1);
    l.barrier.wait();
  };
  const live = readHyper(session.optimizer, session.hyper); // Note [live hyperparameters]
  let powers = live.powers;
  let updated: Range = { lo: 0, hi: 0 };
  const result = (stopped?: { step: number; reason: StopReason }): TrainResult => ({
    threadId,
    numTensors: tf.memory().numTensors,
    stopped,
    updated,
  });
  return guarded(l, () => {
    for (let g = from; g < to; g++) {
      if (g >= Atomics.load(control, CONTROL.stopAt)) return result({ step: g, reason: 'requested' });
      const step = feed.step(g);
      if ('stop' in step) return result({ step: g, reason: step.stop });
      const { len } = step;
      const poison = injectFault(session, rank, g);
      const params = paramsAt(l.arena, g);
      const clock = slotClock(session.marks, step.index * parties + rank);
      clock?.('start');
      // Note [accumulation]: the step's batches one after another, each sharded over all
      // workers as a step of its own would be, their gradient sums added into this rank's
      // row; one reduce-scatter divides by all their samples: one step on them together
      // (test/fit-contract.test.ts checks it against model.fit on the larger batch).
      for (const [k, { data, rows, cell: b }] of step.batches.entries()) {
        const into = k === 0 ? row : l.scratch;
        const shard = shardOf(rows.length);
        const metrics = stepMetrics.subarray((b * parties + rank) * M, (b * parties + rank + 1) * M);
        let loss = 0;
        if (shard.hi > shard.lo) {
          const indices = rows.subarray(shard.lo, shard.hi);
          loss = l.model.lossAndGradSum(params, shardRows(data, indices), into, clock, metrics);
        } else {
          into.fill(0); // more workers than samples in this batch
          metrics.fill(0);
          clock?.('uploaded');
          clock?.('computed');
        }
        if (into !== row) for (let i = 0; i < P; i++) row[i] += into[i];
        stepLoss[b * parties + rank] = loss;
      }
      const batches = { lo: step.batches[0].cell, hi: step.batches[0].cell + step.batches.length };
      if (poison.grad) row[0] = NaN;
      if (poison.loss) stepLoss[batches.lo * parties + rank] = NaN;
      clock?.('exported');
      sync();
      clock?.('grads synced');
      if (rank === 0) l.scavenges?.clear(g);
      // Across processes the loss verdict waits for their sums (Note [one verdict everywhere]).
      const lossCells = [batches.lo * parties, (batches.hi - batches.lo) * parties] as const;
      if (cross === undefined && !Number.isFinite(sumOf(stepLoss, ...lossCells)))
        return result({ step: g, reason: 'non-finite loss' });
      const slice = reduceScatter(l.kernels, grads, parties, P, rank, 1 / len, reduced);
      probes[rank] = cross === undefined ? slice.probe : crossReduce(session, cross, l, rank, batches, g, slice);
      clock?.('reduced');
      // Adam's powers are those of update g + 1: global, so its bias correction continues across a resume.
      const next = paramsAt(l.arena, g + 1);
      const lr = scheduledLr(session.schedule, live.spec.lr, g);
      const spec = lr === live.spec.lr ? live.spec : { ...live.spec, lr }; // no object per step without a schedule
      probes[parties + rank] = optimizerStep(l.kernels, spec, powers, {
        params,
        grad: reduced,
        next,
        state: stateAt(l.arena, g),
        stateNext: stateAt(l.arena, g + 1),
        slice,
      });
      powers = nextPowers(spec, powers);
      updated = { lo: slice.lo, hi: slice.hi };
      clock?.('stepped');
      l.scavenges?.ask(g);
      sync();
      clock?.('params synced');
      l.scavenges?.run(g);
      clock?.('scavenged');
      if (cross !== undefined && !Number.isFinite(sumOf(stepLoss, ...lossCells)))
        return result({ step: g, reason: 'non-finite loss' });
      if (!Number.isFinite(sumOf(probes, 0, parties))) return result({ step: g, reason: 'non-finite gradient' });
      if (!Number.isFinite(sumOf(probes, parties, parties))) return result({ step: g, reason: 'non-finite update' });
      if (rank === 0) {
        feed.done(g);
        Atomics.add(control, CONTROL.progress, 1);
      }
    }
    return result();
  });
}

/**
 * The cross-process step between the reduce-scatter and the optimizer: sums
 * this worker's slice over the processes (returning its probe); worker 0 also
 * sums the step's losses and metrics and turns a stop request in any process
 * into a stop at the next step in all (Note [one verdict everywhere]).
 * session.crossWait tells the watchdog a stall is a wait on other processes.
 */
function crossReduce(
  session: Session,
  cross: CrossProcess,
  l: Local,
  rank: number,
  batches: Range,
  g: number,
  slice: Range,
): number {
  const { parties: N, metricCount: M, control } = session;
  Atomics.store(session.crossWait, rank, 1);
  const probe = cross.allreduceSlice(l.kernels, l.arena.reduced, slice);
  if (rank === 0) {
    const wanted = Atomics.load(control, CONTROL.stopWanted) !== 0;
    let stop = false;
    for (let b = batches.lo; b < batches.hi; b++) {
      stop =
        cross.agree(
          session.stepLoss.subarray(b * N, (b + 1) * N),
          session.stepMetrics.subarray(b * N * M, (b + 1) * N * M),
          wanted,
        ) || stop;
    }
    if (stop) Atomics.store(control, CONTROL.stopAt, g + 1); // read by every worker after the next barrier
  }
  Atomics.store(session.crossWait, rank, 0);
  return probe;
}

function sumOf(a: Float64Array, off: number, len: number): number {
  let s = 0;
  for (let i = off; i < off + len; i++) s += a[i];
  return s;
}

/** Fires the faults planned for this thread's workers at `step`; returns which of this thread's numbers must become NaN. */
function injectFault(session: Session, rank: number, step: number): { loss: boolean; grad: boolean } {
  const poison = { loss: false, grad: false };
  const mine = workersOf(rank, session.parties, session.workers); // a fault names a worker
  session.faults.forEach((f: Fault, i) => {
    if (f.rank < mine.lo || f.rank >= mine.hi || f.step !== step + 1) return;
    if (Atomics.add(session.faultsFired, i, 1) >= (f.times ?? 1)) return;
    const what = `injected fault '${f.kind}' at step ${step + 1}`;
    if (f.kind === 'throw') throw new Error(what);
    if (f.kind === 'exit') process.exit(3);
    if (f.kind === 'hang') for (;;);
    if (f.kind === 'nan') poison.loss = true;
    if (f.kind === 'nan-grad') poison.grad = true;
  });
  return poison;
}
