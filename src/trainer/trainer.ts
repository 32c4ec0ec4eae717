import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, limitNativeThreads, type BackendName } from '../backend.js';
import type { ProcessGroup } from '../collective/group.js';
import {
  CHECKPOINT_FILE,
  CheckpointError,
  readCheckpoint,
  writeCheckpoint,
  type Checkpoint,
  type Recipe,
} from '../checkpoint.js';
import { loadDataset, type Dataset } from '../data/dataset.js';
import { heartbeats } from '../data/ring.js';
import { epochPermutation } from '../data/shuffle.js';
import { allocateArena, paramsAt, stateAt, type Arena } from '../simd/arena.js';
import type { LayersSpec } from '../model/layers-spec.js';
import { makeLayout, type ParamLayout } from '../model/layout.js';
import { tutorialMlp } from '../model/tutorial-mlp.js';
import { layersSource } from '../fit/spec.js';
import { HYPER_CELLS, LiveOptimizer } from '../optim/hyper.js';
import { checkSchedule, resolveSchedule, scheduledLr } from '../optim/schedule.js';
import {
  checkOptimizer,
  describeOptimizer,
  initState,
  sameOptimizer,
  stateVectors,
  type OptimizerSpec,
} from '../optim/spec.js';
import type { Range } from '../partition.js';
import { Barrier } from '../collective/barrier.js';
import { Scavenges } from '../collective/scavenge.js';
import { checkInt, resolveOptions, OptionError, type ResolvedOptions, type TrainerOptions } from '../options.js';
import { PhaseTimes, type PhaseMeans } from '../profile/phase-times.js';
import { MARKS } from '../profile/record.js';
import { TraceLog } from '../profile/trace.js';
import { batchSamples, batchesPerEpoch, optimizerSteps, stepBatches, type Grouping } from './accumulation.js';
import { threadsFor, workersName } from './lanes.js';
import { WorkerPool } from './pool.js';
import {
  CONTROL,
  NO_STOP,
  type EvalResult,
  type InitResult,
  type NonFiniteReason,
  type Session,
  type TrainResult,
} from './session.js';

/** One finished epoch. */
export interface EpochResult {
  /** 1-based. */
  readonly epoch: number;
  /**
   * Mean over the epoch's optimizer steps of the step's mean loss (the tutorial's
   * running_loss / len(trainloader)); a step is a batch unless options.accumulateSteps > 1.
   */
  readonly loss: number;
  readonly samples: number;
  /** Training time of the epoch, evaluation excluded. */
  readonly seconds: number;
  readonly samplesPerSecond: number;
  /** The test split after this epoch. */
  readonly test: Evaluation;
}

export interface Evaluation {
  /** Mean loss per sample: the model's compiled loss, without regularizer penalties, as tfjs's evaluate. */
  readonly loss: number;
  /** Fraction classified correctly: the 'acc' metric (NaN when the model has none). */
  readonly accuracy: number;
  /** Every metric's mean by its tfjs log name (the tutorial MLP: { acc }). */
  readonly metrics: Readonly<Record<string, number>>;
  readonly count: number;
}

/**
 * A model for Trainer.create: a tf.LayersModel as plain data, and its trainable
 * weights laid out flat (fit/spec.ts's layersSource builds both).
 */
export interface ModelSource {
  readonly spec: LayersSpec;
  readonly params: Float32Array;
}

/** Optional hooks of fit(), for progress reporting. */
export interface FitHooks {
  /**
   * Steps per dispatch to the workers (default: the rest of the epoch). Smaller
   * chunks let onSteps report progress within an epoch; each chunk costs one
   * round trip to the pool (small against a chunk of steps). The steps, and so the results, are the same.
   */
  readonly chunkSteps?: number;
  /** Called after each chunk with the mean loss of each of its steps, in order. */
  readonly onSteps?: (losses: Float64Array) => void;
}

