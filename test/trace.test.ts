// --profile FILE (issue 6): a Chrome trace-event file (Perfetto, chrome://tracing) with
// one row per worker plus the coordinator's row, each step split into its phases;
// and Trainer.trace.shares(), the phases' shares of the workers' time.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PHASES } from '../dist/src/profile/record.js';
import { workersName } from '../dist/src/trainer/lanes.js';
import { Trainer } from '../dist/src/trainer/trainer.js';
import { subset } from './helpers.js';
import { TRAIN, runCli, smallMnist, type Run } from './predict-fixtures.js';

interface Event {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  args?: Record<string, unknown>;
}

const WORKERS = 3; // more than a coordinator and one worker to mix up
/** One row per worker thread: min(workers, cores) threads (Note [workers on fewer threads] in src/trainer/lanes.ts). */
const THREADS = Math.min(WORKERS, availableParallelism());
const EPOCHS = 2;
const STEPS = EPOCHS * 10; // 640 samples, batch 64
/** Timestamps are µs since the epoch (~1.7e15), where a double resolves ~0.25 µs. */
const TS_SLACK_US = 2;
/**
 * Between threads: each computes timeOrigin + now() from its own origin, which agree to a few µs
 * (seen: every rank left a barrier 14 µs or more after the last one reached it), while the ranks'
 * arrivals at a barrier lie milliseconds apart (seen: 2.8 to 9 ms with 3 workers on 2 cores).
 */
const CLOCK_SLACK_US = 50;

let tmp: string;
let data: string;
let run: Run;
let events: Event[];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wddp-trace-'));
  data = smallMnist(join(tmp, 'data'), 640, 100);
  run = runCli(
    TRAIN,
    [
      '--data',
      data,
      '--workers',
      String(WORKERS),
      '--epochs',
      String(EPOCHS),
      '--lr',
      '0.05',
      '--backend',
      'wasm',
      '--out',
      join(tmp, 'run'),
      '--profile',
      join(tmp, 'trace.json'),
    ],
    tmp,
  );
  expect(run.status).toBe(0);
  const json = JSON.parse(readFileSync(join(tmp, 'trace.json'), 'utf8')) as { traceEvents?: unknown };
  expect(Array.isArray(json.traceEvents)).toBe(true);
  events = json.traceEvents as Event[];
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const complete = (): Event[] => events.filter((e) => e.ph === 'X');
const workerTids = Array.from({ length: THREADS }, (_, r) => r + 1);

