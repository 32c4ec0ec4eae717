// The CLI's TensorBoard log (--logdir, src/cli/tensorboard-log.ts), read back by the real
// TensorBoard (test/fixtures/tb_read.py): a 2-worker run's train and val scalars equal its
// --json lines and metrics.json at every epoch, its step losses add up to metrics.json's
// windows and epoch losses, its learning rates follow --lr-schedule, each worker thread has
// its phase times; a run stopped by Ctrl-C holds every step up to its checkpoint; a resumed
// run (after Ctrl-C, a failed step inside an epoch, or with a larger --epochs) continues the
// steps in new files beside the old, every step once, the values those of a run never stopped; a folder that cannot be written is one warning; --logdir none writes
// nothing; bad flags exit 2 with one line. Without TensorBoard the read-back tests skip (or,
// under CI=true, fail), as in test/tensorboard.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PHASES } from '../dist/src/profile/record.js';
import { OptionError, Trainer } from '../dist/src/index.js';
import type { EpochJson } from '../dist/src/cli/progress.js';
import type { Metrics } from '../dist/src/io/metrics.js';
import { rejection, runCli as runCliAsync, subset } from './helpers.js';
import { TRAIN, expectBadInput, runCli, smallMnist, startCli } from './predict-fixtures.js';
import { pythonOrReport } from './python.js';

const READER = fileURLToPath(new URL('fixtures/tb_read.py', import.meta.url));
const FOUND = pythonOrReport(['tensorboard']);
const missing = FOUND === undefined ? 'no Python with tensorboard' : undefined;

const BATCH = 8;
const STEPS = 60; // per epoch: 480 samples
const EPOCHS = 2;
const LR = 0.05;
const WARMUP = 10;
const PHASE_TAGS = [
  'upload',
  'forward_backward',
  'gradient_export',
  'barrier_wait_grads',
  'reduce',
  'optimizer',
  'barrier_wait_params',
  'scavenge',
].map((p) => `phase_ms/${p}`);

/** run -> tag -> [step, value] in file order, as TensorBoard reads them. */
type Runs = Record<string, Record<string, [number, number][]>>;

let tmp: string;
let data: string;

/** The recipe of every run here: 2 workers, cosine schedule after a warm-up. */
const RECIPE = (epochs = EPOCHS): string[] => [
  '--data',
  data,
  '--workers',
  '2',
  '--epochs',
  String(epochs),
  '--batch-size',
  String(BATCH),
  '--lr',
  String(LR),
  '--lr-schedule',
  'cosine',
  '--warmup-steps',
  String(WARMUP),
  '--seed',
  '5',
  '--backend',
  'wasm',
];

function readBack(dir: string): Runs {
  const r = spawnSync(FOUND ?? 'python3', [READER, dir], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`tb_read.py failed (${r.status}): ${r.stderr || String(r.error)}`);
  return JSON.parse(r.stdout) as Runs;
}

function jsonLines(stdout: string): EpochJson[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochJson);
}

function metrics(dir: string): Metrics {
  return JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Metrics;
}

function eventFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.'));
}

/** The rate of 0-based step `s`: the linear warm-up, then cosine to 0 at the run's last step (optim/schedule.ts). */
function cosineLr(s: number, total: number): number {
  if (s < WARMUP) return (LR * (s + 1)) / WARMUP;
  const span = total - WARMUP;
  return 0.5 * LR * (1 + Math.cos((Math.PI * Math.min(s - WARMUP, span)) / span));
}

const range = (from: number, to: number, by = 1): number[] =>
  Array.from({ length: Math.floor((to - from) / by) + 1 }, (_, i) => from + i * by);
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const values = (points: [number, number][]): number[] => points.map(([, v]) => v);
const steps = (points: [number, number][]): number[] => points.map(([s]) => s);

