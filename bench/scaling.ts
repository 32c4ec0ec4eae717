/**
 * npm run bench:scaling -- [--workers 1,2,4] [--reps 9] [--rep-seconds 1] [--tol 0.05]
 *   [--max-warmup-steps 6000] [--max-warmup-seconds 30] [--spin 0,...] [--apart generic,convnet] [--young 48,...]
 *   [--rows ID,...] [--backend wasm] [--out DIR]
 *   [--python PATH]   (the interpreter for the PyTorch rows; default: the first of python3, /usr/bin/python3 that imports torch)
 *
 * Steady-state throughput, in one process: strong scaling (global batch 64
 * split across workers) and weak scaling (64 per worker) against worker count,
 * beside two single-thread baselines (baselines.ts) and the PyTorch references
 * (reference/*.py, when a python can import torch). Every row is warmed up until
 * its per-step time is steady, then all rows are timed in interleaved
 * repetitions (steady.ts); each figure is the median over repetitions, and
 * every ratio ("vs 1 worker", "x PyTorch") the median of per-repetition
 * ratios measured in this same run (Note [paired ratios] in steady.ts). `--spin` adds 2-worker
 * strong-scaling rows with other barrier spin caps (options.barrierSpinMs;
 * default: one row that never spins), an A/B of the spin policy interleaved
 * in the same process; `--apart` adds, for the groups named, a 2-worker row whose
 * workers leave their scavenges to V8 (options.scavengeTogether false), an A/B
 * of Note [one pause, not two] in src/collective/scavenge.ts; `--young` adds generic-path
 * 2-worker rows with other young generations (options.youngGenerationMb; default:
 * one row at V8's 48 MB), an A/B of Note [young generation] in src/trainer/pool.ts.
 * Prints the tables, the
 * targets with a pass/short mark, and writes JSON and an SVG chart.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, BACKEND_REQUESTS, type BackendRequest } from '../src/backend.js';
import { loadDataset, type Dataset } from '../src/data/dataset.js';
import { mkdirp } from '../src/io/dirs.js';
import { layersSource } from '../src/fit/spec.js';
import { optimizerFromTfjs } from '../src/optim/spec.js';
import {
  DEFAULT_YOUNG_GENERATION_MB,
  LIMITS,
  OptionError,
  checkChoice,
  checkInt,
  type TrainerOptions,
} from '../src/options.js';
import { PHASES } from '../src/profile/record.js';
import { Trainer } from '../src/trainer/trainer.js';
import { TUTORIAL_LR, TUTORIAL_MLP, leanStepRow, plainTfjsRow } from './baselines.js';
import { ceilingRow } from './ceiling.js';
import { lineChartSvg } from './chart.js';
import { findTorchPython, torchRow, type Found } from './pytorch.js';
import {
  fmt,
  pairedRatio,
  resultName,
  scalingTable,
  times as x,
  type GroupInfo,
  type Percentiles,
  type Result,
} from './results.js';
import {
  median,
  pairedRatios,
  quantile,
  repSteps,
  warmUp,
  type Row,
  type SteadyOptions,
  type Warmup,
} from './steady.js';

const BATCH = 64;

type Phase = (typeof PHASES)[number];

/**
 * A family of trainer rows, one per worker count. Speed-ups are against the
 * group's 1-worker row, "x PyTorch" against its reference row.
 *
 * Note [adding a row]: a model the trainer can run becomes rows of this
 * benchmark by adding a group here: its TrainerOptions (e.g. the generic
 * model path's model, once it lands), its batch per worker count, its target
 * for 2 workers / 1 worker, and the reference row it is compared with (add a
 * reference script to bench/reference/ and a REFERENCES entry if none fits;
 * the convnet's is there already).
 */
interface Group extends GroupInfo {
  readonly title: string;
  readonly batch: (workers: number) => number;
  readonly options: TrainerOptions;
  readonly target2x: number;
  readonly reference: ReferenceId;
  /** A LayersModel module under examples/ trained on the generic path instead of the MLP. */
  readonly example?: string;
}