describe('--profile FILE writes a Chrome trace', () => {
  it('the CLI says where it wrote it', () => {
    expect(run.stdout).toContain(`wrote the trace ${join(tmp, 'trace.json')}\n`);
  });

  it('every event is a metadata (M) or complete (X) event of one process', () => {
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) {
      expect(['M', 'X']).toContain(e.ph);
      expect(typeof e.name).toBe('string');
      expect(Number.isInteger(e.pid)).toBe(true);
      expect(Number.isInteger(e.tid)).toBe(true);
    }
    expect(new Set(events.map((e) => e.pid)).size).toBe(1);
  });

  it("thread_name metadata names row 0 'coordinator' and rows 1..T for the workers each thread computes", () => {
    const names = events.filter((e) => e.ph === 'M');
    expect(names.every((e) => e.name === 'thread_name')).toBe(true);
    const byTid = new Map(names.map((e) => [e.tid, e.args?.name]));
    expect(names).toHaveLength(THREADS + 1);
    expect(byTid.get(0)).toBe('coordinator');
    for (let r = 0; r < THREADS; r++) expect(byTid.get(r + 1)).toBe(`worker ${workersName(r, THREADS, WORKERS)}`);
  });

  it('complete events have numeric ts and dur >= 0', () => {
    for (const e of complete()) {
      expect(typeof e.ts === 'number' && Number.isFinite(e.ts), JSON.stringify(e)).toBe(true);
      expect(typeof e.dur === 'number' && Number.isFinite(e.dur) && e.dur >= 0, JSON.stringify(e)).toBe(true);
    }
  });

  it('one row per worker plus the coordinator: the rows with spans are exactly 0..N', () => {
    expect([...new Set(complete().map((e) => e.tid))].sort((a, b) => a - b)).toEqual([0, ...workerTids]);
  });

  it('every worker row has every phase of every step once, labelled with args.step from 1', () => {
    for (const tid of workerTids) {
      const row = complete().filter((e) => e.tid === tid);
      expect(new Set(row.map((e) => e.name))).toEqual(new Set(PHASES));
      const bySteps = new Map<number, Event[]>();
      for (const e of row) {
        const step = e.args?.step;
        expect(typeof step === 'number' && Number.isInteger(step), JSON.stringify(e)).toBe(true);
        bySteps.set(step as number, [...(bySteps.get(step as number) ?? []), e]);
      }
      const steps = [...bySteps.keys()].sort((a, b) => a - b);
      expect(steps).toHaveLength(STEPS);
      expect(steps[STEPS - 1] - steps[0]).toBe(STEPS - 1); // consecutive
      for (const [step, phases] of bySteps)
        expect(
          phases.map((e) => e.name),
          `worker row ${tid}, step ${step}`,
        ).toEqual([...PHASES]);
    }
    const first = Math.min(
      ...complete()
        .filter((e) => e.tid > 0)
        .map((e) => e.args?.step as number),
    );
    expect(first).toBe(1); // counted from 1, as in messages and WORKER_DDP_FAULTS
  });

  /** The spans of worker row `tid`, step `step`, by phase name. */
  const spansOf = (tid: number, step: number): Map<string, Event> =>
    new Map(
      complete()
        .filter((e) => e.tid === tid && e.args?.step === step)
        .map((e) => [e.name, e]),
    );
  const end = (e: Event | undefined): number => (e?.ts ?? NaN) + (e?.dur ?? NaN);

  it("a worker row's steps follow one another in step order, without overlap", () => {
    for (const tid of workerTids) {
      for (let step = 1; step < STEPS; step++) {
        const last = end(spansOf(tid, step).get(PHASES[PHASES.length - 1]));
        const next = spansOf(tid, step + 1).get(PHASES[0])?.ts ?? NaN;
        expect(next - last, `worker row ${tid}, steps ${step} and ${step + 1}`).toBeGreaterThanOrEqual(-TS_SLACK_US);
      }
    }
  });

  it('against the other threads: no worker leaves a barrier before every worker has reached it', () => {
    // The rows come from different threads' clocks: a rank's barrier wait must end after the
    // phase before it ended in every rank (gradients exported, resp. its slice stepped).
    const barriers = [
      ['gradient export', 'barrier wait (grads)'],
      ['optimizer', 'barrier wait (params)'],
    ] as const;
    let margin = Infinity;
    for (let step = 1; step <= STEPS; step++) {
      for (const [before, wait] of barriers) {
        const lastArrival = Math.max(...workerTids.map((tid) => end(spansOf(tid, step).get(before))));
        const firstRelease = Math.min(...workerTids.map((tid) => end(spansOf(tid, step).get(wait))));
        margin = Math.min(margin, firstRelease - lastArrival);
      }
    }
    console.log(`the first rank left a barrier at least ${margin.toFixed(1)} µs after the last one reached it`);
    expect(margin).toBeGreaterThanOrEqual(-CLOCK_SLACK_US);
  });

  it("the coordinator row's train tasks cover the workers' steps, on the same clock", () => {
    const tasks = complete().filter((e) => e.tid === 0 && e.name === 'train task');
    expect(tasks.length).toBeGreaterThan(0);
    let worst = 0;
    for (const e of complete().filter((w) => w.tid > 0)) {
      const step = e.args?.step as number;
      const task = tasks.find((t) => (t.args?.firstStep as number) <= step && step <= (t.args?.lastStep as number));
      expect(task, `no train task covers step ${step}`).toBeDefined();
      if (task === undefined) continue;
      const start = task.ts ?? 0;
      const end = start + (task.dur ?? 0);
      worst = Math.max(worst, start - (e.ts ?? 0), (e.ts ?? 0) + (e.dur ?? 0) - end);
    }
    console.log(`worker spans stick out of their train task by at most ${worst.toFixed(1)} µs`);
    expect(worst).toBeLessThanOrEqual(1000); // 1 ms: threads share the clock (timeOrigin + now())
  });

  it('a run that stops on a failure still writes the trace, with the steps done before it', () => {
    const file = join(tmp, 'trace-nan.json');
    const r = runCli(
      TRAIN,
      [
        '--data',
        data,
        '--workers',
        '2',
        '--epochs',
        '1',
        '--lr',
        '0.05',
        '--backend',
        'wasm',
        '--out',
        join(tmp, 'run-nan'),
        '--profile',
        file,
      ],
      tmp,
      { WORKER_DDP_FAULTS: '[{"kind":"nan","rank":1,"step":5}]' },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: step 5: non-finite loss/);
    const ev = (JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: Event[] }).traceEvents.filter(
      (e) => e.ph === 'X' && e.tid > 0,
    );
    expect(new Set(ev.map((e) => e.args?.step)).size).toBe(4); // steps 1-4 finished; step 5 did not
    expect(ev).toHaveLength(4 * 2 * PHASES.length);
  });

  it('a --profile path that cannot be written is refused before training (exit 2, one line), not after it', () => {
    // A folder given as the file, and a file in a folder that does not exist. Creating the
    // missing folder (as --out does) would be fine too; training and then failing is not.
    const folder = join(tmp, 'a-folder');
    mkdirSync(folder, { recursive: true });
    const args = (profile: string): string[] => [
      '--data',
      data,
      '--workers',
      '1',
      '--epochs',
      '1',
      '--backend',
      'wasm',
      '--out',
      join(tmp, 'run-bad'),
      '--profile',
      profile,
    ];
    const r = runCli(TRAIN, args(folder), tmp);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r.stderr).toBe(`error: --profile: cannot write ${folder}: EISDIR\n`);
    const missing = join(tmp, 'no', 'such', 'trace.json'); // its folder is created, as for --out
    const m = runCli(TRAIN, args(missing), tmp);
    expect(m.status).toBe(0);
    expect(existsSync(missing)).toBe(true);
  });
});

