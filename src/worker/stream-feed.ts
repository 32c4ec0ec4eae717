/**
 * The step loop's feed of a streamed run: step g trains on the batch in slot
 * g % R of the training ring (Note [batch ring] in data/ring.ts).
 */
import { DATA_TIMEOUT_FACTOR, SLOT, countOf, release, take, type Ring } from '../data/ring.js';
import type { Session } from '../trainer/session.js';
import type { Feed } from './feed.js';
import type { Local } from './local.js';

export function streamFeed(session: Session, ring: Ring, rank: number, l: Local): Feed {
  const rows = ringRows(ring);
  const timeoutMs = DATA_TIMEOUT_FACTOR * session.stepTimeoutMs;
  const check = (): void => l.barrier.throwIfAborted();
  return {
    step(g) {
      const slot = g % ring.slots;
      if (take(ring, slot, g, timeoutMs, check) !== SLOT.full) return { stop: 'no data' };
      const n = countOf(ring, slot);
      const cell = g % ring.sizes.length;
      if (rank === 0) Atomics.store(ring.sizes, cell, n);
      const at = slot * ring.maxBatch;
      return { batches: [{ data: ring.data, rows: rows.subarray(at, at + n), cell }], len: n, index: cell };
    },
    done(g) {
      release(ring, g % ring.slots);
    },
  };
}

/** 0, 1, ..., every row of the ring: a slot's samples in order. */
export function ringRows(ring: Ring): Int32Array {
  return Int32Array.from({ length: ring.slots * ring.maxBatch }, (_, i) => i);
}