const GROUPS: readonly Group[] = [
  {
    id: 'strong',
    model: 'MLP',
    scaling: 'strong',
    title: 'MLP, strong scaling (global batch 64 split across workers)',
    batch: () => BATCH,
    options: { hidden: TUTORIAL_MLP.hidden, lr: TUTORIAL_LR },
    target2x: 1.8,
    reference: 'torch-mlp',
  },
  {
    id: 'weak',
    model: 'MLP',
    scaling: 'weak',
    title: 'MLP, weak scaling (batch 64 per worker)',
    batch: (w) => BATCH * w,
    options: { hidden: TUTORIAL_MLP.hidden, lr: TUTORIAL_LR },
    target2x: 1.9,
    reference: 'torch-mlp',
  },
  // The same MLP from a module (fitParallel, --model): the path of the built-in one, from examples/mlp.js.
  {
    id: 'generic',
    model: 'MLP as a tf.sequential',
    scaling: 'strong',
    title: 'MLP as a tf.sequential, generic path (examples/mlp.js), strong scaling',
    batch: () => BATCH,
    options: {},
    target2x: 1.8,
    reference: 'torch-mlp',
    example: 'mlp.js',
  },
  {
    id: 'convnet',
    model: 'convnet',
    scaling: 'strong',
    title: 'convnet (examples/convnet.js), generic path, strong scaling',
    batch: () => BATCH,
    options: {},
    target2x: 1.9,
    reference: 'torch-convnet',
    example: 'convnet.js',
  },
];

/** A Trainer for a group: the MLP, or the group's example model with its compiled optimizer. */
async function createTrainer(g: Group, options: TrainerOptions): Promise<Trainer> {
  if (g.example === undefined) return Trainer.create({ ...g.options, ...options });
  const url = new URL(`../../examples/${g.example}`, import.meta.url).href;
  const { default: build } = (await import(url)) as { default: () => tf.LayersModel };
  const model = build();
  return Trainer.create(
    { ...options, optimizer: optimizerFromTfjs(model.optimizer) },
    layersSource(model, { targets: 'onehot' }),
  );
}

const REFERENCES = {
  'torch-mlp': { script: 'mlp', label: 'PyTorch MLP, 1 thread, data preloaded (reference/mlp.py)' },
  'torch-convnet': { script: 'convnet', label: 'PyTorch convnet, 1 thread, data preloaded (reference/convnet.py)' },
} as const;
type ReferenceId = keyof typeof REFERENCES;

/** A row as the benchmark sees it: what to open, and how to label and compare it. */
interface RowSpec {
  readonly id: string;
  readonly label: string;
  readonly group?: Group;
  /** A group's ceiling row (Note [ceiling] in ceiling.ts): processes, not workers. */
  readonly ceiling?: boolean;
  readonly workers: number;
  readonly batch: number;
  /** The row this one is compared with, if it should be timed right after it (Note [timing order]). */
  readonly after?: string;
  /** An A/B variant of a group's row (--apart): in the tables, not on the chart. */
  readonly variant?: boolean;
  /** The row, or a reason it is skipped in this run. */
  readonly open: () => Promise<OpenRow | string>;
}

/** An open row; trainer rows also give the per-step phase durations of their timed steps. */
interface OpenRow extends Row {
  /** Marks the end of the warm-up: phases() covers later steps only. */
  startTiming?(): void;
  phases?(): Record<Phase, number[]>;
  /** What the row turned out to run (the PyTorch rows: the torch version), for the label. */
  readonly detail?: string;
}

interface Args extends SteadyOptions {
  readonly workers: number[];
  readonly spin: number[];
  readonly apart: readonly Group[];
  readonly young: number[];
  readonly reps: number;
  readonly repSeconds: number;
  readonly rows: ReadonlySet<string> | undefined;
  readonly backend: BackendRequest;
  readonly out: string;
  readonly python: string | undefined;
}

