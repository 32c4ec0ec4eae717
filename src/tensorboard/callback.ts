import * as tf from '@tensorflow/tfjs';
import { OptionError, showValue } from '../errors.js';
import { RunWriters } from './run-writers.js';

/** How often batch scalars are written: never ('epoch'), every batch ('batch'), or every N batches. */
export type UpdateFreq = 'epoch' | 'batch' | number;

export interface TensorBoardArgs {
  /** Default 'epoch', as tfjs-node's. */
  readonly updateFreq?: UpdateFreq;
}

/** Log values as tfjs passes them: numbers, or scalars not yet read (tfjs's model.fit). */
type LogValues = tf.Logs | Record<string, number | tf.Scalar>;

/** Log entries that are no metric: tfjs-node's callback writes none of them. */
const NOT_METRICS = new Set(['batch', 'size', 'num_steps']);
const VAL = 'val_';

/**
 * tfjs-node's `tf.node.tensorBoard()` without libtensorflow: the same folders, tags
 * and steps. At each epoch's end every log goes out at step epoch + 1 as
 * `epoch_<name>`: to `<logdir>/train`, or, for `val_<name>`, as `epoch_<name>` to
 * `<logdir>/val`. Each folder's writer (src/tensorboard/event-writer.ts) is made at its
 * first scalar and closed at train end, which writes what it holds and throws its
 * write error, if any: the fit rejects with it. A later fit with the same callback
 * writes new files beside the first.
 *
 * Note [no batch hook for 'epoch']: with updateFreq 'epoch' the callback is this
 * class, which leaves tf.Callback's onBatchEnd alone: fitParallel runs a whole epoch
 * per task while no callback listens to batches (Note [batch callbacks] in
 * src/fit/callbacks.ts), and tfjs's model.fit reads no batch log for it. Batch
 * writing is BatchTensorBoard, which adds the hook. Both under fitParallel:
 * `npx vitest run test/tensorboard.test.ts`.
 */
export class TensorBoard extends tf.Callback {
  private readonly writers: RunWriters;

  constructor(readonly logdir: string) {
    super();
    this.writers = new RunWriters(logdir);
  }

  override async onEpochEnd(epoch: number, logs?: LogValues): Promise<void> {
    await this.write(logs, 'epoch_', epoch + 1);
  }

  override async onTrainEnd(): Promise<void> {
    this.writers.close();
  }

  /** Buffers every metric of `logs` as `<prefix><name>` at `step`, val_ ones to the val folder. */
  protected async write(logs: LogValues | undefined, prefix: string, step: number): Promise<void> {
    for (const [key, raw] of Object.entries(logs ?? {})) {
      if (NOT_METRICS.has(key)) continue;
      const value = typeof raw === 'number' ? raw : (await raw.data())[0];
      const val = key.startsWith(VAL);
      this.writers.get(val ? 'val' : 'train').scalar(prefix + (val ? key.slice(VAL.length) : key), value, step);
    }
  }
}

/**
 * TensorBoard with batch scalars: after every `every`-th batch, counted from 1 across
 * epochs (and across fits with the same callback, as tfjs-node's count), each log as
 * `batch_<name>` at that count, to `<logdir>/train`.
 */
export class BatchTensorBoard extends TensorBoard {
  /** Its batch hook reads only its logs: fitParallel runs chunks of steps for it (Note [batch callbacks] in src/fit/callbacks.ts). */
  readonly readsModelInBatchHooks = false;
  private batchesSeen = 0;

  constructor(
    logdir: string,
    private readonly every: number,
  ) {
    super(logdir);
  }

  override async onBatchEnd(_batch: number, logs?: LogValues): Promise<void> {
    this.batchesSeen++;
    if (this.batchesSeen % this.every === 0) await this.write(logs, 'batch_', this.batchesSeen);
  }
}

/**
 * `callbacks: [tensorBoard('logs/run1', { updateFreq: 'batch' })]` under fitParallel or
 * tfjs's own model.fit, then `tensorboard --logdir logs`. logdir defaults to './logs'
 * and updateFreq to 'epoch', as tfjs-node's; updateFreq N writes every N-th batch.
 */
export function tensorBoard(logdir: string = './logs', args: TensorBoardArgs = {}): TensorBoard {
  if (typeof logdir !== 'string' || logdir === '')
    throw new OptionError(`tensorBoard logdir must be a non-empty string (a folder), got ${showValue(logdir)}`);
  if (typeof args !== 'object' || args === null)
    throw new OptionError(`tensorBoard takes an object of arguments, got ${showValue(args)}`);
  for (const k of Object.keys(args))
    if (k !== 'updateFreq')
      throw new OptionError(`tensorBoard has no argument ${JSON.stringify(k)} (it takes updateFreq)`);
  const freq = args.updateFreq ?? 'epoch';
  if (freq === 'epoch') return new TensorBoard(logdir);
  if (freq === 'batch') return new BatchTensorBoard(logdir, 1);
  if (typeof freq !== 'number' || !Number.isSafeInteger(freq) || freq < 1)
    throw new OptionError(
      `tensorBoard updateFreq must be 'epoch', 'batch' or a number of batches (an integer >= 1), got ${showValue(freq)}`,
    );
  return new BatchTensorBoard(logdir, freq);
}
