/**
 * The evaluation task of a streamed validation set: every thread evaluates its
 * part of each batch in the validation ring, in order, until the slot that
 * says the data ended (Note [batch ring] in data/ring.ts).
 */
import { DATA_TIMEOUT_FACTOR, SLOT, countOf, readDone, take } from '../data/ring.js';
import { partition } from '../partition.js';
import { paramsAt } from '../simd/arena.js';
import type { EvalResult, EvalStreamTask } from '../trainer/session.js';
import { attach } from './local.js';
import { ringRows } from './stream-feed.js';

/** Loss and metric sums over this thread's parts of the streamed batches; `count` 0 where the data failed before any. */
export async function evaluateStream({ session, rank, step }: EvalStreamTask): Promise<EvalResult> {
  const l = await attach(session, rank);
  const ring = session.stream?.validation;
  if (ring === undefined) throw new Error('evaluateStream: the session streams no validation data');
  const rows = ringRows(ring);
  const params = paramsAt(l.arena, step);
  let lossSum = 0;
  const metricSums = new Array<number>(session.metricCount).fill(0);
  let count = 0;
  for (let k = 0; ; k++) {
    const slot = k % ring.slots;
    const state = take(ring, slot, k, DATA_TIMEOUT_FACTOR * session.stepTimeoutMs);
    Atomics.add(session.beats, rank, 1);
    if (state !== SLOT.full) break;
    const { lo, hi } = partition(countOf(ring, slot), session.parties, rank);
    if (hi > lo) {
      const at = slot * ring.maxBatch;
      const part = l.model.evaluate(params, { ...ring.data, indices: rows.subarray(at + lo, at + hi) });
      lossSum += part.lossSum;
      part.metricSums.forEach((m, j) => (metricSums[j] += m));
      count += hi - lo;
    }
    readDone(ring, slot, session.parties);
  }
  return { lossSum, metricSums, count };
}