/** A declared variable and its current values. */
export interface Variable {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Training hit a NaN or Inf; the parameters (and optimizer state) are those before the offending step. */
export class NonFiniteError extends Error {
  override readonly name = 'NonFiniteError';
  constructor(
    readonly step: number,
    readonly reason: NonFiniteReason,
    optimizer: OptimizerSpec,
  ) {
    super(`step ${step + 1}: ${reason}; ${advice(reason, optimizer)}`);
  }
}

function advice(reason: NonFiniteReason, optimizer: OptimizerSpec): string {
  if (reason === 'non-finite update' && optimizer.kind === 'rmsprop' && optimizer.centered) {
    // Note [tfjs centered RMSProp] in optim/rmsprop.ts
    return "tfjs's centered RMSProp takes sqrt(meanSquare - (meanGrad^2 + epsilon)), NaN wherever the gradient's variance is below epsilon (a weight whose gradient is always 0, say): use rmsprop uncentered";
  }
  const which = optimizer.kind === 'sgd' ? '' : `${optimizer.kind} `;
  return `the ${which}learning rate ${optimizer.lr} is probably too large, try a smaller one`;
}

/** The same step failed MAX_ATTEMPTS times; the parameters are those before it. */
export class StepFailedError extends Error {
  override readonly name = 'StepFailedError';
  constructor(
    readonly step: number,
    readonly attempts: number,
    override readonly cause: Error,
  ) {
    super(`step ${step + 1} failed ${attempts} times, giving up; last failure: ${cause.message}`);
  }
}

/** Initialising tfjs in N threads on fewer cores can take a while; this bounds it. */
const INIT_TIMEOUT_MS = 120_000;
/** Attempts at one step before the run stops. */
const MAX_ATTEMPTS = 3;

let nextSessionId = 1;

/**
 * The coordinator of a data-parallel training run.
 *
 * Contract: after k steps, the parameters equal — up to float rounding — those
 * of the optimizer run single-threaded on the same minibatches: batch b of epoch
 * e is samples perm_e[b*B, (b+1)*B) of the seeded permutation perm_e, and each
 * step applies tfjs's update rule of options.optimizer (plain SGD by default:
 * p -= lr * g) to g = the mean over the batch of d(loss)/dp. This holds for any
 * worker count, including shards of unequal size and workers with empty shards,
 * across worker failures (a failed step is re-run from the parameters and
 * optimizer state before it: Note [double-buffered params] in simd/arena.ts),
 * and across a resume with another worker count (the state is sharded by slice,
 * not by worker: Note [sharded optimizer state]). With options.group it holds
 * for P processes x N workers too, every process holding the same parameters
 * after every step (collective/cross-process.ts); a failure then ends the job
 * instead (Note [a failure ends the MPI job]).
 *
 * Usage:
 *   await using trainer = await Trainer.create({ workers: 8 });
 *   for await (const e of trainer.fit()) console.log(e.epoch, e.loss);
 */
export class Trainer implements AsyncDisposable {
  /** Global steps done; epoch = floor(step / stepsPerEpoch). */
  private step = 0;
  /** The epoch whose permutation is in session.order (-1: none yet). */
  private orderEpoch = -1;
  /** Sum over this epoch's finished steps of each batch's mean loss. */
  private epochLossSum = 0;
  /** Each finished batch's mean loss, until drained (drainBatches). */
  private batchLosses: number[] = [];
  /** Each finished batch's mean training metrics (metricCount per batch), until drained. */
  private batchMetrics: number[] = [];
  /** Each finished batch's samples, until drained. */
  private batchSizes: number[] = [];
  private failure: Error | undefined;
  private stopRequested = false;
  private closed = false;
  /** Live tfjs tensors per worker thread after its last training task. */
  private readonly tensors = new Map<number, number>();
  /** By rank, what each updated in the last training task. */
  private updated: readonly Range[] = [];
  /** Phase times per thread since the last drainPhaseTimes(), fed while steps are marked. */
  private readonly phases: PhaseTimes;

  private constructor(
    readonly options: ResolvedOptions,
    readonly dataset: Dataset,
    readonly layout: ParamLayout,
    /** The tfjs backend every worker runs on. */
    readonly backend: BackendName,
    private readonly session: Session,
    private readonly arena: Arena,
    private readonly pool: WorkerPool,
    /** The coordinator's handle on the workers' barrier: it only aborts and resets it, never waits. */
    private readonly barrier: Barrier,
    /** Phase timings of every step so far, when options.profile is set. */
    readonly trace: TraceLog | undefined,
    /** The optimizer's hyperparameters of the moment, written into session.hyper before each task. */
    private readonly live: LiveOptimizer,
  ) {
    this.phases = new PhaseTimes(session.parties);
  }

  /**
   * Validates the options, loads the data, starts the pool and initialises a tfjs
   * engine in each worker. It trains `source`, a LayersModel (fitParallel and
   * `--model` give one; options.hidden is then unused), else the tutorial MLP with
   * options.hidden (model/tutorial-mlp.ts), seeded by options.seed. Gradients
   * 'manual' write the backward out where the model allows it (sequential-replica.ts).
   */
  static async create(options: TrainerOptions = {}, source?: ModelSource): Promise<Trainer> {
    const run = await resolveRun(options, source);
    const { o, ckpt } = run;
    const { session, arena } = newSession(run, threadsOf(o, run.source));
    const start = initParams(run, arena);
    if (o.backend === 'auto' || o.backend === 'tensorflow') limitNativeThreads();
    const N = session.parties;
    const barrier = new Barrier(session.barrier, N, 0, 0);
    const group = o.group;
    const pool = new WorkerPool(
      N,
      o.youngGenerationMb,
      group === undefined ? undefined : (err) => endJob(group, session, err),
    );
    try {
      const { backend, session: started } = await startWorkers(o, pool, barrier, session, start);
      const live = new LiveOptimizer(o.optimizer, start, started.hyper);
      const trace = o.profile ? new TraceLog(N, (t) => `worker ${workersName(t, N, o.workers)}`) : undefined;
      const trainer = new Trainer(o, run.dataset, run.layout, backend, started, arena, pool, barrier, trace, live);
      trainer.step = start;
      trainer.epochLossSum = ckpt?.header.epochLossSum ?? 0;
      return trainer;
    } catch (err) {
      await pool.close();
      throw err;
    }
  }

  get workers(): number {
    return this.session.workers;
  }

  /** Threads the workers run on (Note [workers on fewer threads] in trainer/lanes.ts). */
  get threads(): number {
    return this.session.parties;
  }

  /** Optimizer steps per epoch: batches per epoch / options.accumulateSteps, rounded up. */
  get stepsPerEpoch(): number {
    return optimizerSteps(this.grouping);
  }

  /** Batches per epoch (as tfjs's callbacks count them); stepsPerEpoch unless options.accumulateSteps > 1. */
  get batchesPerEpoch(): number {
    return batchesPerEpoch(this.grouping);
  }

  private get grouping(): Grouping {
    return groupingOf(this.dataset, this.options);
  }

  /** The optimizer with its hyperparameters of the moment (setOptimizer() changes them). */
  get optimizer(): OptimizerSpec {
    return this.live.spec;
  }

