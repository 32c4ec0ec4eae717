/**
 * npm run bench:scaling -- [--workers 1,2,4] [--steps 200] [--reps 5] [--backend wasm] [--out DIR]
 *
 * Throughput against worker count, in one process: strong scaling (global
 * batch 64 split across workers) and weak scaling (64 per worker), beside two
 * single-threaded baselines (bench/baselines.ts). Trainers of all worker counts
 * stay alive and the repetitions are interleaved (rep 1 of every count, then rep
 * 2, ...), so slow drift of the machine hits every count alike; each figure is
 * the median over repetitions. Prints a table with the phase shares, the
 * targets with a pass/short mark, and writes JSON and an SVG chart.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, BACKEND_REQUESTS } from '../src/backend.js';
import { loadDataset } from '../src/data/dataset.js';
import { mkdirp } from '../src/io/dirs.js';
import { LIMITS, OptionError, checkChoice, checkInt } from '../src/options.js';
import { PHASES } from '../src/profile/record.js';
import { Trainer } from '../src/trainer/trainer.js';
import { leanStep, plainTfjs } from './baselines.js';
import { lineChartSvg } from './chart.js';

const BATCH = 64;
const LR = 0.003;
const WARMUP = 50;
const HIDDEN = [128, 64];
/** PyTorch on this 2-core VM, from ../shared/README.md (not re-measured here). */
const PYTORCH = { tutorialAsWritten: 7_000, bestSingleProcess: [41_000, 56_000], ddp2: 13_000 } as const;

interface Row {
  readonly workers: number;
  readonly batch: number;
  readonly samplesPerSecond: number;
  readonly reps: readonly number[];
  readonly speedup: number;
  readonly efficiency: number;
  readonly phaseShares: Readonly<Record<string, number>>;
}

function parse(): { workers: number[]; steps: number; reps: number; backend: 'wasm' | 'cpu' | 'tensorflow' | 'auto'; out: string } {
  const { values } = parseArgs({
    options: { workers: { type: 'string' }, steps: { type: 'string' }, reps: { type: 'string' }, backend: { type: 'string' }, out: { type: 'string' } },
    strict: true,
  });
  const cores = availableParallelism();
  const asked = values.workers === undefined ? [] : values.workers.split(',').map((w) => checkInt('--workers', Number(w), LIMITS.workers));
  const workers = [...new Set([...Array.from({ length: cores }, (_, i) => i + 1), ...asked])].sort((a, b) => a - b);
  return {
    workers,
    steps: checkInt('--steps', Number(values.steps ?? 200), [10, 100_000]),
    reps: checkInt('--reps', Number(values.reps ?? 5), [1, 100]),
    backend: checkChoice('--backend', values.backend ?? 'wasm', BACKEND_REQUESTS),
    out: values.out ?? 'bench/results',
  };
}

