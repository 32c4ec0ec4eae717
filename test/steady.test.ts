// bench/steady.ts: the steady-state rule of `npm run bench:scaling` (issue 10), and its statistics.
import { describe, expect, it } from 'vitest';
import { median, pairedRatios, quantile, repSteps, steadyWindow, warmUp, type Row } from '../dist/bench/steady.js';

describe('steadyWindow', () => {
  it('needs 3 windows, then the last 3 within tol of their median', () => {
    expect(steadyWindow([], 0.05)).toBe(false);
    expect(steadyWindow([1, 1], 0.05)).toBe(false);
    expect(steadyWindow([1, 1, 1], 0.05)).toBe(true);
    expect(steadyWindow([1.74, 0.96, 0.82, 0.8, 0.77], 0.05)).toBe(true); // 0.82 and 0.77 are within 5% of 0.80
    expect(steadyWindow([1.74, 0.96, 0.82, 0.8], 0.05)).toBe(false); // 0.96 is not
    expect(steadyWindow([1, 1.06, 1], 0.05)).toBe(false);
    expect(steadyWindow([1, 1.04, 1], 0.05)).toBe(true);
  });
});

describe('quantile and median', () => {
  it('nearest rank, on unsorted input, without sorting it', () => {
    const a = [5, 1, 4, 2, 3];
    expect(quantile(a, 0.5)).toBe(3);
    expect(quantile(a, 0.9)).toBe(5);
    expect(quantile(a, 0)).toBe(1);
    expect(
      quantile(
        Array.from({ length: 100 }, (_, i) => 100 - i),
        0.99,
      ),
    ).toBe(99);
    expect(a).toEqual([5, 1, 4, 2, 3]);
    expect(quantile([], 0.5)).toBeNaN();
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('pairedRatios', () => {
  it('pair repetitions, so the median cancels a mode switch that both rows share', () => {
    // true ratio 1.6; the machine runs 1.5x slower for one row in rep 2 and for both in reps 3-4:
    // the ratio of medians pairs a slow-mode 26.7 with a fast-mode 64 and says 2.4
    const one = [40, 26.7, 26.7, 26.7, 40];
    const two = [64, 64, 42.7, 42.7, 64];
    expect(median(two) / median(one)).toBeCloseTo(2.4, 1);
    expect(median(pairedRatios(two, one))).toBeCloseTo(1.6, 2);
    expect(pairedRatios([64, 40, 60], [40, 40, 40])).toEqual([1.6, 1, 1.5]);
    expect(median(pairedRatios([], []))).toBeNaN();
    expect(() => pairedRatios([1, 2], [1])).toThrow('pairedRatios: 2 repetitions against 1');
  });
});

/** A row whose step takes `ms(i)` ms for its i-th step (from 0), on a fake clock. */
function fakeRow(ms: (i: number) => number): Row & { done: number } {
  return {
    done: 0,
    samplesPerStep: 64,
    async run(steps) {
      let s = 0;
      for (let k = 0; k < steps; k++) s += ms(this.done++);
      return { seconds: s / 1000 };
    },
    async close() {},
  };
}

describe('warmUp', () => {
  const opts = { tol: 0.05, maxWarmupSteps: 100_000, maxWarmupSeconds: 3600 };

  it('runs until the warm-up curve flattens and reports where', async () => {
    // 3 ms per step decaying to 1 ms (time constant 200 steps), like the measured curve
    const row = fakeRow((i) => 1 + 2 * Math.exp(-i / 200));
    const w = await warmUp(row, opts);
    expect(w.steady).toBe(true);
    expect(row.done).toBe(w.steps);
    expect(w.lastMs).toBeLessThan(1.1);
    expect(w.steps).toBeGreaterThan(600);
    expect(w.steps).toBeLessThan(2000);
    expect(repSteps(w, 1)).toBe(Math.round(1000 / w.lastMs));
  });

  it('sizes each window to ~300 ms from the step time before it, within 20-400 steps', async () => {
    expect(
      (
        await warmUp(
          fakeRow(() => 2),
          opts,
        )
      ).windows,
    ).toEqual([150, 150, 150]);
    expect(
      (
        await warmUp(
          fakeRow(() => 0.1),
          opts,
        )
      ).windows,
    ).toEqual([400, 400, 400]);
    expect(
      (
        await warmUp(
          fakeRow(() => 100),
          opts,
        )
      ).windows,
    ).toEqual([20, 20, 20]);
    // 3 ms for the 10-step probe and the first window, then 1 ms: the window after the first 1 ms one is resized
    const w = await warmUp(
      fakeRow((i) => (i < 110 ? 3 : 1)),
      opts,
    );
    expect(w.windows).toEqual([100, 100, 300, 300]);
    expect(w.windowMs).toEqual([3, 1, 1, 1]);
  });

  it('a plateau lasting 3 windows passes as steady: the rule cannot tell it from steady state', async () => {
    const w = await warmUp(
      fakeRow((i) => (i < 600 ? 2 : 1)),
      opts,
    );
    expect({ steady: w.steady, steps: w.steps, lastMs: w.lastMs }).toEqual({
      steady: true,
      steps: 10 + 3 * 150,
      lastMs: 2,
    });
  });

  it('stops at the step cap, saying it is not steady', async () => {
    const row = fakeRow((i) => (i < 10 || Math.floor((i - 10) / 300) % 2 === 0 ? 1 : 1.5)); // windows of 300 steps alternate: never steady
    const w = await warmUp(row, { ...opts, maxWarmupSteps: 1000 });
    expect(w.steady).toBe(false);
    expect(w.steps).toBeGreaterThanOrEqual(1000);
    expect(w.steps).toBeLessThan(1000 + 400);
  });
});