function parse(): Args {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string' },
      spin: { type: 'string' },
      apart: { type: 'string' },
      young: { type: 'string' },
      reps: { type: 'string' },
      'rep-seconds': { type: 'string' },
      tol: { type: 'string' },
      'max-warmup-steps': { type: 'string' },
      'max-warmup-seconds': { type: 'string' },
      rows: { type: 'string' },
      backend: { type: 'string' },
      out: { type: 'string' },
      python: { type: 'string' },
    },
    strict: true,
  });
  const cores = availableParallelism();
  const asked =
    values.workers === undefined
      ? []
      : values.workers.split(',').map((w) => checkInt('--workers', Number(w), LIMITS.workers));
  const positive = (name: string, v: string | undefined, dflt: number, max: number): number => {
    const x = Number(v ?? dflt);
    if (!(x > 0 && x <= max)) throw new OptionError(`${name} must be a number in (0, ${max}], got ${v}`);
    return x;
  };
  return {
    workers: [...new Set([...Array.from({ length: cores }, (_, i) => i + 1), ...asked])].sort((a, b) => a - b),
    spin: (values.spin ?? '0')
      .split(',')
      .filter((v) => v !== '')
      .map((v) => {
        const ms = Number(v);
        if (!(ms >= LIMITS.barrierSpinMs[0] && ms <= LIMITS.barrierSpinMs[1]))
          throw new OptionError(`--spin values must be numbers from 0 to 1000 (ms), got ${v}`);
        return ms;
      }),
    apart: (values.apart ?? 'generic,convnet')
      .split(',')
      .filter((v) => v !== '')
      .map((v) => {
        const g = GROUPS.find((gr) => gr.id === v);
        if (g === undefined)
          throw new OptionError(`--apart: no group ${v}; the groups are ${GROUPS.map((gr) => gr.id).join(', ')}`);
        return g;
      }),
    young: (values.young ?? '48')
      .split(',')
      .filter((v) => v !== '')
      .map((v) => checkInt('--young values', Number(v), LIMITS.youngGenerationMb)),
    reps: checkInt('--reps', Number(values.reps ?? 9), [1, 100]),
    repSeconds: positive('--rep-seconds', values['rep-seconds'], 1, 600),
    tol: positive('--tol', values.tol, 0.05, 1),
    maxWarmupSteps: checkInt('--max-warmup-steps', Number(values['max-warmup-steps'] ?? 6000), [30, 1_000_000]),
    maxWarmupSeconds: positive('--max-warmup-seconds', values['max-warmup-seconds'], 30, 3600),
    rows: values.rows === undefined ? undefined : new Set(values.rows.split(',')),
    backend: checkChoice('--backend', values.backend ?? 'wasm', BACKEND_REQUESTS),
    out: values.out ?? 'bench/results',
    python: values.python,
  };
}

function trainerRow(data: Dataset, backend: BackendRequest, g: Group, options: TrainerOptions): () => Promise<OpenRow> {
  return async () => {
    const t = await createTrainer(g, { backend, data, profile: true, ...options });
    let after = 0;
    return {
      samplesPerStep: t.options.batchSize,
      async run(steps) {
        const t0 = performance.now();
        await t.train(steps);
        return { seconds: (performance.now() - t0) / 1000 };
      },
      close: () => t.close(),
      startTiming() {
        after = t.stepsDone;
      },
      phases() {
        const trace = t.trace;
        return Object.fromEntries(PHASES.map((p) => [p, trace?.durations(p, after) ?? []])) as Record<Phase, number[]>;
      },
    };
  };
}

/** A PyTorch row labelled with the torch it runs: runs with Debian's 1.13 and PyPI's 2.x differ by up to 2.6x. */
async function torchRowWithDetail(python: string, script: 'mlp' | 'convnet'): Promise<OpenRow> {
  const row = await torchRow(python, script);
  return { ...row, detail: `torch ${row.info.torch}` };
}

