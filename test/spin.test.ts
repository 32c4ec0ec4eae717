// Note [adaptive spin] (src/collective/barrier.ts, issue 10): how long a barrier wait spins before it sleeps.
import { describe, expect, it } from 'vitest';
import { LOAD_SLACK, SpinBudget, spinCapFor } from '../dist/src/collective/barrier.js';

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

describe('spinCapFor (Note [busy machine])', () => {
  it('keeps the cap while the load average leaves a core per runnable thread, else 0', () => {
    expect(spinCapFor(2, 0, 2)).toBe(2);
    expect(spinCapFor(2, 2.1, 2)).toBe(2); // our own 2 workers and a little noise
    expect(spinCapFor(2, 2 + LOAD_SLACK, 2)).toBe(2);
    expect(spinCapFor(2, 2 + LOAD_SLACK + 0.01, 2)).toBe(0);
    expect(spinCapFor(2, 7, 2)).toBe(0); // the busy VM
    expect(spinCapFor(2, 12, 16)).toBe(2); // 2 workers on 16 cores, others using 10
    expect(spinCapFor(0, 0, 2)).toBe(0);
  });

  it('a budget whose cap drops to 0 stops spinning, and relearns when it returns', () => {
    const b = new SpinBudget(2);
    for (let i = 0; i < 100; i++) b.record(0.2);
    b.cap = 0;
    expect(b.ms).toBe(0);
    for (let i = 0; i < 100; i++) b.record(0.2);
    b.cap = 2;
    expect(b.ms).toBeLessThan(0.01); // it learnt nothing while it could not spin
    for (let i = 0; i < 100; i++) b.record(0.2);
    expect(b.ms).toBeCloseTo(0.4, 5);
  });
});
