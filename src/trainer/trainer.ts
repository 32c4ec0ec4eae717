import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { limitNativeThreads, type BackendName } from '../backend.js';
import { CHECKPOINT_FILE, CheckpointError, readCheckpoint, writeCheckpoint, type Checkpoint, type Recipe } from '../checkpoint.js';
import { loadDataset, type Dataset } from '../data/dataset.js';
import { epochPermutation, stepsPerEpoch } from '../data/shuffle.js';
import { allocateArena, paramsAt, type Arena } from '../kernels/arena.js';
import { makeLayout, type ParamLayout } from '../model/layout.js';
import { mlpDef } from '../model/mlp.js';
import { Rng, deriveSeed } from '../rng.js';
import { Barrier } from '../shm/barrier.js';
import { checkInt, resolveOptions, OptionError, type ResolvedOptions, type TrainerOptions } from '../options.js';
import { MARKS } from '../profile/record.js';
import { TraceLog } from '../profile/trace.js';
import { WorkerPool } from './pool.js';
import { CONTROL, NO_STOP, type EvalResult, type InitResult, type Session, type StopReason, type TrainResult } from './session.js';

/** One finished epoch. */
export interface EpochResult {
  /** 1-based. */
  readonly epoch: number;
  /** Mean over the epoch's batches of the batch's mean NLL loss (the tutorial's running_loss / len(trainloader)). */
  readonly loss: number;
  readonly samples: number;
  /** Training time of the epoch, evaluation excluded. */
  readonly seconds: number;
  readonly samplesPerSecond: number;
  /** The test split after this epoch. */
  readonly test: Evaluation;
}

export interface Evaluation {
  readonly loss: number;
  readonly accuracy: number;
  readonly count: number;
}

/** Optional hooks of fit(), for progress reporting. */
export interface FitHooks {
  /**
   * Steps per dispatch to the workers (default: the rest of the epoch). Smaller
   * chunks let onSteps report progress within an epoch; each chunk costs one
   * round trip to the pool (~0.1 ms). The steps, and so the results, are the same.
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

/** Training hit a NaN or Inf; the parameters are those before the offending step. */
export class NonFiniteError extends Error {
  override readonly name = 'NonFiniteError';
  constructor(
    readonly step: number,
    readonly reason: Exclude<StopReason, 'requested'>,
    lr: number,
  ) {
    super(`step ${step + 1}: ${reason}; the learning rate ${lr} is probably too large, try a smaller one (--lr)`);
  }
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

/** Barrier spin count before sleeping: only with a core per worker (Note [spin then sleep] in barrier.ts). */
const SPINS = 20_000;
/** Initialising tfjs in N threads on fewer cores can take a while; this bounds it. */
const INIT_TIMEOUT_MS = 120_000;
/** Attempts at one step before the run stops. */
const MAX_ATTEMPTS = 3;

let nextSessionId = 1;

/**
 * The coordinator of a data-parallel training run.
 *
 * Contract: after k steps, the parameters equal — up to float rounding — those
 * of plain single-threaded minibatch SGD on the same batches: batch b of epoch e
 * is samples perm_e[b*B, (b+1)*B) of the seeded permutation perm_e, and each step
 * is p -= lr * mean over the batch of d(NLL)/dp. This holds for any worker
 * count, including shards of unequal size and workers with empty shards, and
 * across worker failures: a failed step is re-run from the parameters before it
 * (Note [double-buffered params] in kernels/arena.ts).
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
  private failure: Error | undefined;
  private stopRequested = false;
  private closed = false;
  /** Live tfjs tensors per worker thread after its last training task. */
  private readonly tensors = new Map<number, number>();

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
  ) {}

