// `--resume` and the run's record (issue 25): a run stopped inside epoch 1 or inside a later
// epoch and resumed to the end leaves the metrics.json of a run never stopped (global steps,
// strictly increasing, ending at the last step, the same windows and, on as many workers, the
// same losses), and resuming a finished run says there is nothing left to train.
// The stop is deterministic: a NaN injected at a step (WORKER_DDP_FAULTS) ends the run with the
// --checkpoint-every checkpoint before it, and the resumed run has no fault.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../dist/src/checkpoint.js';
import { LOSS_WINDOW, type Metrics } from '../dist/src/io/metrics.js';
import { maxAbsDiff } from './helpers.js';
import { TRAIN, runCli, smallMnist } from './predict-fixtures.js';

const EPOCHS = 5;
const BATCH = 16;
const STEPS_PER_EPOCH = 30; // 480 samples
const TOTAL = EPOCHS * STEPS_PER_EPOCH; // 150: more than one window of LOSS_WINDOW steps
const EVERY = 4;

let tmp: string;
let data: string;
/** The uninterrupted run's metrics.json and final parameters. */
let reference: Metrics;
let referenceParams: Float32Array;

const BASE = (out: string): string[] => [
  '--data',
  data,
  '--workers',
  '2',
  '--epochs',
  String(EPOCHS),
  '--batch-size',
  String(BATCH),
  '--lr',
  '0.05',
  '--seed',
  '3',
  '--backend',
  'wasm',
  '--out',
  out,
  '--checkpoint-every',
  String(EVERY),
];
const RESUME = (dir: string): string[] => ['--resume', dir, '--workers', '2', '--backend', 'wasm'];
const nanAt = (step: number): Record<string, string> => ({
  WORKER_DDP_FAULTS: JSON.stringify([{ kind: 'nan', rank: 1, step }]),
});

function metrics(dir: string): Metrics {
  return JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Metrics;
}

beforeAll(() => {
  expect(LOSS_WINDOW).toBeLessThan(TOTAL);
  tmp = mkdtempSync(join(tmpdir(), 'wddp-cli-resume-'));
  data = smallMnist(join(tmp, 'data'), STEPS_PER_EPOCH * BATCH, 50);
  const dir = join(tmp, 'reference');
  const r = runCli(TRAIN, BASE(dir), tmp);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  reference = metrics(dir);
  referenceParams = readCheckpoint(dir).params;
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * Stops BASE's run with a NaN at (1-based) step `nanStep`, checks that metrics.json holds the steps
 * of the checkpoint before it, resumes it, and compares the record with the reference run's.
 */
function stopAndResume(name: string, nanStep: number): { stoppedAt: number; stopped: Metrics; resumed: Metrics } {
  const dir = join(tmp, name);
  const stopped = runCli(TRAIN, BASE(dir), tmp, nanAt(nanStep));
  expect(stopped.stderr).toMatch(new RegExp(`^error: step ${nanStep}: non-finite loss`));
  expect(stopped.status).toBe(1);
  const stoppedAt = readCheckpoint(dir).header.step;
  expect(stoppedAt).toBe(Math.floor((nanStep - 1) / EVERY) * EVERY);
  const before = metrics(dir);
  expect(before.stepLoss.at(-1)?.step).toBe(stoppedAt); // written with the checkpoint

  const r = runCli(TRAIN, RESUME(dir), tmp);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toContain(`, resumed at step ${stoppedAt} from ${dir}\n`);
  expect(maxAbsDiff(readCheckpoint(dir).params, referenceParams)).toBeLessThanOrEqual(1e-6);
  return { stoppedAt, stopped: before, resumed: metrics(dir) };
}

/** The resumed record is the uninterrupted one: the same windows and epochs, losses within `tol`. */
function expectUninterrupted(m: Metrics, stoppedAt: number, tol: number): void {
  const steps = m.stepLoss.map((w) => w.step);
  for (let i = 1; i < steps.length; i++) expect(steps[i]).toBeGreaterThan(steps[i - 1]);
  expect(steps.at(-1)).toBe(TOTAL);
  expect(m.stepLoss.map((w) => [w.step, w.steps])).toEqual(reference.stepLoss.map((w) => [w.step, w.steps]));
  expect(m.stepLoss.reduce((a, w) => a + w.steps, 0)).toBe(TOTAL); // no gap, no step twice
  expect(
    maxAbsDiff(
      m.stepLoss.map((w) => w.loss),
      reference.stepLoss.map((w) => w.loss),
    ),
  ).toBeLessThanOrEqual(tol);
  expect(m.epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5]);
  expect(
    maxAbsDiff(
      m.epochs.map((e) => e.loss),
      reference.epochs.map((e) => e.loss),
    ),
  ).toBeLessThanOrEqual(tol);
  const k = Math.floor(stoppedAt / STEPS_PER_EPOCH);
  expect(m.epochs.map((e) => e.samples)).toEqual(
    m.epochs.map((e) =>
      e.epoch === k + 1 ? (k * STEPS_PER_EPOCH + STEPS_PER_EPOCH - stoppedAt) * BATCH : STEPS_PER_EPOCH * BATCH,
    ),
  );
}

describe('metrics.json continues the step count after --resume', () => {
  it('a stop inside epoch 1: no restart from step 0', () => {
    const { stoppedAt, stopped, resumed } = stopAndResume('inside-epoch-1', 11);
    expect(stoppedAt).toBe(8);
    expect(stopped.epochs).toEqual([]);
    expect(stopped.stepLoss.map((w) => [w.step, w.steps])).toEqual([[8, 8]]);
    // The window open at the checkpoint is reopened: the same sums up to float rounding.
    expectUninterrupted(resumed, stoppedAt, 1e-12);
  });

  it('a stop inside epoch 3: no gap after the last finished epoch', () => {
    const { stoppedAt, stopped, resumed } = stopAndResume('inside-epoch-3', 2 * STEPS_PER_EPOCH + 7);
    expect(stoppedAt).toBe(64);
    expect(stopped.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(stopped.stepLoss.map((w) => [w.step, w.steps])).toEqual([[64, 64]]);
    expect(resumed.epochs.slice(0, 2)).toEqual(stopped.epochs);
    expectUninterrupted(resumed, stoppedAt, 1e-12);
  });
});

describe('resuming a finished run', () => {
  it('says there is nothing left to train, exit 0, and leaves the folder as it was', () => {
    const dir = join(tmp, 'reference');
    const before = readFileSync(join(dir, 'metrics.json'), 'utf8');
    const r = runCli(TRAIN, RESUME(dir), tmp);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      `nothing left to train: ${dir} finished its ${EPOCHS} epochs at step ${TOTAL}; to train on, resume with a larger --epochs\n`,
    );
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, 'metrics.json'), 'utf8')).toBe(before);
    expect(readCheckpoint(dir).header.step).toBe(TOTAL);
  });

  it('with --json the line goes to stderr, stdout stays JSON only', () => {
    const r = runCli(TRAIN, [...RESUME(join(tmp, 'reference')), '--json'], tmp);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^nothing left to train: .* at step 150; to train on, resume with a larger --epochs\n$/);
    expect(r.status).toBe(0);
  });
});
