// Survive faults (issue 5): injected worker crashes and hangs are replaced and their
// step re-run from the parameters before it, so the final model equals an
// uninterrupted run; a step that keeps failing, and non-finite numbers, stop the run
// with a message naming the step, leaving the last good parameters.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../dist/src/checkpoint.js';
import type { Fault } from '../dist/src/faults.js';
import { NonFiniteError, StepFailedError, Trainer } from '../dist/src/trainer/trainer.js';
import { maxAbsDiff, osThreads, rejection, subset } from './helpers.js';

const data = subset(640, 100); // 10 steps per epoch at batch 64
const base = { workers: 2, batchSize: 64, lr: 0.05, seed: 3, backend: 'wasm', data, stepTimeoutMs: 4000 } as const;
let clean: Float32Array;
let cleanAt2: Float32Array;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wddp-faults-'));
  await using t = await Trainer.create(base);
  await t.train(2);
  cleanAt2 = t.getParams();
  await t.train(10);
  clean = t.getParams();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * How long after the step timeout a hang may be reported: two watchdog ticks (400 ms, a tenth of
 * the timeout: the last progress is seen up to a tick late, the stall judged up to a tick late)
 * and 1 s for the scheduling delays of a loaded machine.
 */
const HANG_SLACK_MS = 2 * 400 + 1000;
/** The bit patterns of a float array: equal only when every value is the same bit for bit (NaN and -0 included). */
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

async function runWith(faults: Fault[], warnings: string[] = []): Promise<Float32Array> {
  await using t = await Trainer.create({ ...base, faults, onWarning: (m) => warnings.push(m) });
  await t.train(12);
  expect(t.stepsDone).toBe(12);
  return t.getParams();
}

