import { MARKS, PHASES } from './record.js';

/** Each worker thread's mean time per step in each phase, over some steps. */
export interface PhaseMeans {
  /** The steps averaged over (0: none, and every mean is 0). */
  readonly steps: number;
  /** (threads, PHASES.length) row-major: thread t's mean ms per step in phase k at t * PHASES.length + k. */
  readonly ms: Float64Array;
}

/**
 * Per worker thread, each phase's duration summed over the steps added since the
 * last drain(): a summary of the step marks (record.ts) that keeps no per-step
 * record, so it costs the same memory however long the run.
 */
export class PhaseTimes {
  private sums: Float64Array;
  private steps = 0;

  constructor(readonly threads: number) {
    this.sums = new Float64Array(threads * PHASES.length);
  }

  /** Adds `steps` consecutive steps of a marks buffer: (steps, threads, MARKS.length) absolute ms. */
  add(marks: Float64Array, steps: number): void {
    const M = MARKS.length;
    const K = PHASES.length;
    for (let s = 0; s < steps; s++) {
      for (let t = 0; t < this.threads; t++) {
        const base = (s * this.threads + t) * M;
        for (let k = 0; k < K; k++) this.sums[t * K + k] += marks[base + k + 1] - marks[base + k];
      }
    }
    this.steps += steps;
  }

  /** The means since the last drain; starts the sums again. */
  drain(): PhaseMeans {
    const ms = this.sums;
    if (this.steps > 0) for (let i = 0; i < ms.length; i++) ms[i] /= this.steps;
    const out = { steps: this.steps, ms };
    this.sums = new Float64Array(ms.length);
    this.steps = 0;
    return out;
  }
}
