import { OptionError } from './errors.js';

/**
 * Fault injection, a testing hook: faults that workers raise on purpose, so
 * tests can prove that crashes, hangs and bad numbers are survived or reported.
 * Set through the `faults` option or, for the CLI, the WORKER_DDP_FAULTS
 * environment variable holding the same list as JSON, e.g.
 *   WORKER_DDP_FAULTS='[{"kind":"throw","rank":1,"step":5,"times":2}]'
 * Each fault fires when worker `rank` starts step `step` (counted from 1 over
 * the whole run, as in messages), at most `times` times (default 1) over the
 * whole run, retries included.
 *   throw: the task throws an Error        exit: the worker thread exits
 *   hang:  the thread spins forever        nan:  the worker's loss becomes NaN
 *   native-fail: tfjs-node fails to load in that worker (`step` is ignored; Note [native stand-in] in backend.ts)
 *   nan-grad: the first value of the worker's gradient row becomes NaN, its
 *             loss stays finite: only the gradient check can catch it
 */
export type FaultKind = 'throw' | 'exit' | 'hang' | 'nan' | 'nan-grad' | 'native-fail';
export const FAULT_KINDS: readonly FaultKind[] = ['throw', 'exit', 'hang', 'nan', 'nan-grad', 'native-fail'];

export interface Fault {
  readonly kind: FaultKind;
  readonly rank: number;
  readonly step: number;
  readonly times?: number;
}

export const FAULTS_ENV = 'WORKER_DDP_FAULTS';

/** Validates a fault list (from JSON or from code); `name` is how errors call it. */
export function checkFaults(name: string, v: unknown): Fault[] {
  if (!Array.isArray(v)) throw new OptionError(`${name} must be a list of faults, got ${JSON.stringify(v)}`);
  return v.map((f: unknown, i) => {
    const o = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
    const nat = (k: string, min: number): boolean =>
      typeof o[k] === 'number' && Number.isInteger(o[k]) && (o[k] as number) >= min;
    if (
      !FAULT_KINDS.includes(o.kind as FaultKind) ||
      !nat('rank', 0) ||
      !nat('step', 0) ||
      (o.times !== undefined && !nat('times', 1))
    ) {
      throw new OptionError(
        `${name}[${i}] must be {"kind": ${FAULT_KINDS.map((k) => `"${k}"`).join('|')}, "rank": int >= 0, "step": int >= 0, "times"?: int >= 1}, got ${JSON.stringify(f)}`,
      );
    }
    return {
      kind: o.kind as FaultKind,
      rank: o.rank as number,
      step: o.step as number,
      times: (o.times as number | undefined) ?? 1,
    };
  });
}

export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): Fault[] | undefined {
  const raw = env[FAULTS_ENV];
  if (raw === undefined || raw === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new OptionError(`${FAULTS_ENV} is not valid JSON: ${raw}`);
  }
  return checkFaults(FAULTS_ENV, parsed);
}
