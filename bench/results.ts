/**
 * The benchmark's result file and the scaling table made from it.
 *
 * `npm run bench:scaling` writes one file per run, bench/results/<date>-<machine>.json;
 * committed files are the source of the tables in docs/performance.md
 * (`npm run docs:performance`, scripts/performance-doc.ts), so no prose carries a
 * hand-copied number. The table is what scaling studies report for each worker
 * count: samples/s, the speed-up over 1 worker and the parallel efficiency
 * (speed-up / workers), for strong scaling (a fixed global batch split across the
 * workers) and weak scaling (a fixed batch per worker) alike.
 */
import { median, pairedRatios, type Warmup } from './steady.js';

export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/** One row of a run: a trainer configuration, a ceiling, an A/B variant or a reference. */
export interface Result {
  readonly id: string;
  readonly label: string;
  readonly group?: string;
  readonly ceiling?: boolean;
  readonly variant?: boolean;
  readonly workers: number;
  readonly batch: number;
  readonly warmup: Warmup;
  readonly repSteps: number;
  /** samples/s of each repetition, in order. */
  readonly reps: readonly number[];
  readonly samplesPerSecond: number;
  /** Per-step time of the timed steps (reference rows), ms. */
  readonly stepMs?: Percentiles;
  /** Forward/backward per step and rank, timed steps (trainer rows), ms. */
  readonly fwdBwdMs?: Percentiles;
  /** Share of each phase in the workers' time over the timed steps (trainer rows). */
  readonly phaseShares?: Readonly<Record<string, number>>;
}

/** A group of trainer rows, one per worker count, as the file records it. */
export interface GroupInfo {
  readonly id: string;
  /** The model, in a few words: 'MLP', 'convnet'. */
  readonly model: string;
  /** strong: a fixed global batch split across the workers; weak: a fixed batch per worker. */
  readonly scaling: 'strong' | 'weak';
  /** The reference row its "x PyTorch" column is paired with. */
  readonly reference: string;
}

/** What one run of bench:scaling writes. */
export interface ResultFile {
  readonly date: string;
  readonly machine: string;
  readonly backend: string;
  readonly groups: readonly GroupInfo[];
  readonly results: readonly Result[];
  readonly [more: string]: unknown;
}

/** Row `a` over row `b`: the median of their per-repetition ratios (Note [paired ratios] in steady.ts); NaN if either is missing. */
export function pairedRatio(results: readonly Result[], a: string | undefined, b: string | undefined): number {
  const ra = results.find((r) => r.id === a);
  const rb = results.find((r) => r.id === b);
  return ra === undefined || rb === undefined ? NaN : median(pairedRatios(ra.reps, rb.reps));
}

export const fmt = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
export const times = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');
const percent = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(0)}%` : 'n/a');

/**
 * The scaling table of a run, one line per group and worker count: samples/s (median),
 * speed-up over the group's 1-worker row and efficiency (both paired by repetition),
 * and the group's reference row ratio.
 */
export function scalingTable(file: Pick<ResultFile, 'groups' | 'results'>): string {
  const lines = [
    '| model | scaling | workers | samples/s | speed-up | efficiency | x PyTorch |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const g of file.groups) {
    const rows = file.results.filter((r) => r.group === g.id && r.ceiling !== true && r.variant !== true);
    for (const r of rows) {
      const speedUp = pairedRatio(file.results, r.id, `${g.id}-1`);
      lines.push(
        `| ${g.model} | ${g.scaling} | ${r.workers} | ${fmt(r.samplesPerSecond)} | ${times(speedUp)} | ${percent(speedUp / r.workers)} | ${times(pairedRatio(file.results, r.id, g.reference))} |`,
      );
    }
  }
  return lines.join('\n');
}

/** `2026-12-07-amd-epyc-9r45-2-cores-node-v20.20.2`: the result file's name, without .json. */
export function resultName(date: string, machine: string): string {
  const slug = machine
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${date.slice(0, 10)}-${slug}`;
}