  /**
   * New hyperparameters for the steps from now on (a tfjs callback changed the
   * learning rate, say): the same kind and structure, other numbers; every
   * worker's slice steps with them from the next step. Adam's bias correction
   * continues with the betas each step ran with (Note [changing betas] in optim/adam.ts).
   */
  setOptimizer(spec: OptimizerSpec): void {
    this.live.set(checkOptimizer('optimizer', spec), this.step);
  }

  /**
   * The learning rate global optimizer step `step` (0-based) runs with: the
   * optimizer's lr under options.lrSchedule, as the workers compute it.
   */
  learningRate(step: number): number {
    return scheduledLr(this.session.schedule, this.live.spec.lr, checkInt('step', step, [0, 2 ** 53 - 1]));
  }

  /**
   * Each worker thread's mean ms per step in each phase (profile/record.ts PHASES)
   * over the steps trained since the last call; undefined unless options.phaseTimes
   * or options.profile is set. Threads are named as workersName() in trainer/lanes.ts names them.
   */
  drainPhaseTimes(): PhaseMeans | undefined {
    return this.session.marks === undefined ? undefined : this.phases.drain();
  }

  /** Global steps completed so far. */
  get stepsDone(): number {
    return this.step;
  }

  /** Epochs completed so far. */
  get epochsDone(): number {
    return Math.floor(this.step / this.stepsPerEpoch);
  }

  /**
   * Trains the remaining epochs (up to options.epochs), yielding each as it
   * ends. With options.checkpointDir, writes a checkpoint at every epoch end,
   * every options.checkpointEvery steps, and before giving up on a failing step.
   * Returns early, with no partial epoch, after requestStop().
   */
  async *fit(hooks: FitHooks = {}): AsyncGenerator<EpochResult, void, undefined> {
    const chunk =
      hooks.chunkSteps === undefined ? Infinity : checkInt('chunkSteps', hooks.chunkSteps, [1, 2 ** 31 - 1]);
    const { checkpointDir: dir, checkpointEvery: every } = this.options;
    while (this.epochsDone < this.options.epochs && !this.stopRequested) {
      const t0 = performance.now();
      const epochEnd = (this.epochsDone + 1) * this.stepsPerEpoch;
      const first = this.step;
      while (this.step < epochEnd && !this.stopRequested) {
        const nextCheckpoint = every > 0 ? (Math.floor(this.step / every) + 1) * every : Infinity;
        const to = Math.min(epochEnd, this.step + chunk, nextCheckpoint);
        let losses: Float64Array;
        try {
          losses = await this.train(to - this.step);
        } catch (err) {
          if (err instanceof StepFailedError && dir !== undefined) this.saveCheckpoint(dir);
          throw err;
        }
        hooks.onSteps?.(losses);
        if (dir !== undefined && (this.step === epochEnd || this.step === nextCheckpoint)) this.saveCheckpoint(dir);
      }
      if (this.step < epochEnd) return;
      const seconds = (performance.now() - t0) / 1000;
      const skipped = first - (epochEnd - this.stepsPerEpoch); // steps of this epoch done before fit() resumed it
      const samples =
        this.dataset.train.count -
        Math.min(skipped * this.options.batchSize * this.options.accumulateSteps, this.dataset.train.count);
      yield {
        epoch: this.epochsDone,
        loss: this.epochLossSum / this.stepsPerEpoch,
        samples,
        seconds,
        samplesPerSecond: samples / seconds,
        test: await this.evaluate(),
      };
    }
  }

  /**
   * Runs the next `count` optimizer steps, crossing epoch boundaries as needed,
   * and returns the mean loss of each step's batch. A worker that throws, exits
   * or hangs is replaced and its step re-run from the parameters before it; the
   * third failure of one step rejects with StepFailedError. A NaN or Inf loss,
   * gradient or updated parameter rejects with NonFiniteError. Both leave the
   * parameters and optimizer state as they were before the failing step. After
   * requestStop(), returns the steps done; on a streamed dataset (Dataset.stream),
   * also where the next step's slot holds no batch (its data ended or failed: the
   * caller, who fills the ring, knows which).
   */
  async train(count: number): Promise<Float64Array> {
    this.usable();
    checkInt('count', count, [0, 2 ** 31 - 1]);
    const S = this.stepsPerEpoch;
    const end = this.step + count;
    const losses: number[] = [];
    const attempts = new Map<number, number>();
    while (this.step < end && !this.stopRequested) {
      const epoch = Math.floor(this.step / S);
      if (this.orderEpoch !== epoch) {
        if (this.options.shuffle)
          epochPermutation(this.dataset.train.count, this.options.seed, epoch, this.session.order);
        else this.session.order.forEach((_, i, order) => (order[i] = i));
        this.orderEpoch = epoch;
      }
      if (this.step % S === 0) this.epochLossSum = 0;
      const from = this.step;
      const to = Math.min(end, (epoch + 1) * S);
      Atomics.store(this.session.control, CONTROL.progress, from);
      let results: TrainResult[];
      try {
        results = await this.runChunk(from, to);
      } catch (err) {
        const done = Atomics.load(this.session.control, CONTROL.progress);
        this.account(from, done, losses);
        const n = (attempts.get(done) ?? 0) + 1;
        attempts.set(done, n);
        const cause = err instanceof Error ? err : new Error(String(err));
        if (n >= MAX_ATTEMPTS) {
          this.failure = new StepFailedError(done, n, cause);
          throw this.failure;
        }
        this.options.onWarning(
          `step ${done + 1} failed (${cause.message}); re-running it from the parameters before it (attempt ${n + 1} of ${MAX_ATTEMPTS})`,
        );
        continue;
      }
      const stopped = results.find((r) => r.stopped !== undefined)?.stopped;
      this.account(from, stopped?.step ?? to, losses);
      if (stopped?.reason === 'no data') break;
      if (stopped?.reason === 'requested')
        this.stopRequested = true; // in an MPI job, maybe another process's request
      else if (stopped !== undefined) {
        this.failure = new NonFiniteError(stopped.step, stopped.reason, this.live.spec);
        throw this.failure;
      }
    }
    return Float64Array.from(losses);
  }

