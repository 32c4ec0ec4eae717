// bench/ceiling.ts: the ceiling row drives its processes through the steady-state Row protocol.
import { describe, expect, it } from 'vitest';
import { ceilingRow } from '../dist/bench/ceiling.js';

describe('ceilingRow (bench:scaling)', () => {
  it('runs each of its processes for the steps asked, reports every step, and closes them', async () => {
    const row = ceilingRow('mlp', 2, 32, 64, 'wasm');
    try {
      expect(row.samplesPerStep).toBe(64);
      const r = await row.run(3);
      expect(r.stepMs).toHaveLength(6); // 3 steps x 2 processes
      expect(r.stepMs?.every((ms) => ms > 0)).toBe(true);
      expect(r.seconds).toBeGreaterThan(0);
    } finally {
      await row.close();
    }
  }, 60_000);

  it('a process that cannot start names its last words', async () => {
    const row = ceilingRow('no-such-model.js', 1, 8, 8, 'wasm');
    await expect(row.run(1)).rejects.toThrow(/ceiling-child\.js ended: .*no-such-model\.js/);
    await row.close();
  }, 60_000);
});