describe('Trainer option profile', () => {
  it("the workers' spans lie within the caller's own clock readings around train(); shares() names every phase", async () => {
    await using t = await Trainer.create({
      workers: 2,
      batchSize: 64,
      lr: 0.05,
      backend: 'wasm',
      data: subset(640, 100),
      profile: true,
    });
    expect(t.trace).toBeDefined();
    const t0 = (performance.timeOrigin + performance.now()) * 1000; // µs, as in the trace
    await t.train(12); // crosses an epoch boundary
    const t1 = (performance.timeOrigin + performance.now()) * 1000;
    const shares = t.trace?.shares() ?? {};
    expect(Object.keys(shares).sort()).toEqual([...PHASES].sort());
    console.log(
      `phase shares: ${Object.entries(shares)
        .map(([k, v]) => `${k} ${(100 * (v as number)).toFixed(1)}%`)
        .join(', ')}`,
    );

    const file = join(tmp, 'lib-trace.json');
    t.trace?.write(file);
    const spans = (JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: Event[] }).traceEvents.filter(
      (e) => e.ph === 'X' && e.tid > 0,
    );
    expect(new Set(spans.map((e) => e.args?.step)).size).toBe(12);
    // Units and clock base against a timing taken outside the workers: every span inside
    // [t0, t1], and no rank busy for longer than the call lasted.
    for (const e of spans) {
      expect(e.ts ?? NaN, JSON.stringify(e)).toBeGreaterThanOrEqual(t0 - CLOCK_SLACK_US);
      expect((e.ts ?? NaN) + (e.dur ?? NaN), JSON.stringify(e)).toBeLessThanOrEqual(t1 + CLOCK_SLACK_US);
    }
    for (const tid of [1, 2]) {
      const busy = spans.filter((e) => e.tid === tid).reduce((a, e) => a + (e.dur ?? 0), 0);
      console.log(
        `worker row ${tid}: ${(busy / 1000).toFixed(1)} ms of spans in a train() call of ${((t1 - t0) / 1000).toFixed(1)} ms`,
      );
      expect(busy).toBeLessThanOrEqual(t1 - t0);
    }
  });

  it('trace.durations(phase, after) lists that phase of every rank in the steps after `after`, in ms', async () => {
    await using t = await Trainer.create({
      workers: 2,
      batchSize: 64,
      lr: 0.05,
      backend: 'wasm',
      data: subset(640, 100),
      profile: true,
    });
    await t.train(7);
    const trace = t.trace;
    if (trace === undefined) throw new Error('no trace');
    const all = trace.durations('forward/backward');
    expect(all).toHaveLength(7 * 2);
    expect(trace.durations('forward/backward', 5)).toEqual(all.slice(5 * 2));
    expect(trace.durations('forward/backward', 7)).toEqual([]);
    for (const d of all) expect(d).toBeGreaterThan(0);
    const i = PHASES.indexOf('forward/backward');
    expect(all.reduce((a, b) => a + b, 0)).toBeCloseTo(trace.phaseTotals[i], 6);
  });

  it('without profile there is no trace', async () => {
    await using t = await Trainer.create({ workers: 1, batchSize: 64, backend: 'wasm', data: subset(128, 10) });
    expect(t.trace).toBeUndefined();
  });
});
