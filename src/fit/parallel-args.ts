import type { BackendRequest } from '../backend.js';
import { OptionError } from '../errors.js';
import { LIMITS, checkInt, type TrainerOptions } from '../options.js';
import type { GradientMode } from '../trainer/session.js';

/** How to parallelise: the arguments fitParallel and fitDatasetParallel share beside tfjs's. */
export interface ParallelArgs {
  /** Worker threads (default: the number of cores). */
  readonly workers?: number;
  /** tfjs backend of the workers (default 'auto'). */
  readonly backend?: BackendRequest;
  /** Modules each worker imports before rebuilding the model: where custom layers register their classes. */
  readonly modules?: readonly string[];
  /** A worker that makes no progress for this long is treated as hung (default 60000 ms). */
  readonly stepTimeoutMs?: number;
  /**
   * 'manual' (default): where the model is a tf.Sequential of conv2d, maxPooling2d, flatten and
   * dense layers, its backward written out without the gradient tape (the same gradients, bit
   * for bit, src/model/sequential-replica.ts); 'autograd': tfjs autograd always.
   */
  readonly gradients?: GradientMode;
  /** Receives one line per recovered worker failure or backend fallback (default: console.warn). */
  readonly onWarning?: (message: string) => void;
}

export const PARALLEL_KEYS = ['workers', 'backend', 'modules', 'stepTimeoutMs', 'gradients', 'onWarning'] as const;

/**
 * `args` without its null values, as tfjs reads an argument of null as one not
 * given (batchesPerEpoch: null); throws OptionError unless `args` is an object of
 * `known` keys only.
 */
export function givenArgs<T extends object>(fn: string, args: T, known: ReadonlySet<string>): T {
  if (typeof args !== 'object' || args === null) throw new OptionError(`${fn} args must be an object`);
  for (const k of Object.keys(args))
    if (!known.has(k)) throw new OptionError(`${fn} does not support the argument ${JSON.stringify(k)}`);
  return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== null)) as T;
}

/** epochs (default 1) and initialEpoch (default 0), checked as model.fit takes them. */
export function epochRange(epochs: unknown, initialEpoch: unknown): { epochs: number; initialEpoch: number } {
  const e = checkInt('epochs', epochs ?? 1, LIMITS.epochs);
  const i = initialEpoch ?? 0;
  if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= e) {
    throw new OptionError(`initialEpoch must be an integer from 0 to epochs - 1 (${e - 1}), got ${String(i)}`);
  }
  return { epochs: e, initialEpoch: i };
}

/** The Trainer options that ParallelArgs give. */
export function parallelOptions(args: ParallelArgs): TrainerOptions {
  return {
    workers: args.workers,
    backend: args.backend,
    stepTimeoutMs: args.stepTimeoutMs,
    gradients: args.gradients,
    onWarning: args.onWarning ?? ((m) => console.warn(`worker-ddp: ${m}`)),
  };
}
