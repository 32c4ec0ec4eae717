// Note [adaptive spin] (src/shm/barrier.ts, issue 10): how long a barrier wait spins before it sleeps.
import { describe, expect, it } from 'vitest';
import { SpinBudget } from '../dist/src/shm/barrier.js';

describe('SpinBudget', () => {
  it('starts at the cap', () => {
    expect(new SpinBudget(2).ms).toBe(2);
    expect(new SpinBudget(0).ms).toBe(0);
  });

  it('settles at FACTOR x the typical wait', () => {
    const b = new SpinBudget(2);
    for (let i = 0; i < 200; i++) b.record(0.1);
    expect(b.ms).toBeCloseTo(SpinBudget.FACTOR * 0.1, 9);
  });

  it('is an EWMA with weight WEIGHT on the newest wait', () => {
    const b = new SpinBudget(2); // mean starts at cap / FACTOR = 1
    b.record(0.2);
    const mean = 1 + SpinBudget.WEIGHT * (0.2 - 1);
    expect(b.ms).toBeCloseTo(SpinBudget.FACTOR * mean, 12);
  });

  it('one stall raises the budget by at most WEIGHT x the cap x FACTOR, and it decays', () => {
    const b = new SpinBudget(2);
    for (let i = 0; i < 200; i++) b.record(0.1);
    const before = b.ms;
    b.record(500); // a 500 ms stall counts as the cap
    expect(b.ms - before).toBeCloseTo(SpinBudget.FACTOR * SpinBudget.WEIGHT * (2 - 0.1), 9);
    for (let i = 0; i < 40; i++) b.record(0.1);
    expect(b.ms).toBeLessThan(before * 1.05);
  });

  it('never exceeds the cap, even when every wait is longer', () => {
    const b = new SpinBudget(2);
    for (let i = 0; i < 100; i++) b.record(5);
    expect(b.ms).toBe(2);
  });

  it('a cap of 0 never spins', () => {
    const b = new SpinBudget(0);
    for (let i = 0; i < 10; i++) b.record(1);
    expect(b.ms).toBe(0);
  });
});