/** The epoch scalars a run with these --json lines must hold, as float32. */
function epochScalars(lines: readonly EpochJson[]): Runs {
  const at = (f: (l: EpochJson) => number): [number, number][] => lines.map((l) => [l.epoch, Math.fround(f(l))]);
  return {
    train: { epoch_loss: at((l) => l.loss), epoch_samples_per_second: at((l) => l.samplesPerSecond) },
    val: { epoch_loss: at((l) => l.test.loss), epoch_acc: at((l) => l.test.accuracy ?? NaN) },
  };
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wddp-cli-tb-'));
  data = smallMnist(join(tmp, 'data'), STEPS * BATCH, 50);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(missing !== undefined)('a 2-worker run, read back by TensorBoard', () => {
  let runs: Runs;
  let lines: EpochJson[];
  let m: Metrics;

  beforeAll(() => {
    const out = join(tmp, 'reference');
    const r = runCli(
      TRAIN,
      [...RECIPE(), '--out', out, '--logdir', join(tmp, 'reference-tb'), '--log-every', '1', '--json'],
      tmp,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    lines = jsonLines(r.stdout);
    m = metrics(out);
    runs = readBack(join(tmp, 'reference-tb'));
    expect(existsSync(join(out, 'tb'))).toBe(false); // --logdir elsewhere: no tb/ in the run folder
  });

  it('train and val: the --json lines and metrics.json, every epoch, at the epoch (1-based)', () => {
    expect(lines.map((l) => l.epoch)).toEqual([1, 2]);
    expect(m.epochs.map((e) => [e.loss, e.test.loss, e.test.accuracy])).toEqual(
      lines.map((l) => [l.loss, l.test.loss, l.test.accuracy]),
    );
    expect(Object.keys(runs).sort()).toEqual(['train', 'val', 'worker_0', 'worker_1']);
    expect(Object.keys(runs.train).sort()).toEqual([
      'batch_loss',
      'batch_lr',
      'epoch_loss',
      'epoch_samples_per_second',
    ]);
    const want = epochScalars(lines);
    expect(runs.train.epoch_loss).toEqual(want.train.epoch_loss);
    expect(runs.train.epoch_samples_per_second).toEqual(want.train.epoch_samples_per_second);
    expect(runs.val).toEqual(want.val);
  });

  it("batch_loss: every step (--log-every 1), global steps 1-120; their means are metrics.json's windows and the epoch losses", () => {
    const loss = runs.train.batch_loss;
    expect(steps(loss)).toEqual(range(1, EPOCHS * STEPS));
    const v = values(loss);
    expect(m.stepLoss.map((w) => [w.step, w.steps])).toEqual([
      [100, 100],
      [120, 20],
    ]);
    // Each value is a step's mean loss as a float32 (relative error <= 2^-24 ~ 6e-8, on losses ~2).
    expect(Math.abs(mean(v.slice(0, 100)) - m.stepLoss[0].loss)).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(mean(v.slice(100)) - m.stepLoss[1].loss)).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(mean(v.slice(0, STEPS)) - lines[0].loss)).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(mean(v.slice(STEPS)) - lines[1].loss)).toBeLessThanOrEqual(1e-6);
  });

  it('batch_lr: the rate each step ran with, warm-up then cosine (--lr-schedule)', () => {
    const lr = runs.train.batch_lr;
    expect(steps(lr)).toEqual(range(1, EPOCHS * STEPS));
    expect(values(lr)).toEqual(steps(lr).map((s) => Math.fround(cosineLr(s - 1, EPOCHS * STEPS))));
  });

  it("worker_0 and worker_1: each phase's mean ms per step, every epoch", () => {
    for (const w of ['worker_0', 'worker_1']) {
      expect(Object.keys(runs[w]).sort()).toEqual([...PHASE_TAGS].sort());
      for (const tag of PHASE_TAGS) {
        expect(steps(runs[w][tag])).toEqual([1, 2]);
        for (const v of values(runs[w][tag])) expect(v).toBeGreaterThanOrEqual(0);
      }
      // A step's time is spent in its phases: the mean step of a worker takes some time.
      expect(mean(PHASE_TAGS.map((t) => runs[w][t][0][1]))).toBeGreaterThan(0);
    }
    expect(PHASE_TAGS.length).toBe(PHASES.length);
  });

  it('a stop inside epoch 2 (a NaN at step 90, checkpoint at 75), resumed into tb/: steps 1-120 once each, the values of the run never stopped', () => {
    const dir = join(tmp, 'stopped');
    const args = [...RECIPE(), '--out', dir, '--checkpoint-every', '25', '--log-every', '1'];
    const stopped = runCli(TRAIN, args, tmp, {
      WORKER_DDP_FAULTS: JSON.stringify([{ kind: 'nan', rank: 1, step: 90 }]),
    });
    expect(stopped.stderr).toMatch(/^error: step 90: non-finite loss/);
    expect(stopped.status).toBe(1);
    const before = readBack(join(dir, 'tb'));
    expect(steps(before.train.batch_loss)).toEqual(range(1, 75)); // what the checkpoint holds, no more
    expect(steps(before.train.epoch_loss)).toEqual([1]);

    const resumed = runCli(
      TRAIN,
      ['--resume', dir, '--workers', '2', '--backend', 'wasm', '--log-every', '1', '--json'],
      tmp,
    );
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(0);
    expect(eventFiles(join(dir, 'tb', 'train')).length).toBe(2); // a new file beside the old
    const after = readBack(join(dir, 'tb'));
    expect(Object.keys(after).sort()).toEqual(['train', 'val', 'worker_0', 'worker_1']);
    expect(steps(after.train.batch_loss)).toEqual(range(1, EPOCHS * STEPS));
    expect(steps(after.train.batch_lr)).toEqual(range(1, EPOCHS * STEPS));
    // The same workers, the same steps: the losses of the reference run, as float32.
    expect(
      Math.max(...values(after.train.batch_loss).map((v, i) => Math.abs(v - runs.train.batch_loss[i][1]))),
    ).toBeLessThanOrEqual(1e-6);
    expect(values(after.train.batch_lr)).toEqual(values(runs.train.batch_lr));
    for (const [run, tag] of [
      ['train', 'epoch_loss'],
      ['val', 'epoch_loss'],
      ['val', 'epoch_acc'],
    ]) {
      expect(steps(after[run][tag])).toEqual([1, 2]);
      expect(
        Math.max(...values(after[run][tag]).map((v, i) => Math.abs(v - runs[run][tag][i][1]))),
      ).toBeLessThanOrEqual(1e-6);
    }
    const [line] = jsonLines(resumed.stdout);
    expect(line.epoch).toBe(2);
    expect(after.train.epoch_loss[1]).toEqual([2, Math.fround(line.loss)]);
    expect(after.val.epoch_acc[1]).toEqual([2, Math.fround(line.test.accuracy ?? NaN)]);
    expect(steps(after.worker_1['phase_ms/reduce'])).toEqual([1, 2]);
  });

  it('Ctrl-C inside a later epoch: exit 130 with every step up to the checkpoint in the log; the resumed run goes on from there', async () => {
    const dir = join(tmp, 'sigint');
    const c = startCli(TRAIN, [...RECIPE(5), '--out', dir, '--log-every', '1', '--json'], tmp);
    await c.waitFor('stdout', /^\{"epoch":1,/m);
    c.child.kill('SIGINT');
    const r = await c.ended;
    expect(r.status).toBe(130);
    const n = Number(/^stopped after step (\d+);/m.exec(r.stderr)?.[1]);
    expect(n).toBeGreaterThan(STEPS);
    expect(n).toBeLessThan(5 * STEPS);
    const before = readBack(join(dir, 'tb'));
    expect(steps(before.train.batch_loss)).toEqual(range(1, n)); // written at the stop, after the checkpoint
    expect(steps(before.train.epoch_loss)).toEqual(range(1, Math.floor(n / STEPS)));

    const resumed = runCli(
      TRAIN,
      ['--resume', dir, '--workers', '2', '--backend', 'wasm', '--log-every', '1', '--quiet'],
      tmp,
    );
    expect(resumed).toEqual({ status: 0, stdout: '', stderr: '' });
    const after = readBack(join(dir, 'tb'));
    expect(steps(after.train.batch_loss)).toEqual(range(1, 5 * STEPS));
    expect(values(after.train.batch_loss).slice(0, n)).toEqual(values(before.train.batch_loss));
    expect(steps(after.val.epoch_loss)).toEqual(range(1, 5));
  });

  it('--epochs 1, then --resume with --epochs 2 and --log-every 7: the steps go on from 60, each once', () => {
    const dir = join(tmp, 'longer');
    const first = runCli(TRAIN, [...RECIPE(1), '--out', dir, '--log-every', '7', '--quiet'], tmp);
    expect(first).toEqual({ status: 0, stdout: '', stderr: '' });
    const second = runCli(
      TRAIN,
      ['--resume', dir, '--epochs', '2', '--workers', '2', '--backend', 'wasm', '--log-every', '7', '--json'],
      tmp,
    );
    expect(second.stderr).toBe('');
    expect(second.status).toBe(0);
    const lines2 = jsonLines(second.stdout);
    expect(lines2.map((l) => l.epoch)).toEqual([2]);
    const r = readBack(join(dir, 'tb'));
    expect(steps(r.train.batch_loss)).toEqual(range(7, EPOCHS * STEPS, 7));
    expect(steps(r.train.epoch_loss)).toEqual([1, 2]);
    expect(r.train.epoch_loss[1]).toEqual([2, Math.fround(lines2[0].loss)]);
    expect(r.val.epoch_acc[1]).toEqual([2, Math.fround(lines2[0].test.accuracy ?? NaN)]);
    for (const w of ['worker_0', 'worker_1']) expect(steps(r[w]['phase_ms/forward_backward'])).toEqual([1, 2]);
    for (const run of Object.keys(r)) expect(eventFiles(join(dir, 'tb', run)).length).toBe(2);
  });
});

