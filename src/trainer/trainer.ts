import { availableParallelism } from 'node:os';
import { limitNativeThreads, type BackendName } from '../backend.js';
import { loadDataset, type Dataset } from '../data/dataset.js';
import { epochPermutation } from '../data/shuffle.js';
import { allocateArena, type Arena } from '../kernels/arena.js';
import { makeLayout, type ParamLayout } from '../model/layout.js';
import { mlpDef } from '../model/mlp.js';
import { Rng, deriveSeed } from '../rng.js';
import { Barrier } from '../shm/barrier.js';
import { resolveOptions, OptionError, type ResolvedOptions, type TrainerOptions } from '../options.js';
import { MARKS } from '../profile/record.js';
import { TraceLog } from '../profile/trace.js';
import { WorkerPool } from './pool.js';
import type { EvalResult, InitResult, Session, TrainResult } from './session.js';

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

/** A declared variable and its current values. */
export interface Variable {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Barrier spin count before sleeping: only with a core per worker (Note [spin then sleep] in barrier.ts). */
const SPINS = 20_000;
/** Initialising tfjs in N threads on fewer cores can take a while; this bounds it. */
const INIT_TIMEOUT_MS = 120_000;

let nextSessionId = 1;

/**
 * The coordinator of a data-parallel training run.
 *
 * Contract: after k steps, the parameters equal — up to float rounding — those
 * of plain single-threaded minibatch SGD on the same batches: batch b of epoch e
 * is samples perm_e[b*B, (b+1)*B) of the seeded permutation perm_e, and each step
 * is p -= lr * mean over the batch of d(NLL)/dp. This holds for any worker
 * count, including shards of unequal size and workers with empty shards.
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
    /** Phase timings of every step so far, when options.profile is set. */
    readonly trace: TraceLog | undefined,
  ) {}

  static async create(options: TrainerOptions = {}): Promise<Trainer> {
    const o = resolveOptions(options);
    const dataset = typeof o.data === 'object' ? o.data : loadDataset(o.data);
    if (o.batchSize > dataset.train.count) {
      throw new OptionError(`batch size must be at most the ${dataset.train.count} training samples, got ${o.batchSize}`);
    }
    const model = { inputSize: dataset.train.features, hidden: o.hidden, numClasses: dataset.numClasses };
    const def = mlpDef(model);
    const layout = makeLayout(def.variables);
    const P = layout.size;
    const N = o.workers;
    const steps = Math.ceil(dataset.train.count / o.batchSize);
    const arena = allocateArena(P, N);
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
      order: new Int32Array(new SharedArrayBuffer(4 * dataset.train.count)),
      stepLoss: new Float64Array(new SharedArrayBuffer(8 * steps * N)),
      marks: o.profile ? new Float64Array(new SharedArrayBuffer(8 * steps * N * MARKS.length)) : undefined,
      barrier: Barrier.cells(),
      progress: new Int32Array(new SharedArrayBuffer(4)),
      train: dataset.train,
      test: dataset.test,
    };
    const rng = new Rng(deriveSeed(o.seed, -1));
    def.init(arena.params, () => rng.next());
    if (o.backend === 'auto' || o.backend === 'tensorflow') limitNativeThreads();

    const pool = new WorkerPool(N);
    try {
      const inits = await pool.collective<InitResult>(
        'init',
        Array.from({ length: N }, (_, rank) => ({ session, rank })),
        { stallMs: Math.max(INIT_TIMEOUT_MS, o.stepTimeoutMs), onFailure: () => new Barrier(session.barrier, N, 0, 0).abort() },
      );
      const backends = new Set(inits.map((r) => r.backend));
      if (backends.size !== 1) throw new Error(`workers initialised different backends: ${[...backends].join(', ')}`);
      return new Trainer(o, dataset, layout, inits[0].backend, session, arena, pool, o.profile ? new TraceLog(N) : undefined);
    } catch (err) {
      await pool.close();
      throw err;
    }
  }

  get workers(): number {
    return this.session.parties;
  }

  get stepsPerEpoch(): number {
    return Math.ceil(this.dataset.train.count / this.options.batchSize);
  }

  /** Global steps completed so far. */
  get stepsDone(): number {
    return this.step;
  }

  /** Epochs completed so far. */
  get epochsDone(): number {
    return Math.floor(this.step / this.stepsPerEpoch);
  }

  /** Trains the remaining epochs (up to options.epochs), yielding each as it ends. */
  async *fit(): AsyncGenerator<EpochResult, void, undefined> {
    while (this.epochsDone < this.options.epochs) {
      const t0 = performance.now();
      const first = this.step % this.stepsPerEpoch;
      await this.train(this.stepsPerEpoch - first);
      const seconds = (performance.now() - t0) / 1000;
      const samples = this.dataset.train.count - Math.min(first * this.options.batchSize, this.dataset.train.count);
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

  /** Runs the next `count` SGD steps, crossing epoch boundaries as needed. Returns the mean loss of each step's batch. */
  async train(count: number): Promise<Float64Array> {
    this.usable();
    const losses = new Float64Array(count);
    const S = this.stepsPerEpoch;
    const N = this.workers;
    let done = 0;
    while (done < count) {
      const epoch = Math.floor(this.step / S);
      if (this.orderEpoch !== epoch) {
        epochPermutation(this.dataset.train.count, this.options.seed, epoch, this.session.order);
        this.orderEpoch = epoch;
        this.epochLossSum = 0;
      }
      const from = this.step;
      const to = Math.min(from + count - done, (epoch + 1) * S);
      const t0 = performance.timeOrigin + performance.now();
      const results = await this.collective<TrainResult>('train', (rank) => ({ session: this.session, rank, from, to }), {
        progress: () => Atomics.load(this.session.progress, 0),
      });
      if (this.trace !== undefined && this.session.marks !== undefined) {
        this.trace.coordinator('train task', t0, performance.timeOrigin + performance.now(), { from, to });
        this.trace.addSteps(this.session.marks.subarray((from % S) * N * MARKS.length), from, to - from);
      }
      for (const r of results) this.tensors.set(r.threadId, r.numTensors);
      for (let g = from; g < to; g++) {
        const s = g % S;
        const len = Math.min((s + 1) * this.options.batchSize, this.dataset.train.count) - s * this.options.batchSize;
        let sum = 0;
        for (let r = 0; r < N; r++) sum += this.session.stepLoss[s * N + r];
        losses[done++] = sum / len;
        this.epochLossSum += sum / len;
      }
      this.step = to;
    }
    return losses;
  }

  /** Mean NLL loss and accuracy on a split, computed in parallel by all workers. */
  async evaluate(split: 'train' | 'test' = 'test'): Promise<Evaluation> {
    this.usable();
    const parts = await this.collective<EvalResult>('evaluate', (rank) => ({ session: this.session, rank, split }));
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
    const [probs] = await this.collective<Float32Array>('predict', () => ({ session: this.session, images, count }), {}, 1);
    return probs;
  }

  /** A copy of the flat parameter vector (layout: this.layout). */
  getParams(): Float32Array {
    return this.arena.params.slice();
  }

  /** Replaces the parameters; `params` must have the layout's size. */
  setParams(params: Float32Array): void {
    if (params.length !== this.layout.size) {
      throw new OptionError(`setParams needs ${this.layout.size} values, got ${params.length}`);
    }
    this.arena.params.set(params);
  }

  /** The declared variables with copies of their current values. */
  getWeights(): Variable[] {
    return this.layout.segments.map((s) => ({
      name: s.name,
      shape: s.shape,
      data: this.arena.params.slice(s.offset, s.offset + s.size),
    }));
  }

  /** A copy of the last step's all-reduced mean gradient (same layout as the parameters). */
  lastGradient(): Float32Array {
    return this.arena.reduced.slice();
  }

  /** Live tfjs tensors per worker thread (by threadId) after its last training task: constant when nothing leaks. */
  workerTensors(): ReadonlyMap<number, number> {
    return this.tensors;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async collective<T>(
    name: string,
    task: (rank: number) => object,
    opts: { progress?: () => number } = {},
    ranks = this.workers,
  ): Promise<T[]> {
    try {
      return await this.pool.collective<T>(name, Array.from({ length: ranks }, (_, r) => task(r)), {
        stallMs: this.options.stepTimeoutMs,
        progress: opts.progress,
        onFailure: () => new Barrier(this.session.barrier, this.workers, 0, 0).abort(),
      });
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw this.failure;
    }
  }

  private usable(): void {
    if (this.closed) throw new Error('trainer is closed');
    if (this.failure !== undefined) throw new Error(`trainer stopped after a failure: ${this.failure.message}`);
  }
}