  /** True once a stop was requested: by requestStop(), or in an MPI job by any process's. */
  get stopped(): boolean {
    return this.stopRequested;
  }

  /**
   * Asks the workers to stop at a step boundary within the next two steps
   * (Note [verdicts by consensus] in worker/train-loop.ts); train() and
   * fit() then return what they finished. For Ctrl-C: the parameters stay
   * consistent, so a checkpoint can be written afterwards.
   */
  requestStop(): void {
    this.stopRequested = true;
    const c = this.session.control;
    if (this.session.cross !== undefined)
      Atomics.store(c, CONTROL.stopWanted, 1); // Note [one verdict everywhere] in collective/cross-process.ts
    else Atomics.store(c, CONTROL.stopAt, Atomics.load(c, CONTROL.progress) + 2);
  }

  /** Mean loss and metrics on a split, computed in parallel by all workers. */
  async evaluate(split: 'train' | 'test' = 'test'): Promise<Evaluation> {
    this.usable();
    const parts = await this.collective<EvalResult>('evaluate', (rank) => ({
      session: this.session,
      rank,
      split,
      step: this.step,
    }));
    return this.evaluation(parts);
  }

  /**
   * Mean loss and metrics over the batches the caller streams through the
   * validation ring meanwhile, until it marks the end (fitDatasetParallel;
   * Note [batch ring] in data/ring.ts), computed in parallel by all workers.
   */
  async evaluateStream(): Promise<Evaluation> {
    this.usable();
    const parts = await this.collective<EvalResult>('evaluateStream', (rank) => ({
      session: this.session,
      rank,
      step: this.step,
    }));
    return this.evaluation(parts);
  }

  private evaluation(parts: readonly EvalResult[]): Evaluation {
    const count = parts.reduce((a, p) => a + p.count, 0);
    const lossSum = parts.reduce((a, p) => a + p.lossSum, 0);
    const metrics: Record<string, number> = {};
    this.metricNames.forEach((name, k) => (metrics[name] = parts.reduce((a, p) => a + p.metricSums[k], 0) / count));
    return { loss: lossSum / count, accuracy: metrics.acc ?? NaN, metrics, count };
  }

  /** Log names of the metrics that evaluate() and the training steps report. */
  get metricNames(): readonly string[] {
    return this.session.layers.metricNames;
  }

  /**
   * The model's outputs, row-major, for `count` inputs given row-major (for the
   * tutorial MLP: class probabilities (count, classes) of images with pixels in [0, 1]).
   */
  async predict(images: Float32Array, count: number): Promise<Float32Array> {
    this.usable();
    const f = this.dataset.train.features;
    if (!Number.isInteger(count) || count < 1 || images.length !== count * f) {
      throw new OptionError(
        `predict needs count >= 1 inputs of ${f} values each: got ${images.length} values for count ${count}`,
      );
    }
    const [probs] = await this.collective<Float32Array>(
      'predict',
      () => ({ session: this.session, images, count, step: this.step }),
      1,
    );
    return probs;
  }

  /**
   * The non-trainable weights (batch-norm moving statistics), end to end, as
   * worker 0 has them. Note [buffers from rank 0]: they are not all-reduced;
   * each worker updates them from its own shard, and, as PyTorch DDP broadcasts
   * rank 0's buffers, rank 0's are the model's.
   */
  async nonTrainable(): Promise<Float32Array> {
    this.usable();
    const [values] = await this.collective<Float32Array>('weights', () => ({ session: this.session }), 1);
    return values;
  }

  /**
   * The batches finished since the last call, batch after batch (several per step
   * with options.accumulateSteps): each one's mean loss, its mean training
   * metrics (metricNames.length values each) and its samples.
   */
  drainBatches(): { readonly losses: Float64Array; readonly metrics: Float64Array; readonly sizes: Int32Array } {
    const out = {
      losses: Float64Array.from(this.batchLosses),
      metrics: Float64Array.from(this.batchMetrics),
      sizes: Int32Array.from(this.batchSizes),
    };
    this.batchLosses = [];
    this.batchMetrics = [];
    this.batchSizes = [];
    return out;
  }

  /**
   * A copy of the flat parameter vector: the model's trainableWeights end to end,
   * in that order, each row-major (this.layout names them). For the tutorial MLP:
   * fc1/kernel (in, h1), fc1/bias (h1), fc2/kernel (h1, h2), ..., the last bias (classes).
   */
  getParams(): Float32Array {
    return this.params().slice();
  }

  /** Replaces the parameters (the optimizer state stays); `params` must have the layout's size. */
  setParams(params: Float32Array): void {
    if (params.length !== this.layout.size) {
      throw new OptionError(`setParams needs ${this.layout.size} values, got ${params.length}`);
    }
    this.params().set(params);
  }

