/**
 * A ring of shared batch slots: how a tf.data dataset reaches the workers
 * (fitDatasetParallel, src/fit/fit-dataset.ts) without ever being in memory whole.
 *
 * Note [batch ring]: the coordinator (main thread) pulls batches from the
 * dataset's iterator and copies each into the next slot of a ring of R slots;
 * the workers train on slot g % R at global step g while the coordinator fills
 * the slots after it, so loading overlaps compute and memory holds R batches.
 * A slot holds one batch (its inputs, targets and, with classWeight, per-sample
 * loss weights, up to `maxBatch` rows: the first batch's size, so a later larger
 * batch is refused) and three cells:
 * its state, the step (tag) it belongs to, and its sample count. Protocol:
 * - the coordinator fills only an EMPTY slot: FILLING, rows, count and tag, then
 *   FULL; or it marks the slot END (the epoch's data ended before step tag) or
 *   FAILED (the dataset failed there; the coordinator holds the error);
 * - a worker at step g waits for slot g % R to hold tag g in any state but EMPTY
 *   and FILLING; every worker reads the same word, so END and FAILED end the
 *   chunk at the same step in all of them, as a stop request does (Note [verdicts
 *   by consensus] in worker/train-loop.ts);
 * - training: rank 0 empties the slot once its step is applied (after the
 *   step's second barrier), so a failed step re-runs on the batch still there;
 *   validation: the last of the workers to have read it empties it.
 * Every wait has a deadline. A waiting worker bumps HEARTBEAT, which the pool's
 * watchdog counts as progress: waiting for data is not a hang; the coordinator
 * names a dataset that produces nothing for stepTimeoutMs (fit/dataset-pump.ts).
 * `node dist/bench/dataset.js` measures the overlap and the memory.
 */
import type { Split, Targets } from './dataset.js';

/** A slot's state. */
export const SLOT = { empty: 0, filling: 1, full: 2, end: 3, failed: 4 } as const;
export type SlotState = (typeof SLOT)[keyof typeof SLOT];

const STATE = 0;
const TAG = 1;
const COUNT = 2;
const READERS = 3;
const PER_SLOT = 4;

/** How long a waiting worker sleeps between checks of its deadline and of aborts, ms. */
const WAIT_SLICE_MS = 100;

/**
 * A worker waits for its slot at most this many step timeouts: the coordinator
 * names a dataset that produced nothing after one (fit/dataset-pump.ts).
 */
export const DATA_TIMEOUT_FACTOR = 2;

export interface Ring {
  readonly slots: number;
  /** The most samples a slot holds. */
  readonly maxBatch: number;
  /** The slots' samples end to end: a Split of slots * maxBatch rows, slot s at rows [s * maxBatch, (s + 1) * maxBatch). */
  readonly data: Split;
  /** (slots * 4 + 1) per slot its state, tag, count and readers; then HEARTBEAT. */
  readonly cells: Int32Array;
  /**
   * The training ring's sample count of step g's batch at g % sizes.length,
   * written by rank 0 as it takes the batch: the coordinator's accounting reads
   * them (trainer/accumulation.ts, Grouping.sizes) after the chunk.
   */
  readonly sizes: Int32Array;
}

/** The rings of a streamed run: training batches, and validation batches when the validation data is a dataset. */
export interface Stream {
  readonly train: Ring;
  readonly validation: Ring | undefined;
}

/**
 * A ring of `slots` slots shaped like `like` (its per-sample shapes, and a weight
 * column for each output `like` weighs) holding `maxBatch` samples each, and
 * `steps` cells of batch sizes.
 */
export function allocateRing(like: Split, slots: number, maxBatch: number, steps: number): Ring {
  const rows = slots * maxBatch;
  const column = (t: Targets): Targets => ({ data: floats(rows * size(t.shape)), shape: t.shape });
  const data: Split = {
    count: rows,
    features: like.features,
    rows: 1,
    cols: like.features,
    images: floats(rows * like.features),
    labels: new Uint8Array(0),
    targets: like.targets === undefined ? undefined : column(like.targets),
    ...(like.extraInputs === undefined ? {} : { extraInputs: like.extraInputs.map(column) }),
    ...(like.extraTargets === undefined ? {} : { extraTargets: like.extraTargets.map(column) }),
    ...(like.sampleWeights === undefined
      ? {}
      : { sampleWeights: like.sampleWeights.map((w) => (w === undefined ? undefined : floats(rows))) }),
  };
  const cells = new Int32Array(new SharedArrayBuffer(4 * (slots * PER_SLOT + 1)));
  const ring = { slots, maxBatch, data, cells, sizes: new Int32Array(new SharedArrayBuffer(4 * steps)) };
  reset(ring);
  return ring;
}

/** Empties every slot. Only while no worker reads the ring. */
export function reset(ring: Ring): void {
  for (let s = 0; s < ring.slots; s++) {
    Atomics.store(ring.cells, s * PER_SLOT + TAG, -1);
    Atomics.store(ring.cells, s * PER_SLOT + READERS, 0);
    set(ring, s, SLOT.empty);
  }
}