describe('worker faults are survived', () => {
  it('a worker that throws mid-step: step re-run, same final parameters', async () => {
    const warnings: string[] = [];
    const p = await runWith([{ kind: 'throw', rank: 1, step: 5 }], warnings);
    expect(maxAbsDiff(p, clean)).toBe(0);
    expect(warnings).toEqual([
      "step 5 failed (worker 1: injected fault 'throw' at step 5); re-running it from the parameters before it (attempt 2 of 3)",
    ]);
  });

  it('a worker thread that exits: replaced, step re-run, same final parameters', async () => {
    const warnings: string[] = [];
    const p = await runWith([{ kind: 'exit', rank: 0, step: 3 }], warnings);
    expect(maxAbsDiff(p, clean)).toBe(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^step 3 failed \(worker 0: .*exited.*\); re-running it/);
  });

  it('a hung worker: detected once the step timeout has passed, and soon after; terminated, step re-run', async () => {
    const warnings: string[] = [];
    let warnedAt = 0;
    await using t = await Trainer.create({
      ...base,
      faults: [{ kind: 'hang', rank: 1, step: 7 }],
      onWarning: (m) => {
        warnings.push(m);
        warnedAt ||= performance.now();
      },
    });
    await t.train(6); // warmed up: the next call starts with the hanging step
    const t0 = performance.now();
    await t.train(6);
    expect(maxAbsDiff(t.getParams(), clean)).toBe(0);
    expect(warnings, warnings.join('\n')).toHaveLength(1);
    expect(warnings[0]).toMatch(/^step 7 failed \(worker 1 \(at step 7\) made no progress for 4000 ms \(hung\?\)/);
    const ms = warnedAt - t0;
    console.log(
      `hang detected ${ms.toFixed(0)} ms after the hanging step started (step timeout 4000 ms, watchdog tick 400 ms)`,
    );
    expect(ms).toBeGreaterThanOrEqual(4000);
    expect(ms).toBeLessThan(4000 + HANG_SLACK_MS);
  });

  it('two failures of one step, then success: still the same parameters', async () => {
    const p = await runWith([{ kind: 'throw', rank: 0, step: 9, times: 2 }]);
    expect(maxAbsDiff(p, clean)).toBe(0);
  });

  it('three failures of one step: stops naming worker, step and cause; checkpoint of the last good parameters', async () => {
    const ckdir = join(dir, 'failed');
    const t = await Trainer.create({
      ...base,
      epochs: 2,
      checkpointDir: ckdir,
      faults: [{ kind: 'throw', rank: 1, step: 3, times: 3 }],
    });
    try {
      const err = await rejection(
        (async () => {
          for await (const _ of t.fit()) void _;
        })(),
      );
      expect(err).toBeInstanceOf(StepFailedError);
      expect((err as Error).message).toBe(
        "step 3 failed 3 times, giving up; last failure: worker 1: injected fault 'throw' at step 3",
      );
      expect(t.stepsDone).toBe(2);
      expect(maxAbsDiff(t.getParams(), cleanAt2)).toBe(0);
      const ck = readCheckpoint(ckdir);
      expect(ck.header.step).toBe(2);
      expect(maxAbsDiff(ck.params, cleanAt2)).toBe(0);
      await expect(t.train(1)).rejects.toThrow('trainer stopped after a failure: step 3 failed 3 times');
    } finally {
      await t.close();
    }
  });
});

describe('non-finite numbers stop the run at that step', () => {
  it('an injected NaN loss: NonFiniteError naming the step, parameters from before it, checkpoint kept', async () => {
    const ckdir = join(dir, 'nan');
    const t = await Trainer.create({
      ...base,
      epochs: 3,
      checkpointDir: ckdir,
      faults: [{ kind: 'nan', rank: 0, step: 14 }],
    });
    try {
      const err = await rejection(
        (async () => {
          for await (const _ of t.fit()) void _;
        })(),
      );
      expect(err).toBeInstanceOf(NonFiniteError);
      expect((err as Error).message).toBe(
        'step 14: non-finite loss; the learning rate 0.05 is probably too large, try a smaller one',
      );
      expect(t.stepsDone).toBe(13);
      expect(readCheckpoint(ckdir).header.step).toBe(10); // the epoch-1 checkpoint stays; nothing non-finite was written
    } finally {
      await t.close();
    }
  });

  it("a NaN in one rank's gradient, its loss finite: NonFiniteError 'non-finite gradient' naming step stepsDone + 1, parameters unchanged bit for bit", async () => {
    await using t = await Trainer.create({ ...base, faults: [{ kind: 'nan-grad', rank: 1, step: 4 }] });
    await t.train(3);
    const before = t.getParams();
    const err = await rejection(t.train(5));
    expect(err).toBeInstanceOf(NonFiniteError);
    const e = err as NonFiniteError;
    expect(e.reason).toBe('non-finite gradient');
    expect(t.stepsDone).toBe(3);
    expect(e.message).toBe(
      `step ${t.stepsDone + 1}: non-finite gradient; the learning rate 0.05 is probably too large, try a smaller one`,
    );
    expect(e.step).toBe(t.stepsDone); // 0-based: the step not applied
    expect(bits(t.getParams())).toEqual(bits(before));
  });

  it('a real divergence (lr 1e20): stopped at the first non-finite step, the step it names not applied, parameters still finite', async () => {
    await using t = await Trainer.create({ ...base, lr: 1e20 });
    const err = await rejection(t.train(50));
    expect(err).toBeInstanceOf(NonFiniteError);
    const e = err as NonFiniteError;
    expect(e.message).toMatch(
      new RegExp(
        `^step ${t.stepsDone + 1}: ${e.reason}; the learning rate 100000000000000000000 is probably too large`,
      ),
    );
    expect(e.step).toBe(t.stepsDone);
    expect(t.getParams().every(Number.isFinite)).toBe(true);
  });
});

describe('no thread left behind', () => {
  it('after faults and close(), the process has its threads back', async () => {
    const before = osThreads();
    await runWith([
      { kind: 'exit', rank: 1, step: 2 },
      { kind: 'throw', rank: 0, step: 4 },
    ]);
    await new Promise((r) => setTimeout(r, 200));
    if (before !== undefined) expect(osThreads()).toBeLessThanOrEqual(before);
  });
});
