import * as tf from '@tensorflow/tfjs';
import type { ProcessGroup } from '../collective/group.js';
import { OptionError } from '../errors.js';
import { optimizerFromTfjs } from '../optim/spec.js';
import { Trainer } from '../trainer/trainer.js';
import { Callbacks, type Callback } from './callbacks.js';
import { StepChunks } from './chunks.js';
import type { ClassWeightArg } from './class-weight.js';
import { asDataset, fitData, type FitInput } from './data.js';
import { endEpoch, newHistory, trainEpoch, type History } from './epochs.js';
import { LiveModel } from './live-model.js';
import { readOptimizerState } from './optimizer-state.js';
import { PARALLEL_KEYS, givenArgs, epochRange, parallelOptions, type ParallelArgs } from './parallel-args.js';
import { claimModel } from './claim.js';
import { layersSource } from './spec.js';

/** model.fit's arguments that apply, plus how to parallelise. */
export interface FitParallelArgs extends ParallelArgs {
  /** Default 32, as model.fit. */
  readonly batchSize?: number;
  /** Default 1, as model.fit. */
  readonly epochs?: number;
  /** Epoch to start from (its index in History.epoch and callbacks), default 0. */
  readonly initialEpoch?: number;
  /** Reshuffle every epoch (default true); the order is seeded (`seed`), so runs repeat. */
  readonly shuffle?: boolean;
  readonly validationData?: readonly [FitInput, FitInput];
  /** The last fraction of x and y, taken before shuffling, as model.fit. */
  readonly validationSplit?: number;
  /** Loss weight per class, as model.fit (one per output, or a map by output name, for several): src/fit/class-weight.ts. */
  readonly classWeight?: ClassWeightArg;
  readonly callbacks?: Callback | readonly Callback[];
  /** Accepted for compatibility and ignored: fitParallel prints nothing. */
  readonly verbose?: number;
  /** Accepted for compatibility and ignored: callbacks run between chunks of steps. */
  readonly yieldEvery?: unknown;
  /**
   * Gradient accumulation (default 1): one optimizer step per this many batches, on
   * their mean gradient: one step on the batches together. Each batch is a batch for
   * the logs and callbacks (its own loss and metrics, onBatchBegin/onBatchEnd); the
   * model changes, and a callback's stop or setWeights takes effect, at steps only,
   * so a group's later batches' callbacks run after its step. An epoch's last step
   * takes the batches that remain.
   */
  readonly accumulateSteps?: number;
  /** Seed of the shuffle (default 0). */
  readonly seed?: number;
  /**
   * Train as one process of an MPI job (ProcessGroup.join, under mpirun): every process calls
   * fitParallel with the same model, data and args, and ends with the same weights. Callbacks run
   * in every process on the same logs; one that stops training must decide from them alone.
   */
  readonly group?: ProcessGroup;
}

const KNOWN = new Set([
  ...PARALLEL_KEYS,
  'batchSize',
  'epochs',
  'initialEpoch',
  'shuffle',
  'validationData',
  'validationSplit',
  'classWeight',
  'callbacks',
  'verbose',
  'yieldEvery',
  'accumulateSteps',
  'seed',
  'group',
]);

/**
 * model.fit, data-parallel: `await fitParallel(model, x, y, { ...args, workers: 8 })`.
 *
 * Contract: with the same batches (shuffle: false, or the same order), the weights
 * the model holds when this resolves equal — up to float rounding — those tfjs's own
 * `model.fit(x, y, args)` leaves in one thread, for any worker count: each batch's
 * gradient is all-reduced from the workers' shards (sums divided by the batch size)
 * and the model's compiled optimizer, with its hyperparameters, steps the weights.
 * The compiled loss and metrics are used; logs, callbacks and the History have
 * tfjs's names and semantics (epoch values are means over samples; val_* after
 * each epoch). Callbacks see a live model (Note [live model] in live-model.ts):
 * whenever one runs, `model` holds the weights of that moment, a setWeights it
 * makes is what training continues from, and a change to model.optimizer's
 * hyperparameters (setLearningRate, learningRate, beta1, ...) applies from the
 * next step, in every worker. They are read from the optimizer's fields
 * (getConfig()), so a plain `sgd.learningRate = x` applies too, where tfjs's own
 * SGD and momentum keep stepping with the rate their last setLearningRate() cached.
 * The batch hooks of a callback with readsModelInBatchHooks = false get their logs
 * after a chunk of steps instead, without the model (Note [logs-only chunks] in
 * chunks.ts). When it resolves, `model` holds the trained
 * weights (trainable ones, and the non-trainable ones, e.g. batch-norm
 * statistics, from worker 0), so model.predict, model.evaluate and model.save just work.
 */
export async function fitParallel(
  model: tf.LayersModel,
  x: FitInput,
  y: FitInput,
  args: FitParallelArgs = {},
): Promise<History> {
  if (typeof args === 'object' && args !== null && 'sampleWeight' in args)
    throw new OptionError(
      "sampleWeight is not supported, as in tfjs 4.22's model.fit (which refuses it); classWeight is",
    );
  args = givenArgs('fitParallel', args, KNOWN);
  const source = layersSource(model, { modules: args.modules });
  using _training = claimModel(model);
  const data = fitData(source.spec, x, y, {
    split: args.validationSplit,
    data: args.validationData,
    classWeight: args.classWeight,
  });
  const optimizer = optimizerFromTfjs(model.optimizer);
  const start = await readOptimizerState(model, optimizer);
  const { epochs, initialEpoch } = epochRange(args.epochs, args.initialEpoch);
  const callbacks = new Callbacks(args.callbacks, model);
  await using trainer = await Trainer.create(
    {
      ...parallelOptions(args),
      epochs: epochs - initialEpoch,
      batchSize: clampBatch(args.batchSize ?? 32, data.train.count),
      seed: args.seed,
      shuffle: args.shuffle,
      group: args.group,
      data: asDataset(data, source.spec),
      optimizer,
      accumulateSteps: args.accumulateSteps,
    },
    source,
  );
  const live = new LiveModel(model, trainer, start);
  callbacks.bind(live);
  const names = ['loss', ...trainer.metricNames];
  const validate = data.validation.count > 0;
  const history = newHistory({
    epochs,
    initialEpoch,
    samples: data.train.count,
    steps: trainer.batchesPerEpoch,
    batchSize: args.batchSize ?? 32,
    verbose: args.verbose ?? 1,
    doValidation: validate,
    metrics: validate ? [...names, ...names.map((n) => `val_${n}`)] : names,
  });
  callbacks.setParams(history.params);
  await callbacks.onTrainBegin({});
  const B = trainer.options.batchSize;
  const n = data.train.count;
  const plan = { steps: trainer.stepsPerEpoch, size: (b: number): number => Math.min(B, n - b * B) };
  const chunks = new StepChunks(callbacks.batchHooks, args.group === undefined);
  for (let e = initialEpoch; e < epochs && !callbacks.stopRequested(); e++) {
    await callbacks.onEpochBegin(e, {});
    const { logs } = await trainEpoch(trainer, callbacks, plan, chunks);
    await endEpoch(callbacks, history, e, logs, validate ? await trainer.evaluate('test') : undefined);
  }
  await live.end(); // the trained weights and optimizer state, whether or not a callback listens
  await callbacks.onTrainEnd({});
  return history;
}

/** A batch size larger than the training samples is one batch of all of them, as in model.fit; any other value goes to the Trainer's validation. */
function clampBatch(batchSize: number, samples: number): number {
  return typeof batchSize === 'number' && batchSize > samples ? samples : batchSize;
}
