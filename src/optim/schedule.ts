import { OptionError, showValue } from '../errors.js';

export type LrScheduleKind = 'constant' | 'cosine' | 'step';

export const LR_SCHEDULES: readonly LrScheduleKind[] = ['constant', 'cosine', 'step'];

/**
 * A learning rate per optimizer step, for runs without callbacks (the CLI): a
 * linear warm-up, then constant, cosine or step decay of the optimizer's lr.
 */
export interface LrSchedule {
  readonly kind: LrScheduleKind;
  /** Steps of linear warm-up: step s < warmupSteps takes lr * (s + 1) / warmupSteps (default 0). */
  readonly warmupSteps?: number;
  /** 'step': multiply the rate by `factor` every this many steps after the warm-up (default: one epoch's steps). */
  readonly every?: number;
  /** 'step': the decay factor, in (0, 1] (default 0.5). */
  readonly factor?: number;
}

/** A schedule with every field filled in, and the run's length in optimizer steps (cosine reaches 0 there). */
export interface ResolvedSchedule {
  readonly kind: LrScheduleKind;
  readonly warmupSteps: number;
  readonly every: number;
  readonly factor: number;
  readonly totalSteps: number;
}

const FIELDS = ['kind', 'warmupSteps', 'every', 'factor'];
const MAX_STEPS = 2 ** 31 - 1;

/** Validates a schedule option (a kind's name or an LrSchedule); `name` is how the caller spells it. */
export function checkSchedule(name: string, v: unknown): LrSchedule {
  const isObject = typeof v === 'object' && v !== null && !Array.isArray(v);
  if (typeof v !== 'string' && !isObject)
    throw new OptionError(
      `${name} must be one of ${LR_SCHEDULES.join(', ')} or a schedule object, got ${showValue(v)}`,
    );
  const o: Record<string, unknown> = isObject ? { ...v } : { kind: v };
  for (const k of Object.keys(o))
    if (!FIELDS.includes(k))
      throw new OptionError(`${name} has no field ${JSON.stringify(k)} (it takes ${FIELDS.join(', ')})`);
  if (typeof o.kind !== 'string' || !(LR_SCHEDULES as readonly string[]).includes(o.kind)) {
    throw new OptionError(
      `${name}${typeof v === 'string' ? '' : '.kind'} must be one of ${LR_SCHEDULES.join(', ')}, got ${showValue(o.kind)}`,
    );
  }
  const kind = o.kind as LrScheduleKind;
  const int = (f: string, lo: number): number | undefined => {
    const x = o[f];
    if (x !== undefined && (typeof x !== 'number' || !Number.isInteger(x) || x < lo || x > MAX_STEPS)) {
      throw new OptionError(`${name}.${f} must be an integer from ${lo} to ${MAX_STEPS}, got ${showValue(x)}`);
    }
    return x;
  };
  const warmupSteps = int('warmupSteps', 0) ?? 0;
  const every = int('every', 1);
  const factor = o.factor ?? 0.5;
  if (typeof factor !== 'number' || !(factor > 0 && factor <= 1))
    throw new OptionError(`${name}.factor must be a number in (0, 1], got ${showValue(factor)}`);
  if (kind !== 'step' && (o.every !== undefined || o.factor !== undefined))
    throw new OptionError(`${name}: every and factor are for kind 'step', not '${kind}'`);
  // Fields of kind 'step' only: the result is valid input again (a checkpoint's recipe is re-checked on resume).
  return { kind, warmupSteps, ...(every === undefined ? {} : { every }), ...(kind === 'step' ? { factor } : {}) };
}

/** The schedule for a run of `totalSteps` optimizer steps, `stepsPerEpoch` each epoch. */
export function resolveSchedule(s: LrSchedule, totalSteps: number, stepsPerEpoch: number): ResolvedSchedule {
  return {
    kind: s.kind,
    warmupSteps: s.warmupSteps ?? 0,
    every: s.every ?? stepsPerEpoch,
    factor: s.factor ?? 0.5,
    totalSteps,
  };
}

/**
 * The learning rate of global optimizer step `step` (0-based) for the base rate `lr`.
 * Note [schedule in the worker]: computed by each worker from the step index
 * alone, so a task of many steps needs no coordinator, a resumed run continues
 * the schedule, and every worker steps with the same rate. Exactly `lr` outside
 * a warm-up for 'constant', so a constant schedule changes no bit.
 * test/fit-contract.test.ts checks the rates against model.fit with the same rate set per batch.
 */
export function scheduledLr(s: ResolvedSchedule, lr: number, step: number): number {
  if (step < s.warmupSteps) return (lr * (step + 1)) / s.warmupSteps;
  const after = step - s.warmupSteps;
  switch (s.kind) {
    case 'constant':
      return lr;
    case 'cosine': {
      const span = Math.max(1, s.totalSteps - s.warmupSteps);
      return 0.5 * lr * (1 + Math.cos((Math.PI * Math.min(after, span)) / span));
    }
    case 'step':
      return lr * s.factor ** Math.floor(after / s.every);
  }
}
