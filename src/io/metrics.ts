/**
 * metrics.json: what a training run measured, rewritten after every epoch so
 * that an interrupted run keeps what it had. Its fields are documented in
 * docs/usage.md; `version` changes when they do.
 */
import type { BackendName } from '../backend.js';
import type { ResolvedOptions } from '../options.js';
import type { EpochResult } from '../trainer/trainer.js';

/** Training loss is also reported as the mean over each window of this many steps (the tutorial prints every 100 batches). */
export const LOSS_WINDOW = 100;

/** The run's settings, fixed at its start. */
export interface RunInfo {
  readonly startedAt: string;
  /** The training recipe and setup (not the data, the hooks or the checkpoint settings). */
  readonly options: Pick<
    ResolvedOptions,
    'workers' | 'epochs' | 'batchSize' | 'lr' | 'hidden' | 'seed' | 'backend' | 'gradients' | 'stepTimeoutMs'
  >;
  readonly backend: BackendName;
  /** Layer sizes, input to classes: [784, 128, 64, 10]. */
  readonly layers: readonly number[];
  readonly data: string;
  readonly trainSamples: number;
  readonly testSamples: number;
  readonly stepsPerEpoch: number;
  /** The model folder the run started from (--load), or null: fresh weights. */
  readonly loadedFrom: string | null;
}

/** The mean batch loss over steps (step - steps, step], counted from 1 at the run's start. */
export interface StepWindow {
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
}

export interface Metrics extends RunInfo {
  readonly version: 1;
  readonly epochs: readonly EpochRecord[];
  /** Windows of LOSS_WINDOW steps; the last may be shorter while it is still filling. */
  readonly stepLoss: readonly StepWindow[];
}

export class MetricsLog {
  private readonly epochs: EpochRecord[] = [];
  private readonly windows: StepWindow[] = [];
  private step = 0;
  private sum = 0;
  private count = 0;

  constructor(readonly run: RunInfo) {}

  /** Records the batch losses of the next steps, in order. */
  addSteps(losses: ArrayLike<number>): void {
    for (let i = 0; i < losses.length; i++) {
      this.step++;
      this.sum += losses[i];
      if (++this.count === LOSS_WINDOW) this.closeWindow();
    }
  }

  addEpoch(e: EpochResult): void {
    this.epochs.push(epochRecord(e));
  }

  /**
   * For a resumed run writing into the same folder: keeps what the earlier run
   * recorded (`prev`, its metrics.json, if any) up to global step `step` (the
   * checkpoint's) and counts on from there, so the curves cover the whole
   * training and not only its last part.
   *
   * Note [steps continue across a resume]: step numbers are global, so a resumed
   * run's windows carry on from the checkpoint's step, never from 0, whatever
   * the earlier run left behind. A window still open at exactly that step (the
   * CLI writes metrics.json wherever it writes a checkpoint) is reopened, so the
   * windows are those of a run never stopped. Re-check: test/cli-resume.test.ts.
   */
  continueFrom(prev: Metrics | undefined, step: number, stepsPerEpoch: number): void {
    this.step = step;
    if (prev === undefined) return;
    this.epochs.push(...prev.epochs.filter((e) => e.epoch * stepsPerEpoch <= step));
    const kept = prev.stepLoss.filter((w) => w.step <= step);
    const last = kept.at(-1);
    if (last !== undefined && last.step === step && last.steps < LOSS_WINDOW) {
      kept.pop();
      this.sum = last.loss * last.steps;
      this.count = last.steps;
    }
    this.windows.push(...kept);
  }

  /** Global steps recorded so far (the last step addSteps counted). */
  get steps(): number {
    return this.step;
  }

  toJSON(): Metrics {
    const open = this.count > 0 ? [{ step: this.step, steps: this.count, loss: this.sum / this.count }] : [];
    return { version: 1, ...this.run, epochs: [...this.epochs], stepLoss: [...this.windows, ...open] };
  }

  private closeWindow(): void {
    this.windows.push({ step: this.step, steps: this.count, loss: this.sum / this.count });
    this.sum = 0;
    this.count = 0;
  }
}

/** An epoch as metrics.json and --json record it: the documented fields of its test evaluation only. */
export interface EpochRecord extends Omit<EpochResult, 'test'> {
  readonly test: TestRecord;
}

/** The test evaluation's loss and sample count, and a classifier's accuracy or a regression's mean absolute error. */
export interface TestRecord {
  readonly loss: number;
  readonly accuracy?: number;
  readonly mae?: number;
  readonly count: number;
}

/** The names tfjs takes for the mean absolute error metric, which are also its log names. */
export const MAE_NAMES = ['mae', 'MAE', 'meanAbsoluteError', 'mean_absolute_error'] as const;

/** The mean absolute error among an evaluation's metrics, if the model has it. */
export function maeOf(metrics: Readonly<Record<string, number>>): number | undefined {
  return MAE_NAMES.map((n) => metrics[n]).find((v) => v !== undefined);
}

export function epochRecord(e: EpochResult): EpochRecord {
  const { loss, accuracy, metrics, count } = e.test;
  const mae = maeOf(metrics);
  const scored = Number.isNaN(accuracy) && mae !== undefined ? { mae } : { accuracy };
  return { ...e, test: { loss, ...scored, count } };
}