function registry(args: Args, data: Dataset, found: Found): RowSpec[] {
  const rows: RowSpec[] = [
    {
      id: 'lean',
      label: "this library's step on the main thread, no pool",
      workers: 1,
      batch: BATCH,
      open: async () => leanStepRow(data, TUTORIAL_MLP, BATCH, TUTORIAL_LR),
    },
    {
      id: 'plain',
      label: 'plain tfjs loop (tf.sequential + optimizer.minimize), main thread',
      workers: 1,
      batch: BATCH,
      open: async () => plainTfjsRow(data, TUTORIAL_MLP, BATCH, TUTORIAL_LR),
    },
  ];
  for (const g of GROUPS) {
    for (const w of args.workers) {
      rows.push({
        id: `${g.id}-${w}`,
        label: `${g.id}, ${w} worker${w > 1 ? 's' : ''}`,
        group: g,
        workers: w,
        batch: g.batch(w),
        open: trainerRow(data, args.backend, g, { workers: w, batchSize: g.batch(w) }),
      });
    }
    for (const w of args.workers.filter((n) => n > 1)) {
      const shard = Math.ceil(g.batch(w) / w);
      const label = `${g.id}, ${w} processes of ${shard} samples, unsynchronised (ceiling)`;
      rows.push({
        id: `${g.id}-${w}-ceiling`,
        label,
        group: g,
        ceiling: true,
        workers: w,
        batch: g.batch(w),
        open: async () => ceilingRow(g.example ?? 'mlp', w, shard, g.batch(w), args.backend),
      });
    }
  }
  const strong = GROUPS[0];
  for (const ms of args.spin) {
    rows.push({
      id: `strong-2-spin${ms}`,
      label: `strong, 2 workers, barrier spin cap ${ms} ms (A/B)`,
      workers: 2,
      batch: BATCH,
      after: 'strong-2',
      open: trainerRow(data, args.backend, strong, { workers: 2, batchSize: BATCH, barrierSpinMs: ms }),
    });
  }
  for (const g of args.apart) {
    rows.push({
      id: `${g.id}-2-apart`,
      label: `${g.id}, 2 workers, scavenges left to V8 (A/B)`,
      group: g,
      variant: true,
      workers: 2,
      batch: g.batch(2),
      after: `${g.id}-2`,
      open: trainerRow(data, args.backend, g, { workers: 2, batchSize: g.batch(2), scavengeTogether: false }),
    });
  }
  const generic = GROUPS.find((g) => g.id === 'generic') as Group;
  for (const mb of args.young) {
    rows.push({
      id: `generic-2-young${mb}`,
      label: `generic, 2 workers, young generation ${mb} MB (A/B)`,
      group: generic,
      variant: true,
      workers: 2,
      batch: generic.batch(2),
      after: 'generic-2',
      open: trainerRow(data, args.backend, generic, { workers: 2, batchSize: generic.batch(2), youngGenerationMb: mb }),
    });
  }
  for (const [id, ref] of Object.entries(REFERENCES)) {
    const first = GROUPS.find((g) => g.reference === id);
    rows.push({
      id,
      label: ref.label,
      workers: 1,
      batch: BATCH,
      after: first === undefined ? undefined : `${first.id}-2`,
      open: async () => ('skipped' in found ? found.skipped : torchRowWithDetail(found.python, ref.script)),
    });
  }
  const unknown = [...(args.rows ?? [])].filter((id) => !rows.some((r) => r.id === id));
  if (unknown.length > 0)
    throw new OptionError(`--rows: no row ${unknown.join(', ')}; the rows are ${rows.map((r) => r.id).join(', ')}`);
  return rows.filter((r) => args.rows === undefined || args.rows.has(r.id));
}

const pcts = (a: readonly number[]): Percentiles | undefined =>
  a.length === 0 ? undefined : { p50: quantile(a, 0.5), p90: quantile(a, 0.9), p99: quantile(a, 0.99) };

