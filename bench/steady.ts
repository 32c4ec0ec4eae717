/**
 * The steady-state protocol of bench/scaling.ts, the same for every row (this
 * library's trainers, the single-thread baselines, the PyTorch references):
 *
 * 1. Warm-up: run windows of steps, each sized from the previous one's step
 *    time (the first from a 10-step probe) to last about WINDOW_MS, until the
 *    per-step time is steady: the last 3 window means lie within `tol` of
 *    their median (steadyWindow). Capped in
 *    steps and seconds; how long it took is reported as its own figure.
 * 2. Repetitions: every row runs `reps` times, interleaved (rep 1 of every
 *    row, then rep 2, ...), each rep sized to last about repSeconds, so slow
 *    drift of the machine hits every row alike.
 *
 * Note [why steady state]: forward/backward keeps getting faster for the first
 * few thousand steps (V8 optimising tfjs's JavaScript), so a fixed short
 * warm-up timed mostly the transient and under-reported steady throughput by
 * about a third. Decision: every row warms up until its window means are
 * stable, and how long that took is reported. Re-measure: `npm run
 * bench:scaling` (the warm-up column; docs/performance.md, "Warm-up").
 */

/** One benchmarked thing: runs `steps` steps and says how long they took. */
export interface Row {
  readonly samplesPerStep: number;
  /** Runs `steps` steps; `seconds` is their wall time, `stepMs` per-step times where the row has them. */
  run(steps: number): Promise<{ seconds: number; stepMs?: readonly number[] }>;
  close(): Promise<void>;
}

export interface SteadyOptions {
  /** Relative spread allowed among the last 3 window means. */
  readonly tol: number;
  readonly maxWarmupSteps: number;
  readonly maxWarmupSeconds: number;
}

export interface Warmup {
  readonly steps: number;
  readonly seconds: number;
  /** False when a cap ended the warm-up first. */
  readonly steady: boolean;
  /** Steps of each window and each window's mean step time, ms. */
  readonly windows: readonly number[];
  readonly windowMs: readonly number[];
  /** Mean step time of the last window, ms: sizes the repetitions. */
  readonly lastMs: number;
}

/** Target duration of one warm-up window, and the bounds on its step count. */
const WINDOW_MS = 300;
const WINDOW_STEPS: readonly [number, number] = [20, 400];
const PROBE_STEPS = 10;

/**
 * True once the last 3 window means lie within `tol` of their median.
 * Note [same rule] in bench/reference/common.py mirrors this: change both together.
 */
export function steadyWindow(means: readonly number[], tol: number): boolean {
  if (means.length < 3) return false;
  const last = [...means.slice(-3)].sort((a, b) => a - b);
  return last.every((m) => Math.abs(m - last[1]) <= tol * last[1]);
}

const clamp = (v: number, [lo, hi]: readonly [number, number]): number => Math.min(hi, Math.max(lo, v));

export async function warmUp(row: Row, o: SteadyOptions): Promise<Warmup> {
  const t0 = performance.now();
  const probe = await row.run(PROBE_STEPS);
  let lastMs = (1000 * probe.seconds) / PROBE_STEPS;
  const windows: number[] = [];
  const windowMs: number[] = [];
  let steps = PROBE_STEPS;
  while (
    !steadyWindow(windowMs, o.tol) &&
    steps < o.maxWarmupSteps &&
    performance.now() - t0 < 1000 * o.maxWarmupSeconds
  ) {
    const n = clamp(Math.round(WINDOW_MS / lastMs), WINDOW_STEPS);
    const { seconds } = await row.run(n);
    lastMs = (1000 * seconds) / n;
    windows.push(n);
    windowMs.push(lastMs);
    steps += n;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { steps, seconds, steady: steadyWindow(windowMs, o.tol), windows, windowMs, lastMs };
}

/** Steps per repetition so one lasts about `seconds` at the warmed-up pace. */
export function repSteps(w: Warmup, seconds: number): number {
  return clamp(Math.round((1000 * seconds) / w.lastMs), [20, 100_000]);
}

export function median(a: readonly number[]): number {
  if (a.length === 0) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The q-quantile (0..1) of `a` by nearest rank; NaN when empty. */
export function quantile(a: readonly number[], q: number): number {
  if (a.length === 0) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/**
 * The per-repetition ratios a[k] / b[k] of two rows' throughput: repetition k
 * of every row runs back to back (interleaved), so each pair shares the
 * machine's state; the benchmark reports their median, and their spread says
 * how far to trust it.
 *
 * Note [paired ratios]: the 2-vCPU VM switches between a fast and a slow
 * mode for seconds to minutes at a time (about 70% of the fast speed, on
 * either core, mid-run too), which moves a row's whole repetition. A ratio of
 * medians can then pair a fast-mode median with a slow-mode one. Decision:
 * every ratio is the median of per-repetition ratios of two rows timed one
 * right after the other, which cancels what the two rows share. Re-measure:
 * `npm run bench:scaling` prints each ratio with the middle half of its pairs.
 */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`pairedRatios: ${a.length} repetitions against ${b.length}`);
  return a.map((v, k) => v / b[k]);
}