export function stateOf(ring: Ring, slot: number): SlotState {
  return Atomics.load(ring.cells, slot * PER_SLOT + STATE) as SlotState;
}

/** Samples in a full slot. */
export function countOf(ring: Ring, slot: number): number {
  return Atomics.load(ring.cells, slot * PER_SLOT + COUNT);
}

/** Copies `batch` (at most maxBatch samples, the ring's shapes) into an EMPTY slot for step `tag`. */
export function fill(ring: Ring, slot: number, tag: number, batch: Split): void {
  set(ring, slot, SLOT.filling);
  const at = slot * ring.maxBatch;
  const copy = (to: Targets | undefined, from: Targets | undefined): void => {
    if (to !== undefined && from !== undefined) to.data.set(from.data, at * size(to.shape));
  };
  ring.data.images.set(batch.images, at * ring.data.features);
  copy(ring.data.targets, batch.targets);
  ring.data.extraInputs?.forEach((t, i) => copy(t, batch.extraInputs?.[i]));
  ring.data.extraTargets?.forEach((t, i) => copy(t, batch.extraTargets?.[i]));
  ring.data.sampleWeights?.forEach((w, i) => {
    const from = batch.sampleWeights?.[i];
    if (w !== undefined && from !== undefined) w.set(from, at);
  });
  Atomics.store(ring.cells, slot * PER_SLOT + COUNT, batch.count);
  Atomics.store(ring.cells, slot * PER_SLOT + TAG, tag);
  set(ring, slot, SLOT.full);
}

/** Marks an EMPTY slot END or FAILED for step `tag`: the workers that reach it stop there. */
export function mark(ring: Ring, slot: number, tag: number, state: typeof SLOT.end | typeof SLOT.failed): void {
  Atomics.store(ring.cells, slot * PER_SLOT + TAG, tag);
  set(ring, slot, state);
}

/** Empties a slot and wakes whoever waits for it. */
export function release(ring: Ring, slot: number): void {
  set(ring, slot, SLOT.empty);
}

/** A reader of a validation slot is done with it; the last of `readers` empties it. */
export function readDone(ring: Ring, slot: number, readers: number): void {
  if (Atomics.add(ring.cells, slot * PER_SLOT + READERS, 1) === readers - 1) {
    Atomics.store(ring.cells, slot * PER_SLOT + READERS, 0);
    release(ring, slot);
  }
}

/**
 * The coordinator's wait, without blocking its event loop: resolves once the slot
 * is EMPTY or after `ms` (the caller loops, checking whether it should go on).
 */
export async function untilEmpty(ring: Ring, slot: number, ms: number): Promise<void> {
  const i = slot * PER_SLOT + STATE;
  const now = Atomics.load(ring.cells, i);
  if (now === SLOT.empty) return;
  const r = waitAsync(ring.cells, i, now, ms);
  if (r.async) await r.value;
}

/**
 * A worker's wait for slot `slot` to hold step `tag` (FULL, END or FAILED),
 * bumping HEARTBEAT while it waits; `check`, between waits, throws to end it
 * early (a peer failed). Throws after timeoutMs: the coordinator's own deadline
 * (its dataset timeout) comes first, so this means that the coordinator is stuck.
 */
export function take(ring: Ring, slot: number, tag: number, timeoutMs: number, check?: () => void): SlotState {
  const i = slot * PER_SLOT + STATE;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const state = Atomics.load(ring.cells, i) as SlotState;
    if (state !== SLOT.empty && state !== SLOT.filling && Atomics.load(ring.cells, slot * PER_SLOT + TAG) === tag)
      return state;
    check?.();
    const left = deadline - performance.now();
    if (left <= 0)
      throw new Error(`waited ${timeoutMs} ms for the dataset's batch of step ${tag + 1}; the coordinator sent none`);
    Atomics.add(ring.cells, ring.slots * PER_SLOT, 1);
    Atomics.wait(ring.cells, i, state, Math.min(WAIT_SLICE_MS, left));
  }
}

/** Bumps of every ring's HEARTBEAT so far: progress for the pool's watchdog. */
export function heartbeats(stream: Stream | undefined): number {
  if (stream === undefined) return 0;
  const beat = (r: Ring | undefined): number => (r === undefined ? 0 : Atomics.load(r.cells, r.slots * PER_SLOT));
  return beat(stream.train) + beat(stream.validation);
}

function set(ring: Ring, slot: number, state: SlotState): void {
  Atomics.store(ring.cells, slot * PER_SLOT + STATE, state);
  Atomics.notify(ring.cells, slot * PER_SLOT + STATE);
}

function floats(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * n));
}

function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Atomics.waitAsync (Node 16+), typed here: TypeScript has it from lib ES2024, beyond this project's ES2023. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: boolean; value: Promise<string> | string };
  }
).waitAsync;
