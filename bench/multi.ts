/**
 * npm run bench:multi -- [--steps 300] [--reps 3]
 *
 * One machine, loopback: 1 process x 1 worker, 1 process x 2 workers and
 * 2 processes x 1 worker (mpirun, the addon; spinning while MPI waits, as
 * Open MPI does by default, and yielding the core instead), the MLP at global batch 64 on
 * MNIST. Each configuration is a fresh run (child processes), repetitions
 * interleaved (rep 1 of every configuration, then rep 2, ...); each figure is
 * the median over repetitions. Per configuration: samples/s and the mean
 * all-reduce time per step and worker (the profile's 'reduce' phase: the
 * in-process reduce-scatter, plus, across processes, the MPI allreduce of the
 * worker's slice and worker 0's loss sums). Writes bench/results/multi.json.
 *
 * `--child` is the measuring side: one process of a configuration.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ProcessGroup, underMpirun } from '../src/collective/group.js';
import { loadMpi } from '../src/collective/native.js';
import { checkInt } from '../src/options.js';
import { PHASES } from '../src/profile/record.js';
import { Trainer } from '../src/trainer/trainer.js';

const WARMUP = 50;
const REDUCE = PHASES.indexOf('reduce');

interface Measure {
  readonly samplesPerSecond: number;
  /** Mean of the 'reduce' phase per step and worker, ms. */
  readonly allreduceMs: number;
  readonly stepMs: number;
}

const { values } = parseArgs({
  options: {
    steps: { type: 'string' },
    reps: { type: 'string' },
    workers: { type: 'string' },
    child: { type: 'boolean' },
  },
});
const steps = checkInt('--steps', Number(values.steps ?? 300), [10, 100_000]);

if (values.child === true) await child(checkInt('--workers', Number(values.workers ?? 1), [1, 256]));
else orchestrate(checkInt('--reps', Number(values.reps ?? 3), [1, 100]));

/** One process of a configuration: warm up, time `steps` steps, and (rank 0) print a Measure as JSON. */
async function child(workers: number): Promise<void> {
  const group = underMpirun() ? ProcessGroup.join(workers) : undefined;
  const trainer = await Trainer.create({ workers, batchSize: 64, lr: 0.003, backend: 'wasm', profile: true, group });
  try {
    await trainer.train(WARMUP);
    const trace = trainer.trace;
    if (trace === undefined) throw new Error('profiling is off');
    const before = trace.phaseTotals[REDUCE];
    const t0 = performance.now();
    await trainer.train(steps);
    const seconds = (performance.now() - t0) / 1000;
    const m: Measure = {
      samplesPerSecond: (steps * 64) / seconds,
      allreduceMs: (trace.phaseTotals[REDUCE] - before) / (steps * workers),
      stepMs: (seconds * 1000) / steps,
    };
    if ((group?.rank ?? 0) === 0) console.log(JSON.stringify(m));
  } finally {
    await trainer.close();
    group?.finalize();
  }
}

function orchestrate(reps: number): void {
  const loaded = loadMpi();
  if (loaded.mpi === undefined) throw new Error(`bench:multi needs the MPI addon: ${loaded.reason}`);
  const self = fileURLToPath(import.meta.url);
  const node = [process.execPath, self, '--child', '--steps', String(steps)];
  const mpirun = ['mpirun', '--allow-run-as-root', '--oversubscribe', '-np', '2'];
  const configs = [
    { name: '1 process x 1 worker', command: [...node, '--workers', '1'] },
    { name: '1 process x 2 workers', command: [...node, '--workers', '2'] },
    { name: '2 processes x 1 worker (mpirun, loopback)', command: [...mpirun, ...node, '--workers', '1'] },
    {
      name: '2 processes x 1 worker, mpi_yield_when_idle 1',
      command: [...mpirun, '--mca', 'mpi_yield_when_idle', '1', ...node, '--workers', '1'],
    },
  ];
  const runs: Measure[][] = configs.map(() => []);
  for (let rep = 0; rep < reps; rep++) {
    configs.forEach((c, i) => {
      const r = spawnSync(c.command[0], c.command.slice(1), { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${c.name}: exit ${r.status}\n${r.stderr}`);
      runs[i].push(JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Measure);
    });
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rows = configs.map((c, i) => ({
    config: c.name,
    samplesPerSecond: median(runs[i].map((m) => m.samplesPerSecond)),
    stepMs: median(runs[i].map((m) => m.stepMs)),
    allreduceMs: median(runs[i].map((m) => m.allreduceMs)),
    reps: runs[i],
  }));
  const base = rows[0].samplesPerSecond;
  console.log(
    `bench:multi, MLP 784-128-64-10, batch 64, ${steps} steps after ${WARMUP}, median of ${reps}, ${cpus().length} cores, ${new Date().toISOString()}`,
  );
  console.log('| | samples/s | vs 1 worker | step | all-reduce per step |\n|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.config} | ${r.samplesPerSecond.toFixed(0)} | ${(r.samplesPerSecond / base).toFixed(2)}x | ${r.stepMs.toFixed(2)} ms | ${(r.allreduceMs * 1000).toFixed(0)} µs |`,
    );
  }
  const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'multi.json'),
    `${JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, steps, warmup: WARMUP, rows }, null, 2)}\n`,
  );
}
