/**
 * The training run's TensorBoard log (--logdir; default the run folder's tb/),
 * written as tfjs-node's tensorBoard() callback would, so that
 * `tensorboard --logdir runs/` shows every run. Runs (folders) and tags:
 *   train      batch_loss, batch_lr   every --log-every optimizer steps, at the global
 *                                     step (1-based, continuing across epochs and a resume)
 *              epoch_loss, epoch_samples_per_second   at the epoch (1-based)
 *   val        epoch_loss, epoch_<metric> (epoch_acc)  the test split, at the epoch
 *   worker_<w> phase_ms/<phase>        each worker thread's mean ms per step in each phase
 *                                     of the epoch (profile/record.ts PHASES), at the epoch
 * The values are the --json line's (epoch_loss its loss, val its test fields).
 */
import { PHASES } from '../profile/record.js';
import { EventFileError } from '../tensorboard/event-writer.js';
import { RunWriters } from '../tensorboard/run-writers.js';
import { workersName } from '../trainer/lanes.js';
import type { EpochResult, Trainer } from '../trainer/trainer.js';

/** `phase_ms/forward_backward` for 'forward/backward', `phase_ms/barrier_wait_grads` for 'barrier wait (grads)'. */
const PHASE_TAGS = PHASES.map((p) => `phase_ms/${p.replace(/[^a-z]+/g, '_').replace(/^_|_$/g, '')}`);

export interface BoardOptions {
  /** Step scalars every this many optimizer steps. */
  readonly every: number;
  /** The run resumed from a checkpoint at trainer.stepsDone (Note [restart purges] in tensorboard/event-writer.ts). */
  readonly resumed: boolean;
  /** Prints one warning line. */
  readonly warn: (message: string) => void;
}

/**
 * Note [the log never stops the run]: scalars are buffered (EventWriter) and written
 * every few seconds, at every epoch end and when the board is disposed (after a
 * stopped run's checkpoint); a step never waits for a write. A folder or file that
 * cannot be written is one warning line, after which this run writes no more
 * TensorBoard scalars and trains on.
 *
 * Note [phase times with the log]: the worker timings need the step marks (Trainer
 * option phaseTimes: a clock read per phase and step in each worker), summed on the
 * coordinator per epoch with no per-step record (profile/phase-times.ts). They are on
 * whenever the log is: a clock read is orders of magnitude below a step, and the log
 * may cost a default run at most 2% of its samples/s. `node dist/bench/tensorboard.js`
 * times the marks and the scalars per step; `--cli` the whole log against --logdir none
 * (on a shared machine, read its load average).
 */
export class RunBoard implements Disposable {
  private readonly writers: RunWriters;
  private failed = false;

  private constructor(
    /** The log folder. */
    readonly dir: string,
    private readonly trainer: Trainer,
    private readonly options: BoardOptions,
  ) {
    this.writers = new RunWriters(dir);
  }

  /** The log in `dir` for `trainer`'s run: its train and val files created now. */
  static open(dir: string, trainer: Trainer, options: BoardOptions): RunBoard {
    const board = new RunBoard(dir, trainer, options);
    board.guard(() => {
      const train = board.writers.get('train');
      board.writers.get('val');
      if (options.resumed) train.restart(trainer.stepsDone + 1);
    });
    return board;
  }

  /** A chunk of steps finished: `losses` of the steps up to global step `stepsDone`. */
  steps(stepsDone: number, losses: Float64Array): void {
    const { every } = this.options;
    const first = stepsDone - losses.length + 1;
    this.guard(() => {
      for (let s = Math.ceil(first / every) * every; s <= stepsDone; s += every) {
        const train = this.writers.get('train');
        train.scalar('batch_loss', losses[s - first], s);
        train.scalar('batch_lr', this.trainer.learningRate(s - 1), s);
      }
    });
  }

  /** An epoch ended (and was evaluated): its scalars, and every file written. */
  epoch(e: EpochResult): void {
    this.guard(() => {
      const train = this.writers.get('train');
      train.scalar('epoch_loss', e.loss, e.epoch);
      train.scalar('epoch_samples_per_second', e.samplesPerSecond, e.epoch);
      const val = this.writers.get('val');
      val.scalar('epoch_loss', e.test.loss, e.epoch);
      for (const [name, value] of Object.entries(e.test.metrics)) val.scalar(`epoch_${name}`, value, e.epoch);
      const phases = this.trainer.drainPhaseTimes();
      if (phases !== undefined && phases.steps > 0) {
        const { threads, workers } = this.trainer;
        const K = PHASES.length;
        for (let t = 0; t < threads; t++) {
          const w = this.writers.get(`worker_${workersName(t, threads, workers)}`);
          for (let k = 0; k < K; k++) w.scalar(PHASE_TAGS[k], phases.ms[t * K + k], e.epoch);
        }
      }
      this.writers.flush();
    });
  }

  /** Writes what is buffered and closes the files. */
  [Symbol.dispose](): void {
    this.guard(() => this.writers.close());
  }

  /** Runs `write`; a failed write is one warning, after which every file is closed and nothing more written. */
  private guard(write: () => void): void {
    if (this.failed) return;
    try {
      write();
    } catch (err) {
      if (!(err instanceof EventFileError)) throw err;
      this.failed = true;
      try {
        this.writers.close();
      } catch {
        // the error reported is the first
      }
      this.options.warn(`--logdir: ${err.message}; no more TensorBoard scalars this run`);
    }
  }
}
