// MetricsLog (src/io/metrics.ts), the numbers behind metrics.json: step-loss
// windows counted from the run's first step, and continueFrom(), which lets a
// resumed run keep what the earlier run recorded up to its checkpoint.
import { describe, expect, it } from 'vitest';
import { LOSS_WINDOW, MetricsLog, type Metrics, type RunInfo } from '../dist/src/io/metrics.js';
import type { EpochResult } from '../dist/src/index.js';

const S = 30; // steps per epoch
const info = (startedAt: string, workers: number): RunInfo => ({
  startedAt,
  options: {
    workers,
    epochs: 10,
    batchSize: 64,
    lr: 0.05,
    hidden: [128, 64],
    seed: 3,
    backend: 'wasm',
    gradients: 'manual',
    stepTimeoutMs: 60_000,
  },
  backend: 'wasm',
  layers: [784, 128, 64, 10],
  data: '/data',
  trainSamples: S * 64,
  testSamples: 100,
  stepsPerEpoch: S,
  loadedFrom: null,
});
const epoch = (n: number): EpochResult => ({
  epoch: n,
  loss: 1 / n,
  samples: S * 64,
  seconds: 1,
  samplesPerSecond: S * 64,
  test: { loss: 1 / n, accuracy: 0.5, metrics: { acc: 0.5 }, count: 100 },
});
/** `n` batch losses, the k-th (from 1 over the run) being `k`: a window's mean tells which steps it holds. */
const steps = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i + 1);
/** Mean of k over steps (lo, hi]. */
const meanOf = (lo: number, hi: number): number => (lo + 1 + hi) / 2;

describe('MetricsLog', () => {
  it(`windows of ${LOSS_WINDOW} steps, counted from 1; the last one open`, () => {
    const log = new MetricsLog(info('t0', 2));
    log.addSteps(steps(0, 70));
    log.addSteps(steps(70, 80));
    expect(log.toJSON().stepLoss).toEqual([
      { step: 100, steps: 100, loss: meanOf(0, 100) },
      { step: 150, steps: 50, loss: meanOf(100, 150) },
    ]);
  });

  it("continueFrom: keeps the earlier run's epochs and windows up to the checkpoint, and counts on from its step", () => {
    // The earlier run wrote metrics.json after epoch 5 (step 150); its last checkpoint is at
    // step 135 (say --checkpoint-every 45 and kill -9 at step 140, before that epoch's files).
    const earlier = new MetricsLog(info('t0', 2));
    earlier.addSteps(steps(0, 150));
    for (let e = 1; e <= 5; e++) earlier.addEpoch(epoch(e));
    const prev = JSON.parse(JSON.stringify(earlier.toJSON())) as Metrics; // as read back from the file

    const log = new MetricsLog(info('t1', 3));
    log.continueFrom(prev, 135, S);
    log.addSteps(steps(135, 15)); // the rest of epoch 5
    log.addEpoch(epoch(5));
    log.addSteps(steps(150, 90));
    const m = log.toJSON();
    // The run's own settings, not the earlier run's.
    expect([m.startedAt, m.options.workers]).toEqual(['t1', 3]);
    // Epochs 1-4 ended by step 120 <= 135 and are kept; the earlier epoch 5 ended after the checkpoint.
    expect(m.epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(m.epochs.slice(0, 4)).toEqual(prev.epochs.slice(0, 4));
    // (0, 100] is kept; the earlier open window (100, 150] reaches past the checkpoint and
    // is dropped; this run's windows start at step 136 and close every 100 steps.
    expect(m.stepLoss).toEqual([
      { step: 100, steps: 100, loss: meanOf(0, 100) },
      { step: 235, steps: 100, loss: meanOf(135, 235) },
      { step: 240, steps: 5, loss: meanOf(235, 240) },
    ]);
  });

  it('continueFrom at an epoch end (Ctrl-C there): every earlier epoch is kept, the open window reopened', () => {
    const earlier = new MetricsLog(info('t0', 2));
    earlier.addSteps(steps(0, 60));
    earlier.addEpoch(epoch(1));
    earlier.addEpoch(epoch(2));
    const log = new MetricsLog(info('t1', 2));
    log.continueFrom(earlier.toJSON(), 60, S);
    log.addSteps(steps(60, 30));
    log.addEpoch(epoch(3));
    const m = log.toJSON();
    expect(m.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    // The windows of a run never stopped: (0, 90] is one window, still open.
    expect(m.stepLoss).toEqual([{ step: 90, steps: 90, loss: meanOf(0, 90) }]);
  });

  it('continueFrom inside an epoch, past a closed window: the open window carries on to its 100th step', () => {
    const earlier = new MetricsLog(info('t0', 2));
    earlier.addSteps(steps(0, 137));
    for (let e = 1; e <= 4; e++) earlier.addEpoch(epoch(e));
    const log = new MetricsLog(info('t1', 2));
    log.continueFrom(JSON.parse(JSON.stringify(earlier.toJSON())) as Metrics, 137, S);
    expect(log.steps).toBe(137);
    log.addSteps(steps(137, 73));
    const whole = new MetricsLog(info('t0', 2));
    whole.addSteps(steps(0, 210));
    expect(log.toJSON().stepLoss).toEqual(whole.toJSON().stepLoss);
  });

  it('continueFrom without an earlier record (metrics.json lost): steps still count on from the checkpoint', () => {
    const log = new MetricsLog(info('t1', 2));
    log.continueFrom(undefined, 45, S);
    log.addSteps(steps(45, 20));
    expect(log.toJSON().stepLoss).toEqual([{ step: 65, steps: 20, loss: meanOf(45, 65) }]);
    expect(log.toJSON().epochs).toEqual([]);
  });
});