  /** The declared variables with copies of their current values. */
  getWeights(): Variable[] {
    const p = this.params();
    return this.layout.segments.map((s) => ({
      name: s.name,
      shape: s.shape,
      data: p.slice(s.offset, s.offset + s.size),
    }));
  }

  /**
   * A copy of the optimizer state after `stepsDone` steps: stateVectors(options.optimizer)
   * vectors of the parameters' layout, end to end (optim/spec.ts), gathered from all
   * workers' slices. Empty for sgd.
   */
  getOptimizerState(): Float32Array {
    return stateAt(this.arena, this.step).slice();
  }

  /**
   * Replaces the optimizer state (getOptimizerState()'s layout) and says how many
   * updates the optimizer made before the next step (tfjs's optimizer.iterations):
   * Adam's bias correction continues from that count. Between steps only.
   */
  setOptimizerState(state: Float32Array, updates: number): void {
    const target = stateAt(this.arena, this.step);
    if (state.length !== target.length) {
      throw new OptionError(`setOptimizerState needs ${target.length} values, got ${state.length}`);
    }
    target.set(state);
    this.live.continueFrom(checkInt('updates', updates, [0, 2 ** 31 - 1]) /* an int32, as tfjs keeps it */, this.step);
  }

  /**
   * By rank, the [lo, hi) of the parameters and of each optimizer state vector
   * that worker updated in the last training task, as the worker reports it: its
   * slice of the reduce-scatter (Note [sharded optimizer state]).
   */
  updatedSlices(): readonly Range[] {
    return this.updated;
  }

  /** A copy of the last step's all-reduced mean gradient (same layout as the parameters). */
  lastGradient(): Float32Array {
    return this.arena.reduced.slice();
  }

  /** Live tfjs tensors per worker thread (by threadId) after its last training task: constant when nothing leaks. */
  workerTensors(): ReadonlyMap<number, number> {
    return this.tensors;
  }