  static async create(options: TrainerOptions = {}): Promise<Trainer> {
    let o = resolveOptions(options);
    const ckpt = o.resume === undefined ? undefined : readCheckpoint(o.resume);
    if (ckpt !== undefined) o = resumedOptions(o, options, ckpt);
    const dataset = typeof o.data === 'object' ? o.data : loadDataset(o.data);
    if (o.batchSize > dataset.train.count) {
      throw new OptionError(`batch size must be at most the ${dataset.train.count} training samples, got ${o.batchSize}`);
    }
    const model = { inputSize: dataset.train.features, hidden: o.hidden, numClasses: dataset.numClasses };
    const def = mlpDef(model);
    const layout = makeLayout(def.variables);
    if (ckpt !== undefined && o.resume !== undefined) checkResumable(join(o.resume, CHECKPOINT_FILE), ckpt, layout, dataset);
    const P = layout.size;
    const N = o.workers;
    const steps = stepsPerEpoch(dataset.train.count, o.batchSize);
    const arena = allocateArena(P, N);
    const shared = <T>(Type: { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }, n: number): T =>
      new Type(new SharedArrayBuffer(Type.BYTES_PER_ELEMENT * n));
    const session: Session = {
      id: nextSessionId++,
      model,
      gradients: o.gradients,
      backend: o.backend,
      parties: N,
      batchSize: o.batchSize,
      lr: o.lr,
      stepTimeoutMs: o.stepTimeoutMs,
      spins: N <= availableParallelism() ? SPINS : 0,
      memory: arena.memory,
      paramCount: P,
      order: shared(Int32Array, dataset.train.count),
      stepLoss: shared(Float64Array, steps * N),
      probes: shared(Float64Array, N),
      marks: o.profile ? shared(Float64Array, steps * N * MARKS.length) : undefined,
      barrier: Barrier.cells(),
      control: shared(Int32Array, CONTROL.cells),
      beats: shared(Int32Array, N),
      faults: o.faults,
      faultsFired: shared(Int32Array, o.faults.length),
      train: dataset.train,
      test: dataset.test,
    };
    Atomics.store(session.control, CONTROL.stopAt, NO_STOP);
    const start = ckpt?.header.step ?? 0;
    if (ckpt !== undefined) paramsAt(arena, start).set(ckpt.params);
    else {
      const rng = new Rng(deriveSeed(o.seed, -1));
      def.init(paramsAt(arena, 0), () => rng.next());
    }
    if (o.backend === 'auto' || o.backend === 'tensorflow') limitNativeThreads();

    const barrier = new Barrier(session.barrier, N, 0, 0);
    const pool = new WorkerPool(N);
    try {
      const inits = await pool.collective<InitResult>(
        'init',
        Array.from({ length: N }, (_, rank) => ({ session, rank })),
        { stallMs: Math.max(INIT_TIMEOUT_MS, o.stepTimeoutMs), onFailure: () => barrier.abort() },
      );
      const backends = new Set(inits.map((r) => r.backend));
      if (backends.size !== 1) throw new Error(`workers initialised different backends: ${[...backends].join(', ')}`);
      const trainer = new Trainer(o, dataset, layout, inits[0].backend, session, arena, pool, barrier, o.profile ? new TraceLog(N) : undefined);
      trainer.step = start;
      trainer.epochLossSum = ckpt?.header.epochLossSum ?? 0;
      return trainer;
    } catch (err) {
      await pool.close();
      throw err;
    }
  }

  get workers(): number {
    return this.session.parties;
  }