/**
 * Note [timing order]: a ratio pairs two rows' throughput in one repetition
 * (Note [paired ratios]), which cancels the machine's phases only as far as the
 * two rows were timed close together. The phases here are seconds long: our
 * rows move by ±30% within seconds, and what a page fault costs changes with
 * them (the swings of 3-5x that PyTorch showed before its allocator was tuned,
 * Note [glibc's allocator] in reference/common.py). So a row compared with another (RowSpec.after: each PyTorch row with the
 * first 2-worker row compared with it, each A/B row with the row it varies) is
 * timed right after it, instead of after every other row (10 s later for the
 * MLP), and odd repetitions run the order backwards, so that a drift within a
 * repetition favours neither row of a pair. The tables keep the registry's order.
 */
function timingOrder(specs: readonly RowSpec[]): RowSpec[] {
  const order = specs.filter((s) => s.after === undefined);
  for (const s of specs.filter((r) => r.after !== undefined)) {
    const partner = order.findIndex((r) => r.id === s.after);
    order.splice(partner < 0 ? order.length : partner + 1, 0, s);
  }
  return order;
}

async function measure(
  args: Args,
  specs: readonly RowSpec[],
): Promise<{ results: Result[]; skipped: Map<string, string> }> {
  const open = new Map<RowSpec, OpenRow>();
  const skipped = new Map<string, string>();
  const warm = new Map<RowSpec, Warmup>();
  const stepMs = new Map<RowSpec, number[]>();
  const reps = new Map<RowSpec, number[]>();
  try {
    for (const s of specs) {
      const r = await s.open();
      if (typeof r === 'string') {
        skipped.set(s.id, r);
        console.log(`  ${s.id}: skipped: ${r}`);
        continue;
      }
      open.set(s, r);
      const w = await warmUp(r, args);
      r.startTiming?.();
      warm.set(s, w);
      stepMs.set(s, []);
      reps.set(s, []);
      console.log(
        `  ${s.id}: warm-up ${w.steps} steps, ${w.seconds.toFixed(1)} s, ${w.steady ? 'steady' : 'NOT steady at the cap'} (window means ${w.windowMs.map((m) => m.toFixed(2)).join(' ')} ms)`,
      );
    }
    const order = timingOrder([...open.keys()]);
    for (let k = 0; k < args.reps; k++) {
      for (const s of k % 2 === 0 ? order : [...order].reverse()) {
        const r = open.get(s) as OpenRow;
        const n = repSteps(warm.get(s) as Warmup, args.repSeconds);
        const { seconds, stepMs: ms } = await r.run(n);
        reps.get(s)?.push((n * r.samplesPerStep) / seconds);
        if (ms !== undefined) stepMs.get(s)?.push(...ms);
      }
    }
    const results = [...open].map(([s, r]): Result => {
      const phases = r.phases?.();
      const totals = phases === undefined ? undefined : PHASES.map((p) => phases[p].reduce((a, b) => a + b, 0));
      const all = totals?.reduce((a, b) => a + b, 0) ?? 0;
      const w = warm.get(s) as Warmup;
      return {
        id: s.id,
        label: r.detail === undefined ? s.label : `${s.label}, ${r.detail}`,
        group: s.group?.id,
        ceiling: s.ceiling,
        variant: s.variant,
        workers: s.workers,
        batch: s.batch,
        warmup: w,
        repSteps: repSteps(w, args.repSeconds),
        reps: reps.get(s) ?? [],
        samplesPerSecond: median(reps.get(s) ?? []),
        stepMs: pcts(stepMs.get(s) ?? []),
        fwdBwdMs: phases === undefined ? undefined : pcts(phases['forward/backward']),
        phaseShares:
          totals === undefined ? undefined : Object.fromEntries(PHASES.map((p, i) => [p, totals[i] / (all || 1)])),
      };
    });
    return { results, skipped };
  } finally {
    for (const r of open.values()) await r.close();
  }
}

