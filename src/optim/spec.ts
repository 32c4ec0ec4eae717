import type * as tf from '@tensorflow/tfjs';
import { OptionError } from '../errors.js';

/**
 * Which optimizer a run uses, with all its hyperparameters: plain data, posted
 * to every worker in the Session and written into checkpoints. The fields are
 * tfjs's (tf.train.*), and so are the update rules (one file each beside this one).
 */
export type OptimizerSpec =
  | { readonly kind: 'sgd'; readonly lr: number }
  | { readonly kind: 'momentum'; readonly lr: number; readonly momentum: number; readonly nesterov: boolean }
  | {
      readonly kind: 'adam';
      readonly lr: number;
      readonly beta1: number;
      readonly beta2: number;
      readonly epsilon: number;
    }
  | {
      readonly kind: 'rmsprop';
      readonly lr: number;
      readonly decay: number;
      readonly momentum: number;
      readonly epsilon: number;
      readonly centered: boolean;
    }
  | { readonly kind: 'adagrad'; readonly lr: number; readonly initialAccumulator: number; readonly epsilon: number };

export type OptimizerName = OptimizerSpec['kind'];

export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['sgd', 'momentum', 'adam', 'rmsprop', 'adagrad'];

/**
 * tfjs's epsilon on a float32 backend (KernelBackend.epsilon()). Adam and RMSProp
 * default to it and Adagrad always uses it; every backend a worker runs on, and
 * the kernels themselves, compute in float32.
 */
export const EPSILON_FLOAT32 = 1e-7;

/**
 * The optimizer of a name, with tfjs's defaults: tf.train.adam()'s, and for the
 * learning rates tfjs leaves to the caller those tfjs-layers gives the names in
 * model.compile({optimizer: 'rmsprop'}) (rmsprop 0.001, adagrad 0.01). sgd keeps
 * this project's 0.003 (the PyTorch tutorial's), and so does momentum, whose
 * momentum tf.train.momentum requires: 0.9 here (the usual value, PyTorch's
 * tutorial's too). `lr`, when given, replaces the default learning rate.
 */
export function optimizerFromName(name: OptimizerName, lr?: number): OptimizerSpec {
  switch (name) {
    case 'sgd':
      return { kind: 'sgd', lr: lr ?? 0.003 };
    case 'momentum':
      return { kind: 'momentum', lr: lr ?? 0.003, momentum: 0.9, nesterov: false };
    case 'adam':
      return { kind: 'adam', lr: lr ?? 0.001, beta1: 0.9, beta2: 0.999, epsilon: EPSILON_FLOAT32 };
    case 'rmsprop':
      return { kind: 'rmsprop', lr: lr ?? 0.001, decay: 0.9, momentum: 0, epsilon: EPSILON_FLOAT32, centered: false };
    case 'adagrad':
      return { kind: 'adagrad', lr: lr ?? 0.01, initialAccumulator: 0.1, epsilon: EPSILON_FLOAT32 };
  }
}

/** tfjs's class names (Optimizer.getClassName()) of the optimizers we implement. */
const TFJS_CLASSES: Readonly<Record<string, OptimizerName>> = {
  SGD: 'sgd',
  Momentum: 'momentum',
  Adam: 'adam',
  RMSProp: 'rmsprop',
  Adagrad: 'adagrad',
};

/**
 * The spec of a tfjs optimizer (e.g. a compiled model's), read from its class name
 * and getConfig() as tfjs 4.22 stores them. Adam's and RMSProp's epsilon is already
 * resolved there (null becomes the backend's epsilon in their constructors);
 * Adagrad keeps none and uses the backend's at every step: EPSILON_FLOAT32.
 * Throws OptionError for any other optimizer (Adadelta, Adamax, a custom one).
 */
export function optimizerFromTfjs(opt: tf.Optimizer): OptimizerSpec {
  const name = opt.getClassName();
  const kind = Object.hasOwn(TFJS_CLASSES, name) ? TFJS_CLASSES[name] : undefined;
  if (kind === undefined)
    throw new OptionError(`optimizer ${name} is not supported (supported: ${OPTIMIZER_NAMES.join(', ')})`);
  const c = opt.getConfig();
  const raw = (() => {
    switch (kind) {
      case 'sgd':
        return { kind, lr: c.learningRate };
      case 'momentum':
        return { kind, lr: c.learningRate, momentum: c.momentum, nesterov: c.useNesterov };
      case 'adam':
        return { kind, lr: c.learningRate, beta1: c.beta1, beta2: c.beta2, epsilon: c.epsilon };
      case 'rmsprop':
        return {
          kind,
          lr: c.learningRate,
          decay: c.decay,
          momentum: c.momentum,
          epsilon: c.epsilon,
          centered: c.centered,
        };
      case 'adagrad':
        return { kind, lr: c.learningRate, initialAccumulator: c.initialAccumulatorValue, epsilon: EPSILON_FLOAT32 };
    }
  })();
  return checkOptimizer(`tf.train.${kind}()`, raw);
}

