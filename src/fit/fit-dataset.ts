import * as tf from '@tensorflow/tfjs';
import { allocateRing } from '../data/ring.js';
import { OptionError, showValue } from '../errors.js';
import { optimizerFromTfjs } from '../optim/spec.js';
import { checkInt, resolveOptions, type TrainerOptions } from '../options.js';
import { Trainer, type Evaluation } from '../trainer/trainer.js';
import { Callbacks, type Callback } from './callbacks.js';
import { classWeightsOf, type ClassWeightArg } from './class-weight.js';
import { asDataset, rows, toSplit, type FitInput } from './data.js';
import { DatasetError, TrainPump, ValidationPump, type BatchSource } from './dataset-pump.js';
import { StepChunks } from './chunks.js';
import { endEpoch, newHistory, trainEpoch, type History } from './epochs.js';
import { LiveModel } from './live-model.js';
import { readOptimizerState } from './optimizer-state.js';
import { PARALLEL_KEYS, givenArgs, epochRange, parallelOptions, type ParallelArgs } from './parallel-args.js';
import { claimModel } from './claim.js';
import { layersSource } from './spec.js';

/** model.fitDataset's arguments that apply, plus how to parallelise and stream. */
export interface FitDatasetParallelArgs extends ParallelArgs {
  /** Required, as model.fitDataset requires it. */
  readonly epochs: number;
  /**
   * Batches per epoch, as model.fitDataset: required for an endless dataset. Without it an
   * epoch is one pass of a fresh iterator; with it, an epoch is that many batches of one
   * iterator that runs on across epochs.
   */
  readonly batchesPerEpoch?: number;
  readonly initialEpoch?: number;
  /** A dataset of { xs, ys } batches (one pass per epoch, as model.evaluateDataset), or [xVal, yVal] as fitParallel takes them. */
  readonly validationData?: BatchSource | readonly [FitInput, FitInput];
  /** Loss weight per class, as model.fitDataset and fitParallel take it (class-weight.ts); validation is unweighted. */
  readonly classWeight?: ClassWeightArg;
  /** With a validation dataset: evaluate at most this many of its batches. */
  readonly validationBatches?: number;
  /** Accepted for compatibility and ignored: the validation is a mean over samples whatever its batches. */
  readonly validationBatchSize?: number;
  readonly callbacks?: Callback | readonly Callback[];
  /** Accepted for compatibility and ignored: fitDatasetParallel prints nothing. */
  readonly verbose?: number;
  /** Accepted for compatibility and ignored: callbacks run between chunks of steps. */
  readonly yieldEvery?: unknown;
  /** Threads the workers run on, 1 to workers (default: min(workers, cores); Note [workers on fewer threads]). */
  readonly threads?: number;
  /**
   * Batches held in shared memory at once (default 4): the one training and those loaded
   * ahead of it (Note [batch ring] in data/ring.ts). Each holds up to the first batch's samples.
   */
  readonly bufferedBatches?: number;
  /** Write the Trainer's checkpoint here at every epoch end and where the dataset fails. */
  readonly checkpointDir?: string;
}

/** model.fitDataset's History.params: no sample or batch count (the dataset decides); steps when known. */
export interface FitDatasetParams {
  readonly epochs: number;
  readonly initialEpoch: number;
  readonly samples: null;
  /** batchesPerEpoch, else the dataset's size where finite, else null. */
  readonly steps: number | null;
  readonly batchSize: null;
  readonly verbose: number;
  readonly doValidation: boolean;
  readonly metrics: string[];
}

const KNOWN = new Set<string>([
  ...PARALLEL_KEYS,
  'epochs',
  'batchesPerEpoch',
  'initialEpoch',
  'validationData',
  'validationBatches',
  'validationBatchSize',
  'classWeight',
  'callbacks',
  'verbose',
  'yieldEvery',
  'threads',
  'bufferedBatches',
  'checkpointDir',
]);

/** Default bufferedBatches: the batch training, the next one loaded, and slack for a dataset whose batches take uneven time. */
const DEFAULT_SLOTS = 4;
/** The most steps of a streamed epoch one pool task runs (the ring's `sizes` cells). */
const STEPS_PER_TASK = 1024;
/** An epoch of unknown length: train until its data ends. */
const UNBOUNDED = 2 ** 31 - 1;