  /**
   * Writes the current state (parameters, optimizer state, step, recipe) to
   * DIR/checkpoint.wddp, atomically (checkpoint.ts). Valid after any step, a
   * failure or a stop: parameters and state are always those after `stepsDone` steps.
   */
  saveCheckpoint(dir: string): string {
    const o = this.options;
    const recipe: Recipe = {
      hidden: o.hidden,
      batchSize: o.batchSize,
      lr: o.lr,
      optimizer: o.optimizer,
      seed: o.seed,
      epochs: o.epochs,
      inputSize: this.dataset.train.features,
      numClasses: this.dataset.numClasses,
      trainCount: this.dataset.train.count,
      labelsHash: labelsHash(this.dataset),
      data: resolve(this.dataset.dir),
      ...(this.dataset.readAs === undefined ? {} : { readAs: this.dataset.readAs }),
      model: modelHash(this.session.layers),
      ...(o.accumulateSteps === 1 ? {} : { accumulateSteps: o.accumulateSteps }),
      ...(o.lrSchedule.kind === 'constant' && (o.lrSchedule.warmupSteps ?? 0) === 0
        ? {}
        : { lrSchedule: o.lrSchedule }),
    };
    const header = {
      step: this.step,
      epochLossSum: this.epochLossSum,
      paramCount: this.layout.size,
      recipe,
      createdAt: new Date().toISOString(),
    };
    return writeCheckpoint(dir, header, this.params(), stateAt(this.arena, this.step));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private params(): Float32Array {
    return paramsAt(this.arena, this.step);
  }

  /**
   * Adds the mean losses of global steps [from, to) to `out` and to the epoch's sum,
   * logs each of their batches for drainBatches(), and advances to `to`.
   */
  private account(from: number, to: number, out: number[]): void {
    const S = this.stepsPerEpoch;
    const N = this.threads;
    const M = this.session.metricCount;
    const { stepLoss, stepMetrics } = this.session;
    for (let g = from; g < to; g++) {
      const batches = stepBatches(this.grouping, g % S);
      let stepSum = 0;
      for (let b = batches.lo; b < batches.hi; b++) {
        const { lo, hi } = batchSamples(this.grouping, b);
        let sum = 0;
        for (let r = 0; r < N; r++) sum += stepLoss[b * N + r];
        stepSum += sum;
        this.batchLosses.push(sum / (hi - lo));
        this.batchSizes.push(hi - lo);
        for (let k = 0; k < M; k++) {
          let m = 0;
          for (let r = 0; r < N; r++) m += stepMetrics[(b * N + r) * M + k];
          this.batchMetrics.push(m / (hi - lo));
        }
      }
      const len = batchSamples(this.grouping, batches.hi - 1).hi - batchSamples(this.grouping, batches.lo).lo;
      out.push(stepSum / len);
      this.epochLossSum += stepSum / len;
    }
    this.step = to;
  }

  private async runChunk(from: number, to: number): Promise<TrainResult[]> {
    const t0 = performance.timeOrigin + performance.now();
    this.session.beats.fill(0); // per chunk, so a hang is judged by this chunk's arrivals alone
    this.live.startAt(from);
    const results = await this.collective<TrainResult>('train', (rank) => ({ session: this.session, rank, from, to }));
    const done = results.find((r) => r.stopped !== undefined)?.stopped?.step ?? to;
    const marks = this.session.marks?.subarray((from % this.stepsPerEpoch) * this.threads * MARKS.length);
    if (marks !== undefined) this.phases.add(marks, done - from);
    if (this.trace !== undefined && marks !== undefined) {
      this.trace.coordinator('train task', t0, performance.timeOrigin + performance.now(), {
        firstStep: from + 1,
        lastStep: done,
      });
      this.trace.addSteps(marks, from, done - from);
    }
    for (const r of results) this.tensors.set(r.threadId, r.numTensors);
    this.updated = results.map((r) => r.updated);
    return results;
  }

  /**
   * One task per thread through the pool, for every kind of call (train, evaluate, predict).
   *
   * Note [whole after a failure]: a failing call aborts the barrier, so that no
   * rank waits for the one that failed. The pool rejects only once every task
   * has settled, so nobody is inside the barrier then and it is reset here,
   * whatever the call was. Left aborted (as it once was after a failed
   * evaluate()), it would fail the next training step at its first crossing
   * and cost that step one of its MAX_ATTEMPTS.
   */
  private async collective<T>(name: string, task: (rank: number) => object, threads = this.threads): Promise<T[]> {
    const beats = this.session.beats;
    // Waiting for a streamed dataset's batch is progress too (Note [batch ring] in data/ring.ts).
    const progress = (): number => beats.reduce((a, b) => a + b, 0) + heartbeats(this.session.stream);
    const watched = name === 'train' || name === 'evaluateStream';
    // Failures name workers: a thread computes workersOf(t) (Note [workers on fewer threads]).
    const workers = (ts: readonly number[]): string =>
      `worker ${ts.map((t) => workersName(t, this.threads, this.workers)).join(', ')}`;
    try {
      return await this.pool.collective<T>(
        name,
        Array.from({ length: threads }, (_, t) => task(t)),
        {
          describeTask: (t) => workers([t]),
          stallMs: this.options.stepTimeoutMs,
          progress: watched ? progress : undefined,
          startupMs: INIT_TIMEOUT_MS,
          started: name === 'train' ? () => beats.every((b) => b > 0) : undefined,
          describeStall: () => {
            const min = Math.min(...beats);
            const behind = [...beats.keys()].filter((t) => beats[t] === min);
            const step = Atomics.load(this.session.control, CONTROL.progress) + 1;
            return `${workers(behind)} (at step ${step})`;
          },
          onFailure: () => this.barrier.abort(),
        },
      );
    } catch (err) {
      this.barrier.reset();
      throw err;
    }
  }

  private usable(): void {
    if (this.closed) throw new Error('trainer is closed');
    if (this.failure !== undefined) throw new Error(`trainer stopped after a failure: ${this.failure.message}`);
  }
}

/**
 * Note [a failure ends the MPI job]: in an MPI job a failed step cannot be
 * re-run. Its peers in the other processes may already have summed their
 * slices for it, so a re-run would pair this process's step with their next
 * one; and a worker blocked in MPI_Allreduce (a peer died or hangs) cannot be
 * interrupted or terminated. So the first failure of a collective, a stall
 * past the step timeout included, prints one line naming this process's rank
 * and the step, and MPI_Abort ends every process of the job (mpirun also
 * ends it when a process dies, naming that rank). The last checkpoint
 * resumes with any number of processes and workers.
 */
function endJob(group: ProcessGroup, session: Session, err: Error): never {
  const step = Atomics.load(session.control, CONTROL.progress) + 1;
  const waiting = [...session.crossWait.keys()].filter((r) => Atomics.load(session.crossWait, r) === 1);
  const why =
    waiting.length === 0
      ? ''
      : `; worker ${waiting.join(', ')} waited for the other processes in the cross-process all-reduce: one of them died or hangs`;
  process.stderr.write(
    `error: MPI rank ${group.rank} of ${group.size}, step ${step}: ${err.message}${why}; ending the job\n`,
  );
  return group.abort(1);
}

const RECIPE_KEYS = ['hidden', 'batchSize', 'lr', 'seed'] as const;

/** FNV-1a of the training labels (and targets): tells MNIST from Fashion-MNIST (same sizes) when resuming. */
function labelsHash(data: Dataset): number {
  let h = 0x811c9dc5;
  for (const y of data.train.labels) h = Math.imul(h ^ y, 0x01000193);
  const t = data.train.targets?.data;
  if (t !== undefined)
    for (const y of new Uint8Array(t.buffer, t.byteOffset, t.byteLength)) h = Math.imul(h ^ y, 0x01000193);
  return h >>> 0;
}

/** FNV-1a of a LayersModel's topology, loss and metrics: a checkpoint resumes only the same model. */
function modelHash(spec: LayersSpec): string {
  let h = 0x811c9dc5;
  for (const c of JSON.stringify([spec.topology, spec.loss, spec.metrics]))
    h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Options for a resumed run: the checkpoint's recipe, unless the caller gave a value, which must then agree. */
function resumedOptions(o: ResolvedOptions, given: TrainerOptions, ckpt: Checkpoint): ResolvedOptions {
  const r = ckpt.header.recipe;
  // A name given asks for that kind (its lr is checked as lr); a spec must be the checkpoint's exactly.
  const g = given.optimizer;
  if (g !== undefined && (typeof g === 'string' ? g !== r.optimizer.kind : !sameOptimizer(o.optimizer, r.optimizer))) {
    throw new CheckpointError(
      join(o.resume ?? '', CHECKPOINT_FILE),
      `trained with optimizer ${describeOptimizer(r.optimizer)}, not ${typeof g === 'string' ? g : describeOptimizer(o.optimizer)}; omit the optimizer to resume`,
    );
  }
  for (const k of RECIPE_KEYS) {
    if (given[k] !== undefined && JSON.stringify(given[k]) !== JSON.stringify(r[k])) {
      throw new OptionError(
        `${k} ${JSON.stringify(given[k])} differs from the checkpoint's ${JSON.stringify(r[k])} (${o.resume ?? ''}); omit it to resume`,
      );
    }
  }
  // A step's batches, and so every step index, depend on it.
  const accumulateSteps = r.accumulateSteps ?? 1;
  if (given.accumulateSteps !== undefined && given.accumulateSteps !== accumulateSteps) {
    throw new OptionError(
      `accumulateSteps ${given.accumulateSteps} differs from the checkpoint's ${accumulateSteps} (${o.resume ?? ''}); omit it to resume`,
    );
  }
  return {
    ...o,
    accumulateSteps,
    // The rate continues from the step index; a schedule given here replaces the checkpoint's.
    lrSchedule:
      given.lrSchedule !== undefined || r.lrSchedule === undefined
        ? o.lrSchedule
        : checkSchedule('recipe.lrSchedule', r.lrSchedule),
    hidden: r.hidden,
    batchSize: r.batchSize,
    optimizer: r.optimizer,
    lr: r.optimizer.lr,
    seed: r.seed,
    epochs: given.epochs ?? r.epochs,
    data: given.data ?? r.data,
  };
}

function checkResumable(file: string, ckpt: Checkpoint, layout: ParamLayout, data: Dataset, source: ModelSource): void {
  const r = ckpt.header.recipe;
  if (r.model !== modelHash(source.spec)) {
    throw new CheckpointError(
      file,
      r.model === undefined
        ? 'holds the built-in MLP in its former parameter layout (before it became a LayersModel): it cannot be resumed, train anew'
        : 'holds another model (its topology, loss or metrics differ)',
    );
  }
  if (r.inputSize !== data.train.features || r.numClasses !== data.numClasses || r.trainCount !== data.train.count) {
    throw new CheckpointError(
      file,
      `trained on ${r.trainCount} samples of ${r.inputSize} features and ${r.numClasses} ${data.train.targets === undefined ? 'classes' : 'targets'}, ` +
        `but the data has ${data.train.count} of ${data.train.features} and ${data.numClasses}`,
    );
  }
  if (r.labelsHash !== labelsHash(data)) {
    throw new CheckpointError(file, `trained on other data than ${data.dir} (its training labels differ)`);
  }
  if (ckpt.header.paramCount !== layout.size) {
    throw new CheckpointError(file, `holds ${ckpt.header.paramCount} parameters, the model has ${layout.size}`);
  }
}

/** What Trainer.create works from: the options (a resumed run's recipe folded in), the checkpoint, the data, the model and its layout. */
interface Run {
  readonly o: ResolvedOptions;
  readonly ckpt: Checkpoint | undefined;
  readonly dataset: Dataset;
  readonly source: ModelSource;
  readonly layout: ParamLayout;
}

/** Step 1 of Trainer.create: options, checkpoint, data and model, each checked against the others. */
async function resolveRun(options: TrainerOptions, given: ModelSource | undefined): Promise<Run> {
  let o = resolveOptions(options);
  const ckpt = o.resume === undefined ? undefined : readCheckpoint(o.resume);
  if (ckpt !== undefined) o = resumedOptions(o, options, ckpt);
  const dataset = typeof o.data === 'object' ? o.data : loadDataset(o.data);
  if (o.batchSize > dataset.train.count) {
    throw new OptionError(`batch size must be at most the ${dataset.train.count} training samples, got ${o.batchSize}`);
  }
  const source = given ?? (await tutorialSource(o, dataset));
  const layout = makeLayout(source.spec.trainable);
  if (ckpt !== undefined && o.resume !== undefined) {
    checkResumable(join(o.resume, CHECKPOINT_FILE), ckpt, layout, dataset, source);
  }
  return { o, ckpt, dataset, source, layout };
}

/**
 * The tutorial MLP with options.hidden for the data, seeded by options.seed, as a
 * ModelSource (labels as one-hot targets). It is built in this thread's tfjs: where
 * no backend has started yet, the one options.backend asks for (as the workers'),
 * rather than tfjs's default, whose first use prints tfjs's "install tfjs-node" banner.
 */
async function tutorialSource(o: ResolvedOptions, data: Dataset): Promise<ModelSource> {
  if ((tf.engine().backendName as string | undefined) === undefined) await initBackend(o.backend);
  const model = tutorialMlp({ inputSize: data.train.features, hidden: o.hidden, numClasses: data.numClasses }, o.seed);
  try {
    return layersSource(model, { targets: 'onehot' });
  } finally {
    model.optimizer.dispose(); // compile() was given the optimizer object: model.dispose() leaves it
    model.dispose();
  }
}

/** Step 2: the shared memory of a run on N threads (Session, and the arena of parameters, gradients and state). */
function newSession(run: Run, N: number): { session: Session; arena: Arena } {
  const { o, dataset } = run;
  const M = run.source.spec.metricNames.length;
  const P = run.layout.size;
  const grouping = groupingOf(dataset, o);
  const steps = optimizerSteps(grouping);
  const batches = batchesPerEpoch(grouping);
  const arena = allocateArena(P, N, stateVectors(o.optimizer));
  const shared = <T>(Type: { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }, n: number): T =>
    new Type(new SharedArrayBuffer(Type.BYTES_PER_ELEMENT * n));
  const session: Session = {
    id: nextSessionId++,
    gradients: o.gradients,
    layers: run.source.spec,
    backend: o.backend,
    parties: N,
    workers: o.workers,
    batchSize: o.batchSize,
    accumulate: o.accumulateSteps,
    optimizer: o.optimizer,
    hyper: shared(Float64Array, HYPER_CELLS),
    schedule: resolveSchedule(o.lrSchedule, o.epochs * steps, steps),
    stepTimeoutMs: o.stepTimeoutMs,
    spinCapMs: o.barrierSpinMs,
    scavenge: o.scavengeTogether ? Scavenges.cells() : undefined,
    memory: arena.memory,
    paramCount: P,
    order: shared(Int32Array, dataset.train.count),
    stepLoss: shared(Float64Array, batches * N),
    stepMetrics: shared(Float64Array, batches * N * M),
    metricCount: M,
    probes: shared(Float64Array, 2 * N),
    marks: o.profile || o.phaseTimes ? shared(Float64Array, steps * N * MARKS.length) : undefined,
    barrier: Barrier.cells(),
    control: shared(Int32Array, CONTROL.cells),
    beats: shared(Int32Array, N),
    faults: o.faults,
    faultsFired: shared(Int32Array, o.faults.length),
    cross: o.group === undefined ? undefined : { rank: o.group.rank, size: o.group.size, comms: o.group.comms },
    crossWait: shared(Int32Array, N),
    train: dataset.train,
    test: dataset.test,
    stream: dataset.stream,
  };
  Atomics.store(session.control, CONTROL.stopAt, NO_STOP);
  return { session, arena };
}

/**
 * How an epoch's batches group into steps: options.batchSize and accumulateSteps
 * over the training split; a streamed dataset's steps are one batch each, of the
 * size its slot held, counted in laps of its ring's `sizes` cells (the most steps
 * one task runs).
 */
function groupingOf(dataset: Dataset, o: ResolvedOptions): Grouping {
  const ring = dataset.stream?.train;
  if (ring === undefined) return { count: dataset.train.count, batchSize: o.batchSize, accumulate: o.accumulateSteps };
  return { count: ring.sizes.length * ring.maxBatch, batchSize: ring.maxBatch, accumulate: 1, sizes: ring.sizes };
}

/** Step 3: the starting parameters and optimizer state (the checkpoint's, or the model's); returns the step they are at. */
function initParams({ o, ckpt, source }: Run, arena: Arena): number {
  const start = ckpt?.header.step ?? 0;
  if (ckpt !== undefined) {
    paramsAt(arena, start).set(ckpt.params);
    stateAt(arena, start).set(ckpt.state); // re-sharded for this worker count by the slices alone
  } else {
    paramsAt(arena, 0).set(source.params);
    initState(o.optimizer, stateAt(arena, 0));
  }
  return start;
}

/** Step 4: a tfjs engine in every thread, all on one backend (Note [auto never breaks a run]). */
async function startWorkers(
  o: ResolvedOptions,
  pool: WorkerPool,
  barrier: Barrier,
  first: Session,
  start: number,
): Promise<{ backend: BackendName; session: Session }> {
  const N = first.parties;
  const init = (s: Session): Promise<InitResult[]> =>
    pool.collective<InitResult>(
      'init',
      Array.from({ length: N }, (_, rank) => ({ session: s, rank, step: start })),
      { stallMs: Math.max(INIT_TIMEOUT_MS, o.stepTimeoutMs), onFailure: () => barrier.abort() },
    );
  let session = first;
  let inits = await init(session);
  const native = inits.flatMap((r, rank) => (r.backend === 'tensorflow' ? [rank] : []));
  if (o.backend === 'auto' && native.length > 0 && native.length < N) {
    // Note [auto never breaks a run]: tfjs-node is known to fail in some worker threads
    // of a process (tensorflow/tfjs#8388, #4947, #2079). Workers must agree on one
    // backend, so when it loaded in some but not all, every worker takes wasm.
    const without = inits.flatMap((r, rank) => (r.backend === 'tensorflow' ? [] : [rank]));
    o.onWarning(
      `backend auto: tfjs-node loaded in worker ${native.join(', ')} but not in worker ${without.join(', ')}; every worker uses wasm instead`,
    );
    session = { ...session, id: nextSessionId++, backend: 'wasm' };
    inits = await init(session);
  }
  const backends = new Set(inits.map((r) => r.backend));
  if (backends.size !== 1) throw new Error(`workers initialised different backends: ${[...backends].join(', ')}`);
  return { backend: inits[0].backend, session };
}

/**
 * The threads a run's workers get (Note [workers on fewer threads] in lanes.ts):
 * options.threads, else min(workers, cores); every worker its own thread in an MPI
 * job and for a model with non-trainable weights. Warns once, through onWarning,
 * when the workers outnumber the cores.
 */
function threadsOf(o: ResolvedOptions, source: ModelSource): number {
  const cores = availableParallelism();
  const why =
    o.group !== undefined
      ? 'in an MPI job'
      : source.spec.nonTrainable.length > 0
        ? 'for a model with non-trainable weights'
        : undefined;
  if (why !== undefined && o.threads !== undefined && o.threads !== o.workers) {
    throw new OptionError(
      `threads must equal workers (${o.workers}) ${why}: each worker keeps state of its own, got ${o.threads}`,
    );
  }
  const T = threadsFor(o.workers, cores, why === undefined, o.threads);
  if (o.workers > cores) {
    o.onWarning(
      T < o.workers
        ? `${o.workers} workers on ${cores} cores: ${T} threads compute them, the same model up to float rounding`
        : `${o.workers} workers on ${cores} cores${why === undefined ? '' : ` ${why}`}: threads will share cores and run slower`,
    );
  }
  return T;
}