const pct = (v: number): string => `${(100 * v).toFixed(0)}%`;
const ms = (p: Percentiles | undefined): string =>
  p === undefined
    ? '| | | |'
    : `| ${p.p50.toFixed(2)} | ${p.p90.toFixed(2)} | ${p.p99.toFixed(2)} | ${(p.p99 / p.p50).toFixed(2)} |`;

/** Per-repetition throughput ratios of row `a` over row `b` (Note [paired ratios] in steady.ts); empty if either is missing. */
function pairs(results: readonly Result[], a: string | undefined, b: string | undefined): number[] {
  const ra = results.find((r) => r.id === a);
  const rb = results.find((r) => r.id === b);
  return ra === undefined || rb === undefined ? [] : pairedRatios(ra.reps, rb.reps);
}

/** The middle half of the per-repetition ratios of row `a` over row `b`, as text ('' if either is missing). */
function spread(results: readonly Result[], a: string, b: string): string {
  const q = pairs(results, a, b);
  return q.length === 0
    ? ''
    : `; middle half of the ${q.length} reps' ratios ${quantile(q, 0.25).toFixed(2)}-${quantile(q, 0.75).toFixed(2)}`;
}

/** Above every table: the Node that ran it and the kernels (one build: relaxed-SIMD FMA was not kept, docs/performance.md). */
const TABLE_HEADER = `Node ${process.version}, kernels: plain wasm SIMD (no FMA)`;

function tables(results: readonly Result[]): string {
  const base = (r: Result): number => (r.group === undefined ? NaN : pairedRatio(results, r.id, `${r.group}-1`));
  const ref = (r: Result): number => pairedRatio(results, r.id, GROUPS.find((gr) => gr.id === r.group)?.reference);
  const lines = [
    TABLE_HEADER,
    '| row | threads | batch | warm-up (steps, s) | samples/s (median) | min-max over reps | vs 1 worker (paired) | x PyTorch (paired) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const wu = `${r.warmup.steps}, ${r.warmup.seconds.toFixed(1)}${r.warmup.steady ? '' : ' (cap)'}`;
    const range = `${fmt(Math.min(...r.reps))}-${fmt(Math.max(...r.reps))}`;
    lines.push(
      `| ${r.label} | ${r.workers} | ${r.batch} | ${wu} | ${fmt(r.samplesPerSecond)} | ${range} | ${x(base(r))} | ${x(ref(r))} |`,
    );
  }
  const short = ['upload', 'fwd/bwd', 'export', 'wait', 'reduce', 'sgd', 'wait2', 'gc'];
  lines.push(
    '',
    'per step over the timed steps, ms: forward/backward per worker (trainer rows) or the whole step (PyTorch rows); phase shares of worker time',
    TABLE_HEADER,
    `| row | p50 | p90 | p99 | p99/p50 | ${short.join(' | ')} |`,
    `|---|---|---|---|---|${short.map(() => '---').join('|')}|`,
  );
  for (const r of results) {
    if (r.fwdBwdMs === undefined && r.stepMs === undefined) continue;
    const shares = r.phaseShares === undefined ? short.map(() => '') : PHASES.map((p) => pct(r.phaseShares?.[p] ?? 0));
    lines.push(`| ${r.id} ${ms(r.fwdBwdMs ?? r.stepMs)} ${shares.join(' | ')} |`);
  }
  lines.push('(wait = barrier after the gradients, wait2 = barrier after the update, gc = scavenging together)');
  return lines.join('\n');
}