  get stepsPerEpoch(): number {
    return stepsPerEpoch(this.dataset.train.count, this.options.batchSize);
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
    const chunk = hooks.chunkSteps === undefined ? Infinity : checkInt('chunkSteps', hooks.chunkSteps, [1, 2 ** 31 - 1]);
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
      const samples = this.dataset.train.count - Math.min(skipped * this.options.batchSize, this.dataset.train.count);
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
   * Runs the next `count` SGD steps, crossing epoch boundaries as needed, and
   * returns the mean loss of each step's batch. A worker that throws, exits or
   * hangs is replaced and its step re-run from the parameters before it; the
   * third failure of one step rejects with StepFailedError. A NaN or Inf loss or
   * gradient rejects with NonFiniteError. Both leave the parameters as they were
   * before the failing step. After requestStop(), returns the steps done.
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
        epochPermutation(this.dataset.train.count, this.options.seed, epoch, this.session.order);
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
        this.options.onWarning(`step ${done + 1} failed (${cause.message}); re-running it from the parameters before it (attempt ${n + 1} of ${MAX_ATTEMPTS})`);
        continue;
      }
      const stopped = results.find((r) => r.stopped !== undefined)?.stopped;
      this.account(from, stopped?.step ?? to, losses);
      if (stopped !== undefined && stopped.reason !== 'requested') {
        this.failure = new NonFiniteError(stopped.step, stopped.reason, this.options.lr);
        throw this.failure;
      }
    }
    return Float64Array.from(losses);
  }

  /**
   * Asks the workers to stop at a step boundary within the next two steps
   * (Note [verdicts by consensus] in workers/train-worker.ts); train() and
   * fit() then return what they finished. For Ctrl-C: the parameters stay
   * consistent, so a checkpoint can be written afterwards.
   */
  requestStop(): void {
    this.stopRequested = true;
    Atomics.store(this.session.control, CONTROL.stopAt, Atomics.load(this.session.control, CONTROL.progress) + 2);
  }

  /** Mean NLL loss and accuracy on a split, computed in parallel by all workers. */
  async evaluate(split: 'train' | 'test' = 'test'): Promise<Evaluation> {
    this.usable();
    const parts = await this.collective<EvalResult>('evaluate', (rank) => ({ session: this.session, rank, split, step: this.step }));
    const count = parts.reduce((a, p) => a + p.count, 0);
    const lossSum = parts.reduce((a, p) => a + p.lossSum, 0);
    const correct = parts.reduce((a, p) => a + p.correct, 0);
    return { loss: lossSum / count, accuracy: correct / count, count };
  }

  /**
   * Class probabilities, row-major (count, classes), for `count` images given
   * row-major with pixels in [0, 1].
   */
  async predict(images: Float32Array, count: number): Promise<Float32Array> {
    this.usable();
    const f = this.dataset.train.features;
    if (!Number.isInteger(count) || count < 1 || images.length !== count * f) {
      throw new OptionError(`predict needs count >= 1 images of ${f} pixels each: got ${images.length} values for count ${count}`);
    }
    const [probs] = await this.collective<Float32Array>('predict', () => ({ session: this.session, images, count, step: this.step }), 1);
    return probs;
  }

  /** A copy of the flat parameter vector (layout: this.layout). */
  getParams(): Float32Array {
    return this.params().slice();
  }

  /** Replaces the parameters; `params` must have the layout's size. */
  setParams(params: Float32Array): void {
    if (params.length !== this.layout.size) {
      throw new OptionError(`setParams needs ${this.layout.size} values, got ${params.length}`);
    }
    this.params().set(params);
  }

  /** The declared variables with copies of their current values. */
  getWeights(): Variable[] {
    const p = this.params();
    return this.layout.segments.map((s) => ({ name: s.name, shape: s.shape, data: p.slice(s.offset, s.offset + s.size) }));
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
   * Writes the current state (parameters, step, recipe) to DIR/checkpoint.wddp,
   * atomically (checkpoint.ts). Valid after any step, a failure or a stop: the
   * parameters are always those after `stepsDone` steps.
   */
  saveCheckpoint(dir: string): string {
    const o = this.options;
    const recipe: Recipe = {
      hidden: o.hidden,
      batchSize: o.batchSize,
      lr: o.lr,
      seed: o.seed,
      epochs: o.epochs,
      inputSize: this.dataset.train.features,
      numClasses: this.dataset.numClasses,
      trainCount: this.dataset.train.count,
      labelsHash: labelsHash(this.dataset),
      data: resolve(this.dataset.dir),
    };
    const header = { step: this.step, epochLossSum: this.epochLossSum, paramCount: this.layout.size, recipe, createdAt: new Date().toISOString() };
    return writeCheckpoint(dir, header, this.params());
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

  /** Adds the batch-mean losses of global steps [from, to) to `out` and to the epoch's sum, and advances to `to`. */
  private account(from: number, to: number, out: number[]): void {
    const S = this.stepsPerEpoch;
    const N = this.workers;
    const B = this.options.batchSize;
    for (let g = from; g < to; g++) {
      const s = g % S;
      const len = Math.min((s + 1) * B, this.dataset.train.count) - s * B;
      let sum = 0;
      for (let r = 0; r < N; r++) sum += this.session.stepLoss[s * N + r];
      out.push(sum / len);
      this.epochLossSum += sum / len;
    }
    this.step = to;
  }

  private async runChunk(from: number, to: number): Promise<TrainResult[]> {
    const t0 = performance.timeOrigin + performance.now();
    this.session.beats.fill(0); // per chunk, so a hang is judged by this chunk's arrivals alone
    const results = await this.collective<TrainResult>('train', (rank) => ({ session: this.session, rank, from, to }));
    const done = results.find((r) => r.stopped !== undefined)?.stopped?.step ?? to;
    if (this.trace !== undefined && this.session.marks !== undefined) {
      const S = this.stepsPerEpoch;
      this.trace.coordinator('train task', t0, performance.timeOrigin + performance.now(), { firstStep: from + 1, lastStep: done });
      this.trace.addSteps(this.session.marks.subarray((from % S) * this.workers * MARKS.length), from, done - from);
    }
    for (const r of results) this.tensors.set(r.threadId, r.numTensors);
    return results;
  }

  /**
   * One task per rank through the pool, for every kind of call (train, evaluate, predict).
   *
   * Note [whole after a failure]: a failing call aborts the barrier, so that no
   * rank waits for the one that failed. The pool rejects only once every task
   * has settled, so nobody is inside the barrier then and it is reset here,
   * whatever the call was. Left aborted (as it once was after a failed
   * evaluate()), it would fail the next training step at its first crossing
   * and cost that step one of its MAX_ATTEMPTS.
   */
  private async collective<T>(name: string, task: (rank: number) => object, ranks = this.workers): Promise<T[]> {
    const beats = this.session.beats;
    const progress = (): number => beats.reduce((a, b) => a + b, 0);
    try {
      return await this.pool.collective<T>(name, Array.from({ length: ranks }, (_, r) => task(r)), {
        stallMs: this.options.stepTimeoutMs,
        progress: name === 'train' ? progress : undefined,
        describeStall: () => {
          const min = Math.min(...beats);
          const behind = [...beats.keys()].filter((r) => beats[r] === min);
          const step = Atomics.load(this.session.control, CONTROL.progress) + 1;
          return `worker ${behind.join(', ')} (at step ${step})`;
        },
        onFailure: () => this.barrier.abort(),
      });
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

const RECIPE_KEYS = ['hidden', 'batchSize', 'lr', 'seed'] as const;

/** FNV-1a of the training labels: tells MNIST from Fashion-MNIST (same sizes) when resuming. */
function labelsHash(data: Dataset): number {
  let h = 0x811c9dc5;
  for (const y of data.train.labels) h = Math.imul(h ^ y, 0x01000193);
  return h >>> 0;
}

/** Options for a resumed run: the checkpoint's recipe, unless the caller gave a value, which must then agree. */
function resumedOptions(o: ResolvedOptions, given: TrainerOptions, ckpt: Checkpoint): ResolvedOptions {
  const r = ckpt.header.recipe;
  for (const k of RECIPE_KEYS) {
    if (given[k] !== undefined && JSON.stringify(given[k]) !== JSON.stringify(r[k])) {
      throw new OptionError(`${k} ${JSON.stringify(given[k])} differs from the checkpoint's ${JSON.stringify(r[k])} (${o.resume ?? ''}); omit it to resume`);
    }
  }
  return {
    ...o,
    hidden: r.hidden,
    batchSize: r.batchSize,
    lr: r.lr,
    seed: r.seed,
    epochs: given.epochs ?? r.epochs,
    data: given.data ?? r.data,
  };
}

function checkResumable(file: string, ckpt: Checkpoint, layout: ParamLayout, data: Dataset): void {
  const r = ckpt.header.recipe;
  if (r.inputSize !== data.train.features || r.numClasses !== data.numClasses || r.trainCount !== data.train.count) {
    throw new CheckpointError(
      file,
      `trained on ${r.trainCount} samples of ${r.inputSize} features and ${r.numClasses} classes, ` +
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
