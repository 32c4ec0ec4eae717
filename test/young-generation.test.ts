// The young generation of a pool's threads (src/trainer/pool.ts, Notes [young generation]
// and [no shrinking]): threads started after a pool exists begin with semi-spaces of a
// quarter of their largest, through V8's process-wide --min-semi-space-size. If a Node or V8 upgrade
// stops reading that flag when an isolate starts, this fails: the threads would begin at
// V8's own start (2 MB of new space here) and shrink back to it after every pause.
import { describe, expect, it } from 'vitest';
import { WorkerPool } from '../dist/src/trainer/pool.js';
import { newSpaceAtStart } from './helpers.js';

describe('young generation of the pool threads', () => {
  it('threads started once a 96 MB pool exists begin with 8 MB semi-spaces, or their own largest if smaller', async () => {
    const pool = new WorkerPool(1, 96);
    try {
      // At least 8: a pool with a larger young generation made earlier in this process raises it.
      expect(await newSpaceAtStart(96)).toBeGreaterThanOrEqual(8);
      expect(await newSpaceAtStart(48)).toBeGreaterThanOrEqual(8);
      expect(await newSpaceAtStart(48)).toBeLessThanOrEqual(16); // its largest semi-space is 16 MB
      expect(await newSpaceAtStart(12)).toBe(4); // its largest semi-space is 4 MB
      // A pool with a smaller young generation does not lower the start of later ones.
      const small = new WorkerPool(1, 24);
      await small.close();
      expect(await newSpaceAtStart(96)).toBeGreaterThanOrEqual(8);
    } finally {
      await pool.close();
    }
  });
});