describe('the log never stops the run', () => {
  it('a log folder that cannot be written: one warning line, the run trains and saves its model', () => {
    const dir = join(tmp, 'unwritable');
    mkdirSync(join(dir, 'tb'), { recursive: true });
    writeFileSync(join(dir, 'tb', 'train'), ''); // a file where the train folder goes
    const r = runCli(TRAIN, [...RECIPE(1), '--out', dir, '--quiet'], tmp);
    const train = join(dir, 'tb', 'train');
    expect(r.stderr).toBe(
      `warning: --logdir: cannot create the TensorBoard folder ${train}: EEXIST: file already exists, mkdir '${train}'; no more TensorBoard scalars this run\n`,
    );
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, 'model.json'))).toBe(true);
  });

  it('--logdir none: no tb/ folder, no event file', () => {
    const dir = join(tmp, 'none');
    const r = runCli(TRAIN, [...RECIPE(1), '--out', dir, '--logdir', 'none', '--quiet'], tmp);
    expect(r).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(readdirSync(dir).sort()).toEqual([
      'checkpoint.wddp',
      'loss.png',
      'metrics.json',
      'model.json',
      'weights.bin',
    ]);
  });
});

describe('bad flags: exit 2, one line', () => {
  // <file> is a file; <data> the data folder (known once beforeAll ran).
  const cases: { args: string[]; message: string }[] = [
    { args: ['--log-every', '0'], message: '--log-every must be an integer from 1 to 2147483647, got 0' },
    { args: ['--log-every', 'often'], message: '--log-every must be an integer from 1 to 2147483647, got "often"' },
    { args: ['--logdir', ''], message: '--logdir needs a folder or none, got ""' },
    { args: ['--logdir'], message: '--logdir needs a value (see --help)' },
    {
      args: ['--logdir', 'none', '--log-every', '5'],
      message: '--log-every is for the TensorBoard log, which --logdir none turns off',
    },
    {
      args: ['--data', '<data>', '--logdir', '<file>/tb'],
      message: '--logdir <file>/tb: is a file or lies under one, not a folder',
    },
  ];
  const fill = (t: string): string => t.replace('<file>', join(tmp, 'a-file')).replace('<data>', data);

  it.each(cases.map((c) => ({ ...c, name: c.args.join(' ') })))('$name', async ({ args, message }) => {
    writeFileSync(join(tmp, 'a-file'), '');
    const r = await runCliAsync([...args.map(fill), '--out', join(tmp, 'bad-flag-run')], tmp);
    expectBadInput(r, fill(message));
  });
});

