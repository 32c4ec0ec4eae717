import { writeFileSync } from 'node:fs';
import { MARKS, PHASES } from './record.js';

/**
 * Chrome trace-event JSON (opens in Perfetto and chrome://tracing): one row
 * (tid) per worker plus row 0 for the coordinator, complete ("X") events in µs.
 */
export interface TraceEvent {
  readonly name: string;
  readonly ph: 'X' | 'M';
  readonly pid: number;
  readonly tid: number;
  readonly ts?: number;
  readonly dur?: number;
  readonly args?: Readonly<Record<string, string | number>>;
}

export class TraceLog {
  private readonly events: TraceEvent[] = [];
  /** Sum of each phase's duration over all recorded steps and ranks, ms. */
  readonly phaseTotals = new Float64Array(PHASES.length);

  /** One row per worker thread, named by `label` (default `worker r`). */
  constructor(
    private readonly workers: number,
    label: (thread: number) => string = (r) => `worker ${r}`,
  ) {
    this.events.push({ name: 'thread_name', ph: 'M', pid: 1, tid: 0, args: { name: 'coordinator' } });
    for (let r = 0; r < workers; r++)
      this.events.push({ name: 'thread_name', ph: 'M', pid: 1, tid: r + 1, args: { name: label(r) } });
  }

  /** A coordinator span, times in absolute ms. */
  coordinator(name: string, startMs: number, endMs: number, args: Record<string, string | number> = {}): void {
    this.events.push({ name, ph: 'X', pid: 1, tid: 0, ts: startMs * 1000, dur: (endMs - startMs) * 1000, args });
  }

  /** Worker spans of `steps` consecutive steps from the marks buffer (step-major, then rank); `first` is the global index (from 0) of the first. */
  addSteps(marks: Float64Array, first: number, steps: number): void {
    const M = MARKS.length;
    for (let s = 0; s < steps; s++) {
      for (let r = 0; r < this.workers; r++) {
        const base = (s * this.workers + r) * M;
        for (let k = 0; k < PHASES.length; k++) {
          const t0 = marks[base + k];
          const dur = marks[base + k + 1] - t0;
          this.phaseTotals[k] += dur;
          this.events.push({
            name: PHASES[k],
            ph: 'X',
            pid: 1,
            tid: r + 1,
            ts: t0 * 1000,
            dur: dur * 1000,
            args: { step: first + s + 1 },
          }); // counted from 1, as in messages
        }
      }
    }
  }

  /**
   * Durations in ms of `phase` in every recorded step after the first `after`
   * global steps, all ranks pooled: per-step percentiles (the tail) of a phase.
   */
  durations(phase: (typeof PHASES)[number], after = 0): number[] {
    const out: number[] = [];
    for (const e of this.events)
      if (e.name === phase && e.ph === 'X' && (e.args?.step as number) > after) out.push((e.dur ?? 0) / 1000);
    return out;
  }

  /** Mean share of each phase in the recorded worker time, as fractions summing to 1. */
  shares(): Record<(typeof PHASES)[number], number> {
    const total = this.phaseTotals.reduce((a, b) => a + b, 0) || 1;
    return Object.fromEntries(PHASES.map((p, k) => [p, this.phaseTotals[k] / total])) as Record<
      (typeof PHASES)[number],
      number
    >;
  }

  write(file: string): void {
    writeFileSync(file, JSON.stringify({ traceEvents: this.events, displayTimeUnit: 'ms' }));
  }
}