/** The fields of each kind, besides `kind`, and what each accepts. */
// lr 0 is allowed, as tfjs allows it: a callback freezes the weights with it (the lr option and --lr stay > 0).
const FIELDS: { readonly [K in OptimizerName]: readonly (readonly [string, Check])[] } = {
  sgd: [['lr', 'nonNegative']],
  momentum: [
    ['lr', 'nonNegative'],
    ['momentum', 'nonNegative'],
    ['nesterov', 'boolean'],
  ],
  adam: [
    ['lr', 'nonNegative'],
    ['beta1', 'unit'],
    ['beta2', 'unit'],
    ['epsilon', 'nonNegative'],
  ],
  rmsprop: [
    ['lr', 'nonNegative'],
    ['decay', 'unit'],
    ['momentum', 'nonNegative'],
    ['epsilon', 'nonNegative'],
    ['centered', 'boolean'],
  ],
  adagrad: [
    ['lr', 'nonNegative'],
    ['initialAccumulator', 'nonNegative'],
    ['epsilon', 'nonNegative'],
  ],
};

/**
 * The hyperparameters of a kind that may change during a run, in a fixed order:
 * its numeric fields. The boolean ones (nesterov, centered) are its structure.
 * Adagrad's initialAccumulator only fills the state before the first step.
 */
export function numericFields(kind: OptimizerName): readonly string[] {
  return FIELDS[kind].filter(([f, check]) => check !== 'boolean' && f !== 'initialAccumulator').map(([f]) => f);
}

type Check = 'nonNegative' | 'unit' | 'boolean';

const ACCEPTS: Readonly<Record<Check, [string, (v: unknown) => boolean]>> = {
  nonNegative: ['a finite number >= 0', (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0],
  // beta = 1 would divide by 1 - beta^t = 0 (Adam), decay = 1 would never update the average (RMSProp).
  unit: ['a number in [0, 1)', (v) => typeof v === 'number' && v >= 0 && v < 1],
  boolean: ['true or false', (v) => typeof v === 'boolean'],
};

/**
 * Validates an optimizer spec given as data (an option, a tfjs config, a checkpoint's
 * recipe); `name` is how the caller spells it. Every field of its kind is required,
 * no other is allowed: a spec is complete or refused, never completed by guesswork.
 */
export function checkOptimizer(name: string, v: unknown): OptimizerSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new OptionError(
      `${name} must be one of ${OPTIMIZER_NAMES.join(', ')} or an optimizer spec object, got ${show(v)}`,
    );
  }
  const o = v as Record<string, unknown>;
  if (typeof o.kind !== 'string' || !(OPTIMIZER_NAMES as readonly string[]).includes(o.kind)) {
    throw new OptionError(`${name}.kind must be one of ${OPTIMIZER_NAMES.join(', ')}, got ${show(o.kind)}`);
  }
  const kind = o.kind as OptimizerName;
  const fields = FIELDS[kind];
  for (const k of Object.keys(o)) {
    if (k !== 'kind' && !fields.some(([f]) => f === k)) {
      throw new OptionError(
        `${name} has no field ${JSON.stringify(k)} (${kind} takes ${fields.map(([f]) => f).join(', ')})`,
      );
    }
  }
  for (const [f, check] of fields) {
    const [accepts, ok] = ACCEPTS[check];
    if (!ok(o[f])) throw new OptionError(`${name}.${f} must be ${accepts}, got ${show(o[f])}`);
  }
  return { ...o } as OptimizerSpec;
}

function show(v: unknown): string {
  return typeof v === 'string'
    ? JSON.stringify(v)
    : typeof v === 'object' && v !== null
      ? JSON.stringify(v)
      : String(v);
}

/** One line for messages: `adam (lr 0.001, beta1 0.9, beta2 0.999, epsilon 1e-7)`. */
export function describeOptimizer(s: OptimizerSpec): string {
  const rest = Object.entries(s)
    .filter(([k]) => k !== 'kind')
    .map(([k, v]) => `${k} ${String(v)}`);
  return `${s.kind} (${rest.join(', ')})`;
}

/** Does `a` describe the same optimizer as `b` (same kind and hyperparameters)? */
export function sameOptimizer(a: OptimizerSpec, b: OptimizerSpec): boolean {
  const fields = FIELDS[a.kind].map(([f]) => f);
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  return a.kind === b.kind && fields.every((f) => x[f] === y[f]);
}

/**
 * How many P-long vectors of state the optimizer keeps, in this order (tfjs's
 * getWeights() order): sgd none; momentum [accumulation]; adam [m, v];
 * rmsprop [meanSquare, moment] + [meanGrad] when centered; adagrad [accumulator].
 */
export function stateVectors(s: OptimizerSpec): number {
  switch (s.kind) {
    case 'sgd':
      return 0;
    case 'momentum':
    case 'adagrad':
      return 1;
    case 'adam':
      return 2;
    case 'rmsprop':
      return s.centered ? 3 : 2;
  }
}

/** The state before the first step: Adagrad's accumulator starts at initialAccumulator (tfjs's fill), all else at 0. */
export function initState(s: OptimizerSpec, state: Float32Array): void {
  state.fill(s.kind === 'adagrad' ? s.initialAccumulator : 0);
}
