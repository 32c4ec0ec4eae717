import { OptionError } from '../errors.js';
import { betaPowers, nextPowers, type BetaPowers } from './adam.js';
import { describeOptimizer, numericFields, type OptimizerSpec } from './spec.js';

/**
 * Session.hyper: the optimizer's hyperparameters as they are now, in shared memory.
 * Cells 0-3: the kind's numeric fields in numericFields() order (rmsprop has the
 * most, 4); cells 4-5: Adam's beta1^t and beta2^t at the first update of the next task.
 *
 * Note [live hyperparameters]: a callback may change the user's optimizer
 * (setLearningRate, optimizer.beta1 = ...) between any two tasks; the coordinator
 * reads it back after the callbacks (LiveOptimizer.set) and writes these cells
 * before it dispatches the next task (startAt); each worker reads them once at the
 * start of its task. Nothing changes within a task, so steps read no shared
 * hyperparameter. Re-measured by test/fit-contract.test.ts against tfjs's model.fit.
 */
export const HYPER_CELLS = 6;
const POWERS = 4;

/** A worker's view at the start of a task: the spec with the cells' hyperparameters, and Adam's powers at its first update. */
export function readHyper(base: OptimizerSpec, cells: Float64Array): { spec: OptimizerSpec; powers: BetaPowers } {
  const spec: Record<string, unknown> = { ...base };
  numericFields(base.kind).forEach((f, i) => (spec[f] = cells[i]));
  return { spec: spec as unknown as OptimizerSpec, powers: { beta1: cells[POWERS], beta2: cells[POWERS + 1] } };
}

/**
 * The coordinator's side: the optimizer's current hyperparameters, and Adam's
 * powers replayed with the betas each update ran with (Note [changing betas] in adam.ts).
 */
export class LiveOptimizer {
  private powers: BetaPowers;
  /** The step whose next update `powers` are for. */
  private at: number;

  /** `step`: the steps already done (a resumed run's), whose betas were `spec`'s. */
  constructor(
    private current: OptimizerSpec,
    step: number,
    private readonly cells: Float64Array,
  ) {
    this.powers = betaPowers(current, step + 1);
    this.at = step;
  }

  get spec(): OptimizerSpec {
    return this.current;
  }

  /**
   * The hyperparameters for the steps from `step` on (the steps done so far ran with
   * the previous ones). Returns whether any changed. The kind and the structure
   * (nesterov, centered) must stay: the state was laid out for them.
   */
  set(spec: OptimizerSpec, step: number): boolean {
    const before = this.current as unknown as Record<string, unknown>;
    const after = spec as unknown as Record<string, unknown>;
    const fixed = Object.keys(before).filter(
      (f) => !numericFields(this.current.kind).includes(f) && f !== 'initialAccumulator',
    );
    if (fixed.some((f) => before[f] !== after[f])) {
      throw new OptionError(
        `the optimizer changed from ${describeOptimizer(this.current)} to ${describeOptimizer(spec)} during training; only its numeric hyperparameters may change`,
      );
    }
    const changed = numericFields(spec.kind).some((f) => before[f] !== after[f]);
    if (!changed) return false;
    this.advance(step);
    this.current = spec;
    return true;
  }

  /**
   * Continues an optimizer that made `updates` updates before `step` (tfjs's
   * iterations, e.g. in earlier fits): Adam's next powers are those of update
   * updates + 1, as betaPowers() has them for betas that never changed.
   */
  continueFrom(updates: number, step: number): void {
    this.powers = betaPowers(this.current, updates + 1);
    this.at = step;
  }

  /** Writes the cells for a task whose first step is `step`. */
  startAt(step: number): void {
    this.advance(step);
    const c = this.current as unknown as Record<string, number>;
    numericFields(this.current.kind).forEach((f, i) => (this.cells[i] = c[f]));
    this.cells[POWERS] = this.powers.beta1;
    this.cells[POWERS + 1] = this.powers.beta2;
  }

  private advance(step: number): void {
    if (step < this.at) throw new Error(`optimizer powers are at step ${this.at}, asked for ${step}`);
    for (; this.at < step; this.at++) this.powers = nextPowers(this.current, this.powers);
  }
}