const median = (a: readonly number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function scaling(mode: 'strong' | 'weak', args: ReturnType<typeof parse>, data: ReturnType<typeof loadDataset>): Promise<Row[]> {
  const trainers = new Map<number, Trainer>();
  try {
    for (const w of args.workers) {
      const batch = mode === 'strong' ? BATCH : BATCH * w;
      const t = await Trainer.create({ workers: w, batchSize: batch, lr: LR, hidden: HIDDEN, backend: args.backend, data, profile: true });
      await t.train(WARMUP);
      trainers.set(w, t);
    }
    const reps = new Map<number, number[]>(args.workers.map((w) => [w, []]));
    for (let r = 0; r < args.reps; r++) {
      for (const [w, t] of trainers) {
        const t0 = performance.now();
        await t.train(args.steps);
        reps.get(w)?.push((args.steps * t.options.batchSize) / ((performance.now() - t0) / 1000));
      }
    }
    const base = median(reps.get(args.workers[0]) ?? [NaN]);
    return args.workers.map((w) => {
      const sps = median(reps.get(w) ?? []);
      const t = trainers.get(w);
      return {
        workers: w,
        batch: t?.options.batchSize ?? 0,
        samplesPerSecond: sps,
        reps: reps.get(w) ?? [],
        speedup: sps / base,
        efficiency: sps / base / w,
        phaseShares: t?.trace?.shares() ?? {},
      };
    });
  } finally {
    for (const t of trainers.values()) await t.close();
  }
}

const fmt = (v: number): string => Math.round(v).toLocaleString('en-US');
const pct = (v: number): string => `${(100 * v).toFixed(0)}%`;

function table(title: string, rows: readonly Row[]): string {
  const short = ['upload', 'fwd/bwd', 'export', 'wait', 'reduce', 'sgd', 'wait2'];
  const lines = [
    `${title}`,
    `| workers | batch | samples/s | speed-up | efficiency | ${short.join(' | ')} |`,
    `|---|---|---|---|---|${short.map(() => '---').join('|')}|`,
  ];
  for (const r of rows) {
    const shares = PHASES.map((p) => pct(r.phaseShares[p] ?? 0));
    lines.push(`| ${r.workers} | ${r.batch} | ${fmt(r.samplesPerSecond)} | ${r.speedup.toFixed(2)}x | ${pct(r.efficiency)} | ${shares.join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parse();
  const data = loadDataset();
  const backend = await initBackend(args.backend); // the baselines run on the main thread's engine
  const cfg = { inputSize: data.train.features, hidden: HIDDEN, numClasses: data.numClasses };
  const machine = `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}`;
  const date = new Date().toISOString();
  console.log(`worker-ddp scaling benchmark, ${date}\n${machine}, backend ${backend}, MLP 784-128-64-10, lr ${LR}`);
  console.log(`${args.steps} timed steps x ${args.reps} repetitions after ${WARMUP} warm-up steps; medians\n`);

  const plain = median(Array.from({ length: 3 }, () => plainTfjs(data, cfg, BATCH, Math.ceil(args.steps / 4), LR)));
  const lean = median(Array.from({ length: args.reps }, () => leanStep(data, cfg, BATCH, args.steps, LR)));
  tf.disposeVariables();
  console.log(`single thread, no pool: plain tfjs loop (layers + optimizer.minimize) ${fmt(plain)} samples/s; lean step ${fmt(lean)} samples/s\n`);

  const strong = await scaling('strong', args, data);
  const weak = await scaling('weak', args, data);
  console.log(table('strong scaling (global batch 64 split across workers)', strong));
  console.log();
  console.log(table('weak scaling (batch 64 per worker)', weak));
  console.log('(phase shares: mean share of worker time; wait = barrier after gradients, wait2 = barrier after the update)\n');

  const epoch = await wholeEpoch(data, args.backend);
  const at = (rows: readonly Row[], w: number): Row | undefined => rows.find((r) => r.workers === w);
  const s1 = at(strong, 1)?.samplesPerSecond ?? NaN;
  const s2 = at(strong, 2)?.samplesPerSecond ?? NaN;
  const w2 = at(weak, 2)?.speedup ?? NaN;
  const targets: [string, number, number, string][] = [
    ['1 worker / lean single-thread step (pool cost)', s1 / lean, 0.95, 'x'],
    ['1 worker / plain tfjs loop', s1 / plain, 0.95, 'x'],
    ['strong scaling, 2 workers / 1 worker', s2 / s1, 1.8, 'x'],
    ['weak scaling, 2 workers / 1 worker', w2, 1.9, 'x'],
    ['1 worker over a whole epoch, samples/s', epoch, 20_000, ''],
    ['2 workers / PyTorch tutorial as written (7,000/s)', s2 / PYTORCH.tutorialAsWritten, 3, 'x'],
    ['2 workers / PyTorch best single process (41,000/s)', s2 / PYTORCH.bestSingleProcess[0], 1, 'x'],
    ['2 workers / PyTorch DDP 2 processes (13,000/s)', s2 / PYTORCH.ddp2, 1, 'x'],
  ];
  console.log('targets (PyTorch figures: ../shared/README.md, same 2-core VM type, not re-measured here)');
  for (const [name, v, goal, unit] of targets) {
    const shown = unit === 'x' ? `${v.toFixed(2)}x` : fmt(v);
    const goalShown = unit === 'x' ? `${goal}x` : fmt(goal);
    console.log(`  ${v >= goal ? 'PASS ' : 'SHORT'} ${name}: ${shown} (target >= ${goalShown})`);
  }

  mkdirp(args.out);
  const json = join(args.out, 'scaling.json');
  const svg = join(args.out, 'scaling.svg');
  writeFileSync(json, JSON.stringify({ date, machine, backend, batch: BATCH, lr: LR, steps: args.steps, reps: args.reps, baselines: { plainTfjs: plain, leanStep: lean }, wholeEpoch1Worker: epoch, strong, weak, targets: targets.map(([name, value, goal]) => ({ name, value, goal, pass: value >= goal })) }, null, 2));
  const ideal = (rows: readonly Row[]): [number, number][] => rows.map((r) => [r.workers, r.workers * (rows[0]?.samplesPerSecond ?? 0)]);
  writeFileSync(
    svg,
    lineChartSvg(`worker-ddp throughput, ${backend}, ${machine.split(',')[1]?.trim() ?? ''} (${date.slice(0, 10)})`, [
      { name: 'strong (batch 64)', color: '#1f77b4', points: strong.map((r) => [r.workers, r.samplesPerSecond]) },
      { name: 'weak (64 per worker)', color: '#ff7f0e', points: weak.map((r) => [r.workers, r.samplesPerSecond]) },
      { name: 'ideal (strong)', color: '#1f77b4', dashed: true, points: ideal(strong) },
      { name: 'ideal (weak)', color: '#ff7f0e', dashed: true, points: ideal(weak) },
      { name: 'plain tfjs, 1 thread', color: '#888', points: [[1, plain], [args.workers[args.workers.length - 1] ?? 1, plain]] },
    ]),
  );
  console.log(`\nwrote ${json} and ${svg}`);
}

/** 1 worker, one whole epoch of 60,000 samples (938 steps), as `npm run train` runs it. */
async function wholeEpoch(data: ReturnType<typeof loadDataset>, backend: 'wasm' | 'cpu' | 'tensorflow' | 'auto'): Promise<number> {
  await using t = await Trainer.create({ workers: 1, batchSize: BATCH, lr: LR, hidden: HIDDEN, backend, data });
  const t0 = performance.now();
  await t.train(t.stepsPerEpoch);
  return data.train.count / ((performance.now() - t0) / 1000);
}

main().catch((err: unknown) => {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = err instanceof OptionError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true ? 2 : 1;
});