describe("the Trainer's phase times and learning rate", () => {
  it('phaseTimes: the mean per step of each phase and thread since the last drain; undefined without it', async () => {
    const d = subset(64, 16);
    const options = {
      workers: 2,
      batchSize: 8,
      data: d,
      backend: 'wasm' as const,
      lrSchedule: { kind: 'step' as const, every: 3 },
    };
    {
      await using t = await Trainer.create({ ...options, phaseTimes: true });
      await t.train(5);
      const p = t.drainPhaseTimes();
      expect(p?.steps).toBe(5);
      expect(p?.ms.length).toBe(t.threads * PHASES.length);
      expect([...(p?.ms ?? [])].every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      expect(t.drainPhaseTimes()?.steps).toBe(0);
      expect([0, 2, 3, 5, 6].map((s) => t.learningRate(s))).toEqual([0.003, 0.003, 0.0015, 0.0015, 0.00075]);
      expect(() => t.learningRate(-1)).toThrow(
        new OptionError('step must be an integer from 0 to 9007199254740991, got -1'),
      );
    }
    {
      await using t = await Trainer.create(options);
      await t.train(1);
      expect(t.drainPhaseTimes()).toBeUndefined();
    }
    expect(await rejection(Trainer.create({ ...options, phaseTimes: 'yes' as unknown as boolean }))).toEqual(
      new OptionError('phaseTimes must be true or false, got "yes"'),
    );
  });
});