/**
 * model.fitDataset, data-parallel: `await fitDatasetParallel(model, dataset, { epochs: 5, workers: 8 })`.
 *
 * Contract: each batch the dataset yields is one optimizer step, split across the
 * workers as fitParallel splits a batch, so the weights the model holds when this
 * resolves equal — up to float rounding — those tfjs's own
 * `model.fitDataset(dataset, args)` leaves in one thread, for any worker count; the
 * History, logs and callbacks are model.fitDataset's (each batch's logs weigh by its
 * size; val_* after an epoch that ran to its end), with fitParallel's live model
 * (Note [live model] in live-model.ts). classWeight weighs each training sample's
 * loss by its class, made from each batch's targets as model.fitDataset makes it
 * (Note [class weights at copy-in] in dataset-pump.ts); a batch with a class it
 * gives no weight is a batch that does not fit. The dataset streams (Note [batch
 * ring] in data/ring.ts): memory holds `bufferedBatches` batches, not the dataset, and the
 * next batches load while the workers compute. A slot holds as many samples as the
 * first batch: a later larger batch is refused (a smaller last batch is fine).
 * Where the dataset throws, stalls for stepTimeoutMs, or yields a batch that does
 * not fit the model, training stops at that step, the model keeps the weights after
 * the last whole batch (checkpointed when checkpointDir is set), and this rejects
 * with a DatasetError naming the epoch and batch.
 */
export async function fitDatasetParallel(
  model: tf.LayersModel,
  dataset: BatchSource,
  args: FitDatasetParallelArgs,
): Promise<History<FitDatasetParams>> {
  if (typeof args !== 'object' || args === null)
    throw new OptionError('fitDatasetParallel needs args with epochs, as model.fitDataset does');
  args = givenArgs('fitDatasetParallel', args, KNOWN);
  if (args.epochs === undefined)
    throw new OptionError('fitDatasetParallel needs args.epochs, as model.fitDataset does');
  if (!isDataset(dataset))
    throw new OptionError(
      `dataset must be a tf.data.Dataset of { xs, ys } batches (tf.data.generator, tf.data.array(...).batch(n), ...), got ${showValue(dataset)}`,
    );
  const { epochs, initialEpoch } = epochRange(args.epochs, args.initialEpoch);
  const bpe =
    args.batchesPerEpoch === undefined ? undefined : checkInt('batchesPerEpoch', args.batchesPerEpoch, [1, UNBOUNDED]);
  if (bpe === undefined && (dataset as { size?: unknown }).size === Infinity)
    throw new OptionError(
      'the dataset is endless (its size is Infinity, e.g. after .repeat()): give batchesPerEpoch, or model.fitDataset would run its first epoch forever',
    );
  const slots = checkInt('bufferedBatches', args.bufferedBatches ?? DEFAULT_SLOTS, [1, 1024]);
  const val = validationOf(args);
  const source = layersSource(model, { modules: args.modules });
  using _training = claimModel(model);
  const classWeights =
    args.classWeight === undefined ? undefined : classWeightsOf(args.classWeight, source.spec.outputs);
  const optimizer = optimizerFromTfjs(model.optimizer);
  const options: TrainerOptions = {
    ...parallelOptions(args),
    threads: args.threads,
    epochs: epochs - initialEpoch,
    shuffle: false,
    optimizer,
    checkpointDir: args.checkpointDir,
  };
  const timeoutMs = resolveOptions(options).stepTimeoutMs; // every option checked before the dataset is read
  const start = await readOptimizerState(model, optimizer);
  const callbacks = new Callbacks(args.callbacks, model);
  const o = { slots, steps: STEPS_PER_TASK, initialEpoch, epochs, batchesPerEpoch: bpe, timeoutMs, classWeights };
  const pump = await TrainPump.open(dataset, source.spec, o);
  const { ring } = pump;
  const validation =
    val?.dataset === undefined
      ? undefined
      : new ValidationPump(
          val.dataset,
          source.spec,
          allocateRing({ ...ring.data, sampleWeights: undefined }, slots, ring.maxBatch, 1), // unweighted, as tfjs
          val.batches,
          timeoutMs,
        );
  try {
    const test =
      val?.tensors === undefined
        ? rows(ring.data, 0, 0)
        : toSplit(source.spec, 'validationData[0]', val.tensors[0], 'validationData[1]', val.tensors[1], undefined);
    await using trainer = await Trainer.create(
      {
        ...options,
        batchSize: ring.maxBatch,
        data: {
          ...asDataset({ train: ring.data, validation: test }, source.spec),
          dir: '(a tf.data dataset)',
          stream: { train: ring, validation: validation?.ring },
        },
      },
      source,
    );
    const dir = trainer.options.checkpointDir;
    const live = new LiveModel(model, trainer, start);
    callbacks.bind(live);
    const names = ['loss', ...trainer.metricNames];
    const history = newHistory<FitDatasetParams>({
      epochs,
      initialEpoch,
      samples: null,
      steps: bpe ?? finiteSize(dataset),
      batchSize: null,
      verbose: args.verbose ?? 1,
      doValidation: val !== undefined,
      metrics: val === undefined ? names : [...names, ...names.map((n) => `val_${n}`)],
    });
    callbacks.setParams(history.params);
    await callbacks.onTrainBegin({});
    const evaluate = (e: number): Promise<Evaluation> =>
      validation === undefined ? trainer.evaluate('test') : evaluateStream(trainer, validation, e);
    const chunks = new StepChunks(callbacks.batchHooks, true); // no MPI group here
    try {
      for (let e = initialEpoch; e < epochs && !callbacks.stopRequested(); e++) {
        await callbacks.onEpochBegin(e, {});
        const start = trainer.stepsDone;
        const run = await trainEpoch(
          trainer,
          callbacks,
          { steps: bpe ?? UNBOUNDED, size: (b) => pump.batch(start + b) },
          chunks,
        );
        if (run.dataEnded) {
          pump.nextEpoch(); // the next epoch loads while this one validates
          if (bpe !== undefined)
            trainer.options.onWarning(
              `the dataset ran out after ${run.batches} of batchesPerEpoch ${bpe} batches in epoch ${e}: the epoch ends there, without validation, as in model.fitDataset; a dataset for ${epochs} epochs must yield ${bpe * epochs} batches (dataset.repeat())`,
            );
        }
        // As model.fitDataset: validation after an epoch that ran to its end, not after a stop within it.
        const ended = bpe === undefined ? run.dataEnded : run.batches === bpe;
        await endEpoch(callbacks, history, e, run.logs, ended && val !== undefined ? await evaluate(e) : undefined);
        if (dir !== undefined) trainer.saveCheckpoint(dir);
      }
    } catch (err) {
      if (err instanceof DatasetError) {
        if (dir !== undefined) trainer.saveCheckpoint(dir);
        await live.end(); // the weights (and optimizer state) after the last whole batch
      }
      throw err;
    }
    await live.end(); // the trained weights and optimizer state, whether or not a callback listens
    await callbacks.onTrainEnd({});
    return history;
  } finally {
    pump.close();
    validation?.close();
  }
}

