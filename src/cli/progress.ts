/**
 * How `train` reports: a progress bar per epoch on a terminal, one plain line
 * per epoch otherwise, one JSON object per epoch with --json, nothing with
 * --quiet. Warnings and errors go to stderr in every mode.
 */
import { Presets, SingleBar } from 'cli-progress';
import { epochRecord, maeOf, type EpochRecord } from '../io/metrics.js';
import type { EpochResult, Evaluation } from '../trainer/trainer.js';
import type { Report } from './args.js';

/** Bar updates per epoch: each is a separate dispatch of steps to the workers (see FitHooks.chunkSteps). */
const UPDATES_PER_EPOCH = 20;

/** One line of --json output: an EpochResult plus the run's epoch count. Documented in README.md ("--json"). */
export interface EpochJson extends EpochRecord {
  readonly epochs: number;
}

/** A loss or error as the lines show it: 4 decimals, or 5 significant digits where decimals would hide it. */
function num(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toPrecision(5) : v.toFixed(4);
}

/**
 * The test evaluation as an epoch line shows it: a classifier's accuracy, or
 * for regression targets the loss and the mean absolute error (mae).
 */
export function testLine(t: Evaluation): string[] {
  const mae = maeOf(t.metrics);
  if (Number.isNaN(t.accuracy) && mae !== undefined) return [`test loss ${num(t.loss)}`, `test mae ${num(mae)}`];
  return [`test accuracy ${(100 * t.accuracy).toFixed(2)}%`];
}

/** The test evaluation as a run's last line: testLine with the counts (and a classifier's loss). */
export function testSummary(t: Evaluation): string {
  const [first, ...rest] = testLine(t);
  if (rest.length > 0) return `${[first, ...rest].join(', ')} (${t.count} sample${t.count === 1 ? '' : 's'})`;
  return `${first} (${Math.round(t.accuracy * t.count)}/${t.count}), test loss ${num(t.loss)}`;
}

/** The run's geometry, which turns a step count into an epoch and a sample count. */
export interface RunShape {
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly batchSize: number;
  /** Training samples per epoch. */
  readonly samples: number;
}

export class Reporter {
  private bar: SingleBar | undefined;
  /** The epoch the bar shows, and its steps and loss sum so far (in this process: a resumed epoch starts midway). */
  private epochShown = 0;
  private seen = 0;
  private lossSum = 0;
  private since = performance.now();

  private constructor(
    private readonly mode: 'bar' | 'lines' | 'json' | 'quiet',
    private readonly shape: RunShape,
    private readonly out: NodeJS.WriteStream,
  ) {}

  /** `auto` is a bar when `out` is a terminal, plain lines when it is not. */
  static create(report: Report, shape: RunShape, out: NodeJS.WriteStream = process.stdout): Reporter {
    const mode = report === 'auto' ? (out.isTTY === true ? 'bar' : 'lines') : report;
    return new Reporter(mode, shape, out);
  }

  /** Steps per dispatch: a bar needs several per epoch; otherwise whole epochs, the fastest. */
  chunkSteps(): number | undefined {
    return this.mode === 'bar' ? Math.max(1, Math.ceil(this.shape.stepsPerEpoch / UPDATES_PER_EPOCH)) : undefined;
  }

  /** Free text for a person: shown as lines and with the bar, not in --json or --quiet. */
  info(text: string): void {
    if (this.mode === 'bar' || this.mode === 'lines') this.out.write(`${text}\n`);
  }

  /** A chunk of steps finished: `losses` of the steps up to global step `stepsDone`, all in one epoch. */
  steps(stepsDone: number, losses: Float64Array): void {
    if (this.mode !== 'bar' || losses.length === 0) return;
    const { epochs, stepsPerEpoch: S, batchSize, samples: N } = this.shape;
    const epoch = Math.floor((stepsDone - 1) / S) + 1;
    if (epoch !== this.epochShown) {
      this.stopBar();
      this.epochShown = epoch;
      this.seen = 0;
      this.lossSum = 0;
    }
    this.seen += losses.length;
    for (const l of losses) this.lossSum += l;
    const samplesAt = (step: number): number => Math.min(step * batchSize, N);
    const inEpoch = stepsDone - (epoch - 1) * S;
    const done = samplesAt(inEpoch);
    const rate = (done - samplesAt(inEpoch - this.seen)) / Math.max((performance.now() - this.since) / 1000, 1e-9);
    const payload = { epoch, epochs, rate: Math.round(rate), loss: num(this.lossSum / this.seen) };
    if (this.bar === undefined) {
      this.bar = new SingleBar(
        {
          format: 'epoch {epoch}/{epochs} {bar} {percentage}% | {rate} samples/s | loss {loss} | ETA {eta_formatted}',
          stream: this.out,
          barsize: 30,
          clearOnComplete: true,
          hideCursor: false,
        },
        Presets.shades_classic,
      );
      this.bar.start(N, done, payload);
    } else {
      this.bar.update(done, payload);
    }
  }

  /** An epoch ended (and was evaluated): its line, and the clock restarts for the next. */
  epoch(e: EpochResult): void {
    this.stopBar();
    if (this.mode === 'json') {
      const line: EpochJson = { ...epochRecord(e), epochs: this.shape.epochs };
      this.out.write(`${JSON.stringify(line)}\n`);
    } else {
      this.info(
        `epoch ${e.epoch}/${this.shape.epochs}  loss ${num(e.loss)}  ${Math.round(e.samplesPerSecond)} samples/s  ` +
          `${e.seconds.toFixed(2)} s  ${testLine(e.test).join('  ')}`,
      );
    }
    this.since = performance.now();
  }

  /** Removes a bar still drawn (a run that failed mid-epoch), so that what follows starts on a clean line. */
  stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
