/**
 * How `train` reports: a progress bar per epoch on a terminal, one plain line
 * per epoch otherwise, one JSON object per epoch with --json, nothing with
 * --quiet. Warnings and errors go to stderr in every mode.
 */
import { SingleBar } from 'cli-progress';
import type { EpochResult } from '../trainer/trainer.js';
import type { Report } from './args.js';

/** Bar updates per epoch: each is a separate dispatch of steps to the workers (see FitHooks.chunkSteps). */
const UPDATES_PER_EPOCH = 20;

/** One line of --json output: an EpochResult plus the run's epoch count. Documented in docs/usage.md. */
export interface EpochJson extends EpochResult {
  readonly epochs: number;
}

export class Reporter {
  private bar: SingleBar | undefined;
  private barEpoch = 0;

  private constructor(
    private readonly mode: 'bar' | 'lines' | 'json' | 'quiet',
    private readonly epochs: number,
    private readonly out: NodeJS.WriteStream,
  ) {}

  /** `auto` is a bar when `out` is a terminal, plain lines when it is not. */
  static create(report: Report, epochs: number, out: NodeJS.WriteStream = process.stdout): Reporter {
    const mode = report === 'auto' ? (out.isTTY === true ? 'bar' : 'lines') : report;
    return new Reporter(mode, epochs, out);
  }

  /** Steps per dispatch: bar updates need several per epoch; otherwise whole epochs, the fastest. */
  chunkSteps(stepsPerEpoch: number): number | undefined {
    return this.mode === 'bar' ? Math.max(1, Math.ceil(stepsPerEpoch / UPDATES_PER_EPOCH)) : undefined;
  }

  /** Free text for a person: shown as lines and with the bar, not in --json or --quiet. */
  info(text: string): void {
    if (this.mode === 'bar' || this.mode === 'lines') this.out.write(`${text}\n`);
  }

  /** Progress within `epoch` (1-based): samples done of its total, and the mean loss of its steps so far. */
  progress(epoch: number, samples: number, total: number, runningLoss: number, seconds: number): void {
    if (this.mode !== 'bar') return;
    const payload = { epoch, epochs: this.epochs, rate: Math.round(samples / Math.max(seconds, 1e-9)), loss: runningLoss.toFixed(4) };
    if (this.bar === undefined || this.barEpoch !== epoch) {
      this.bar?.stop();
      this.bar = new SingleBar({
        format: 'epoch {epoch}/{epochs} {bar} {percentage}% | {rate} samples/s | loss {loss} | ETA {eta_formatted}',
        stream: this.out,
        barsize: 30,
        clearOnComplete: true,
        hideCursor: false,
      });
      this.barEpoch = epoch;
      this.bar.start(total, samples, payload);
    } else {
      this.bar.update(samples, payload);
    }
  }

  epoch(e: EpochResult): void {
    this.stopBar();
    if (this.mode === 'json') {
      const line: EpochJson = { ...e, epochs: this.epochs };
      this.out.write(`${JSON.stringify(line)}\n`);
    } else {
      this.info(
        `epoch ${e.epoch}/${this.epochs}  loss ${e.loss.toFixed(4)}  ${Math.round(e.samplesPerSecond)} samples/s  ` +
          `${e.seconds.toFixed(2)} s  test accuracy ${(100 * e.test.accuracy).toFixed(2)}%`,
      );
    }
  }

  /** Removes a bar still drawn (a run that failed mid-epoch), so that what follows starts on a clean line. */
  stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