/** The validation data: a dataset (and validationBatches), or tensors, or none. */
function validationOf(
  args: FitDatasetParallelArgs,
): { dataset?: BatchSource; batches?: number; tensors?: readonly [FitInput, FitInput] } | undefined {
  const v = args.validationData;
  if (v !== undefined && isDataset(v)) {
    const batches =
      args.validationBatches === undefined
        ? undefined
        : checkInt('validationBatches', args.validationBatches, [1, UNBOUNDED]);
    return { dataset: v, batches };
  }
  if (args.validationBatches !== undefined)
    throw new OptionError('validationBatches applies to a validationData dataset, as in model.fitDataset');
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length !== 2)
    throw new OptionError(`validationData must be a tf.data.Dataset or [xVal, yVal], got ${showValue(v)}`);
  return { tensors: v as readonly [FitInput, FitInput] };
}

/** One evaluation of the validation dataset: the pump fills the ring while the workers evaluate it. */
async function evaluateStream(trainer: Trainer, pump: ValidationPump, epoch: number): Promise<Evaluation> {
  const filling = pump.pass(epoch);
  let result: Evaluation;
  try {
    result = await trainer.evaluateStream();
  } catch (err) {
    pump.close();
    await filling;
    throw err;
  }
  const failure = await filling;
  if (failure !== undefined) throw failure;
  return result;
}

function isDataset(d: unknown): d is BatchSource {
  return typeof d === 'object' && d !== null && typeof (d as { iterator?: unknown }).iterator === 'function';
}

/** tfjs's steps per epoch without batchesPerEpoch: the dataset's size where finite. */
function finiteSize(d: BatchSource): number | null {
  const size = (d as { size?: unknown }).size;
  return typeof size === 'number' && Number.isFinite(size) ? size : null;
}