/** 1 worker, its first whole epoch of 60,000 samples from a cold start, as `npm run train`'s epoch 1 runs it. */
async function coldEpoch(data: Dataset, backend: BackendRequest): Promise<number> {
  await using t = await Trainer.create({
    workers: 1,
    batchSize: BATCH,
    lr: TUTORIAL_LR,
    hidden: TUTORIAL_MLP.hidden,
    backend,
    data,
  });
  const t0 = performance.now();
  await t.train(t.stepsPerEpoch);
  return data.train.count / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const args = parse();
  const python = findTorchPython(args.python);
  const data = loadDataset();
  const specs = registry(args, data, python);
  const backend = await initBackend(args.backend); // the single-thread rows run on the main thread's engine
  const machine = `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}`;
  const date = new Date().toISOString();
  const load = (): string =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  const loadBefore = load();
  console.log(
    `worker-ddp scaling benchmark, ${date}\n${machine}, backend ${backend}, MLP 784-128-64-10, lr ${TUTORIAL_LR}; load average ${loadBefore}`,
  );
  console.log(
    `steady state: warm-up until the last 3 window means are within ${pct(args.tol)} of their median (cap ${args.maxWarmupSteps} steps / ${args.maxWarmupSeconds} s), ` +
      `then ${args.reps} interleaved repetitions of ~${args.repSeconds} s per row; medians, ratios paired by repetition\n`,
  );
  const { results, skipped } = await measure(args, specs);
  tf.disposeVariables();
  const epoch = args.rows === undefined || args.rows.has('strong-1') ? await coldEpoch(data, args.backend) : NaN;
  const loadAfter = load();
  console.log(
    `\nscaling (speed-up and efficiency paired by repetition; efficiency = speed-up / workers)\n${TABLE_HEADER}\n${scalingTable({ groups: GROUPS, results })}\n\n${tables(results)}\n`,
  );

  const sps = (id: string): number => results.find((r) => r.id === id)?.samplesPerSecond ?? NaN;
  /** [name, value, goal, unit, what else to print]: unit 'x' is a paired ratio of rows a / b. */
  type Target = readonly [string, number, number, 'x' | '' | 'max', string];
  const paired = (name: string, a: string, b: string, goal: number): Target => [
    name,
    pairedRatio(results, a, b),
    goal,
    'x',
    spread(results, a, b),
  ];
  const targets: Target[] = [
    paired('1 worker / lean single-thread step (pool cost)', 'strong-1', 'lean', 0.95),
    ...GROUPS.map((g) => paired(`${g.id}: 2 workers / 1 worker`, `${g.id}-2`, `${g.id}-1`, g.target2x)),
    paired('strong: 2 workers / PyTorch MLP, 1 thread, this run', 'strong-2', 'torch-mlp', 1),
    [
      'strong, 2 workers: forward/backward p99/p50',
      ((p) => (p === undefined ? NaN : p.p99 / p.p50))(results.find((r) => r.id === 'strong-2')?.fwdBwdMs),
      2,
      'max',
      '',
    ],
    ['1 worker over its first epoch from a cold start, samples/s', epoch, 20_000, '', ''],
  ];
  console.log('targets');
  for (const [name, v, goal, unit, more] of targets) {
    const pass = unit === 'max' ? v <= goal : v >= goal;
    const mark = Number.isFinite(v) ? (pass ? 'PASS ' : 'SHORT') : 'n/a  ';
    const shown = unit === '' ? fmt(v) : Number.isFinite(v) ? `${v.toFixed(2)}${unit === 'x' ? 'x' : ''}` : 'n/a';
    console.log(
      `  ${mark} ${name}: ${shown} (target ${unit === 'max' ? '<=' : '>='} ${unit === '' ? fmt(goal) : goal}${unit === 'x' ? 'x' : ''}${more})`,
    );
  }
  console.log(
    "ceilings (Note [ceiling] in bench/ceiling.ts: 2 processes, each one worker's share, never waiting for the other)",
  );
  for (const g of GROUPS) {
    const [trainer, ceiling, one] = [`${g.id}-2`, `${g.id}-2-ceiling`, `${g.id}-1`];
    console.log(
      `  ${g.id}: 2 processes / 1 worker (what the machine allows): ${x(pairedRatio(results, ceiling, one))}; 2 workers / 2 processes (what synchronising costs): ${x(pairedRatio(results, trainer, ceiling))}`,
    );
  }
  for (const ms of args.spin) {
    const id = `strong-2-spin${ms}`;
    console.log(
      `  A/B: strong, 2 workers, default spin cap / spin cap ${ms} ms: ${x(pairedRatio(results, 'strong-2', id))} (same run, interleaved, paired)`,
    );
  }
  for (const g of args.apart) {
    console.log(
      `  A/B: ${g.id}, 2 workers, scavenging together / apart: ${x(pairedRatio(results, `${g.id}-2`, `${g.id}-2-apart`))}${spread(results, `${g.id}-2`, `${g.id}-2-apart`)} (same run, interleaved, paired)`,
    );
  }
  for (const mb of args.young) {
    const id = `generic-2-young${mb}`;
    console.log(
      `  A/B: generic, 2 workers, young generation ${DEFAULT_YOUNG_GENERATION_MB} MB / ${mb} MB: ${x(pairedRatio(results, 'generic-2', id))}${spread(results, 'generic-2', id)} (same run, interleaved, paired)`,
    );
  }
  for (const [id, why] of skipped) console.log(`  note: ${id} skipped: ${why}`);
  console.log(`load average before ${loadBefore}, after ${loadAfter} (on a busy machine, compare nothing)`);

  mkdirp(args.out);
  const name = resultName(date, machine);
  const json = join(args.out, `${name}.json`);
  const svg = join(args.out, `${name}.svg`);
  const groups: GroupInfo[] = GROUPS.map(({ id, model, scaling, reference }) => ({ id, model, scaling, reference }));
  const torch = results.find((r) => r.id === 'torch-mlp');
  writeFileSync(
    json,
    JSON.stringify(
      {
        date,
        machine,
        backend,
        groups,
        loadAverage: { before: loadBefore, after: loadAfter },
        lr: TUTORIAL_LR,
        protocol: {
          tol: args.tol,
          maxWarmupSteps: args.maxWarmupSteps,
          maxWarmupSeconds: args.maxWarmupSeconds,
          reps: args.reps,
          repSeconds: args.repSeconds,
        },
        results,
        skipped: Object.fromEntries(skipped),
        coldEpoch1Worker: epoch,
        targets: targets.map(([name, value, goal, unit]) => ({
          name,
          value,
          goal,
          pass: unit === 'max' ? value <= goal : value >= goal,
        })),
      },
      null,
      2,
    ),
  );
  const line = (id: string): [number, number][] =>
    results
      .filter((r) => r.group === id && r.ceiling !== true && r.variant !== true)
      .map((r) => [r.workers, r.samplesPerSecond]);
  const ideal = (id: string): [number, number][] => line(id).map(([w]) => [w, w * sps(`${id}-1`)]);
  const flat = (v: number): [number, number][] => [
    [1, v],
    [args.workers[args.workers.length - 1] ?? 1, v],
  ];
  writeFileSync(
    svg,
    lineChartSvg(
      `worker-ddp steady-state throughput, ${backend}, ${machine.split(',')[1]?.trim() ?? ''} (${date.slice(0, 10)})`,
      [
        { name: 'strong (batch 64)', color: '#1f77b4', points: line('strong') },
        { name: 'weak (64 per worker)', color: '#ff7f0e', points: line('weak') },
        { name: 'ideal (strong)', color: '#1f77b4', dashed: true, points: ideal('strong') },
        { name: 'ideal (weak)', color: '#ff7f0e', dashed: true, points: ideal('weak') },
        ...(Number.isFinite(sps('plain'))
          ? [{ name: 'plain tfjs, 1 thread', color: '#888', points: flat(sps('plain')) }]
          : []),
        ...(torch === undefined
          ? []
          : [{ name: 'PyTorch MLP, 1 thread', color: '#d62728', points: flat(torch.samplesPerSecond) }]),
      ],
    ),
  );
  console.log(`\nwrote ${json} and ${svg}`);
}

main().catch((err: unknown) => {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode =
    err instanceof OptionError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true ? 2 : 1;
});
