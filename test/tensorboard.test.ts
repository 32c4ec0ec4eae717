// TensorBoard event files without TensorFlow (src/tensorboard/): CRC-32C against its
// published check values; files read back by the real TensorBoard (its Python reader,
// test/fixtures/tb_read.py, and its server) equal, as float32, what was written: the
// EventWriter's scalars, and the tensorBoard() callback's under tfjs's own model.fit and
// under fitParallel at 2 workers (tfjs-node's folders, tags and steps); a file cut
// mid-record or by a failing write still reads up to its last whole record; bad input
// refused with one line. TensorBoard is the Python package, found as test/python.ts says
// (.ci/run installs it in .venv); where it is missing: a failure under CI=true, elsewhere a
// skip saying why.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Callbacks } from '../dist/src/fit/callbacks.js';
import { EventFileError, EventWriter, OptionError, fitParallel, tensorBoard, type History } from '../dist/src/index.js';
import { crc32c, maskedCrc32c } from '../dist/src/tensorboard/crc32c.js';
import { pythonOrReport } from './python.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const READER = join(ROOT, 'test/fixtures/tb_read.py');
const FOUND = pythonOrReport(['tensorboard']);
const PYTHON = FOUND ?? 'python3'; // unused without TensorBoard: the suites that need it skip
const missing = FOUND === undefined ? 'no Python with tensorboard' : undefined;
const version =
  missing === undefined
    ? spawnSync(PYTHON, ['-c', 'import tensorboard; print(tensorboard.__version__)'], {
        encoding: 'utf8',
      }).stdout.trim()
    : undefined;

/** run -> tag -> [step, value] in file order, as TensorBoard reads them. */
type Runs = Record<string, Record<string, [number, number][]>>;

/** `dir` read by TensorBoard's EventAccumulator (test/fixtures/tb_read.py). */
function readBack(dir: string): Runs {
  const r = spawnSync(PYTHON, [READER, dir], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`tb_read.py failed (${r.status}): ${r.stderr || String(r.error)}`);
  const special: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
  return JSON.parse(r.stdout, (_k, v: unknown) => (typeof v === 'string' && v in special ? special[v] : v)) as Runs;
}

/** Event files in `dir`. */
function eventFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.includes('tfevents'))
    .map((f) => join(dir, f));
}

type Logs = Record<string, number>;

/**
 * What tfjs-node's callback writes for these logs: batch_<name> at every `every`-th
 * running batch count (none without `every`), epoch_<name> at epoch + 1, val_ to `val`,
 * every value as a float32. `firstEpoch`: the epoch of epochLogs[0].
 */
function expected(epochLogs: readonly Logs[], batchLogs: readonly Logs[], every?: number, firstEpoch = 0): Runs {
  const runs: Runs = {};
  const add = (run: string, tag: string, step: number, v: number): number =>
    ((runs[run] ??= {})[tag] ??= []).push([step, Math.fround(v)]);
  batchLogs.forEach((logs, i) => {
    if (every === undefined || (i + 1) % every !== 0) return;
    for (const [k, v] of Object.entries(logs)) if (k !== 'batch' && k !== 'size') add('train', `batch_${k}`, i + 1, v);
  });
  epochLogs.forEach((logs, e) => {
    for (const [k, v] of Object.entries(logs))
      if (k.startsWith('val_')) add('val', `epoch_${k.slice(4)}`, firstEpoch + e + 1, v);
      else add('train', `epoch_${k}`, firstEpoch + e + 1, v);
  });
  return runs;
}

/** Records the logs each batch and epoch ends with, as the callbacks before it saw them. */
function recorder(batches: Logs[], epochs: Logs[]): tf.CustomCallback {
  return new tf.CustomCallback({
    onBatchEnd: async (_b, logs) => void batches.push({ ...logs }),
    onEpochEnd: async (_e, logs) => void epochs.push({ ...logs }),
  });
}

/** A deterministic 3-class problem: x [n, 4], y one-hot [n, 3]. */
function data(n: number, phase: number): [tf.Tensor2D, tf.Tensor2D] {
  const rows = Array.from({ length: n }, (_, i) => [0, 1, 2, 3].map((j) => Math.sin(phase + 1.7 * i + 0.9 * j)));
  const labels = rows.map((r) => (r[0] + r[1] > 0.2 ? 0 : r[2] > 0 ? 1 : 2));
  return [tf.tensor2d(rows), tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat() as tf.Tensor2D];
}

function model(): tf.Sequential {
  const init = (seed: number): ReturnType<typeof tf.initializers.glorotUniform> =>
    tf.initializers.glorotUniform({ seed });
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 6, activation: 'tanh', kernelInitializer: init(3) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(4) }),
    ],
  });
  m.compile({ optimizer: tf.train.sgd(0.3), loss: 'categoricalCrossentropy', metrics: ['acc'] });
  return m;
}

let tmp: string;
let x: tf.Tensor2D;
let y: tf.Tensor2D;
let xv: tf.Tensor2D;
let yv: tf.Tensor2D;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'wddp-tensorboard-'));
  await tf.setBackend('cpu');
  [x, y] = data(60, 0); // batch 16: 4 batches per epoch, the last of 12
  [xv, yv] = data(20, 100);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('CRC-32C', () => {
  it('published check values (RFC 3720 B.4 and the "123456789" check)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  it("TFRecord's mask: rotate right 15, add 0xa282ead8, mod 2^32", () => {
    // 0xe3069283 rotated right by 15 is 0x2507c60d; + 0xa282ead8 = 0xc78ab0e5
    expect(maskedCrc32c(Buffer.from('123456789'))).toBe(0xc78ab0e5);
    expect(maskedCrc32c(new Uint8Array(0))).toBe(0xa282ead8);
  });
});

describe('EventWriter without TensorBoard', () => {
  it('names its file events.out.tfevents.<10-digit seconds>.<host>, .1 where that is taken', () => {
    const dir = join(tmp, 'names');
    const w = new EventWriter(dir);
    expect(dirname(w.path)).toBe(dir);
    const name = basename(w.path);
    expect(name).toMatch(new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${hostname().replace(/\./g, '\\.')}$`));
    w.close();
    // Taken for this second and the next: the next writer must add a suffix.
    const s = Math.floor(Date.now() / 1000);
    for (const t of [s, s + 1]) writeFileSync(join(dir, `events.out.tfevents.${t}.${hostname()}`), '');
    const w2 = new EventWriter(dir);
    expect(basename(w2.path)).toMatch(/\.1$/);
    const w3 = new EventWriter(dir);
    expect(basename(w3.path)).toMatch(/\.2$/);
    w2.close();
    w3.close();
  });

  it('bad arguments: one line each', () => {
    const w = new EventWriter(join(tmp, 'bad'));
    expect(() => w.scalar('', 1, 1)).toThrow(new OptionError('scalar tag must be a non-empty string, got ""'));
    expect(() => w.scalar('a', '1' as unknown as number, 1)).toThrow(
      new OptionError('scalar a: the value must be a number, got "1"'),
    );
    expect(() => w.scalar('a', 1, -1)).toThrow(new OptionError('scalar a: the step must be an integer >= 0, got -1'));
    expect(() => w.scalar('a', 1, 1.5)).toThrow(new OptionError('scalar a: the step must be an integer >= 0, got 1.5'));
    expect(() => w.scalar('a', 1, 1, NaN)).toThrow(
      new OptionError('scalar a: wallTime must be a finite number of seconds, got NaN'),
    );
    expect(() => w.restart(0)).toThrow(new OptionError('restart: the step must be an integer >= 1, got 0'));
    w.close();
    w.close(); // a no-op
    expect(() => w.restart(1)).toThrow(new EventFileError(`the TensorBoard event file ${w.path} is closed`));
    expect(() => w.scalar('a', 1, 1)).toThrow(new EventFileError(`the TensorBoard event file ${w.path} is closed`));
    expect(() => new EventWriter('')).toThrow(
      new OptionError('EventWriter needs a folder (a non-empty string), got ""'),
    );
    expect(() => new EventWriter(join(tmp, 'bad'), null as unknown as object)).toThrow(
      new OptionError('EventWriter takes an object of options, got null'),
    );
    expect(() => new EventWriter(join(tmp, 'bad'), { flushEveryMs: 0 })).toThrow(
      new OptionError('EventWriter flushEveryMs must be an integer from 1 to 60000, got 0'),
    );
    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    expect(() => new EventWriter(join(file, 'run'))).toThrow(
      new EventFileError(
        `cannot create the TensorBoard folder ${join(file, 'run')}: ENOTDIR: not a directory, mkdir '${join(file, 'run')}'`,
      ),
    );
  });

  it('tensorBoard(): bad options refused with one line', () => {
    const e = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(OptionError);
        return (err as Error).message;
      }
      throw new Error('no error');
    };
    const d = join(tmp, 'never');
    expect(e(() => tensorBoard(d, { updateFreq: 0 }))).toBe(
      "tensorBoard updateFreq must be 'epoch', 'batch' or a number of batches (an integer >= 1), got 0",
    );
    expect(e(() => tensorBoard(d, { updateFreq: 'sometimes' as 'epoch' }))).toBe(
      `tensorBoard updateFreq must be 'epoch', 'batch' or a number of batches (an integer >= 1), got "sometimes"`,
    );
    expect(e(() => tensorBoard(d, { updateFreq: 2.5 }))).toBe(
      "tensorBoard updateFreq must be 'epoch', 'batch' or a number of batches (an integer >= 1), got 2.5",
    );
    expect(e(() => tensorBoard(5 as unknown as string))).toBe(
      'tensorBoard logdir must be a non-empty string (a folder), got 5',
    );
    expect(e(() => tensorBoard(d, { histogramFreq: 1 } as object))).toBe(
      'tensorBoard has no argument "histogramFreq" (it takes updateFreq)',
    );
    expect(e(() => tensorBoard(d, null as unknown as object))).toBe(
      'tensorBoard takes an object of arguments, got null',
    );
    expect(existsSync(d)).toBe(false); // nothing is written before the first scalar
  });

  it("fitParallel's callbacks: an 'epoch' callback listens to no batch hook (whole epochs per task), a batch one reads only logs (chunks of steps)", () => {
    const m = model();
    const d = join(tmp, 'never');
    expect(new Callbacks([tensorBoard(d)], m).batchHooks).toBe('none');
    expect(new Callbacks([tensorBoard(d, { updateFreq: 'epoch' })], m).batchHooks).toBe('none');
    expect(new Callbacks([tensorBoard(d, { updateFreq: 'batch' })], m).batchHooks).toBe('logs');
    expect(new Callbacks([tensorBoard(d, { updateFreq: 10 })], m).batchHooks).toBe('logs');
  });
});

describe.skipIf(missing !== undefined)(`read back by TensorBoard ${version ?? ''}`, () => {
  it('scalars come back as float32 at their steps, NaN and infinities included, steps up to 2^53 - 1', () => {
    const dir = join(tmp, 'scalars');
    const w = new EventWriter(dir);
    const values = [0.1, -2.5, 1e30, NaN, Infinity, -Infinity, 3];
    const steps = [0, 1, 2, 3, 4, 2 ** 40, Number.MAX_SAFE_INTEGER];
    values.forEach((v, i) => w.scalar('a/b', v, steps[i]));
    w.scalar('ünï', 7, 5);
    w.close();
    expect(readBack(join(tmp, 'scalars'))).toEqual({
      '.': { 'a/b': values.map((v, i) => [steps[i], Math.fround(v)]), ünï: [[5, 7]] },
    });
  });

  it('a restart at step k drops what earlier files hold at steps >= k, every tag; later scalars stay', () => {
    const dir = join(tmp, 'restart');
    const first = new EventWriter(dir);
    for (let s = 1; s <= 10; s++) first.scalar('batch_loss', s, s); // a crash after step 10, checkpoint at 6
    first.scalar('epoch_loss', 0.5, 1);
    first.close();
    const resumed = new EventWriter(dir);
    expect(basename(resumed.path) > basename(first.path)).toBe(true); // TensorBoard reads a folder's files in name order
    resumed.restart(7);
    for (let s = 7; s <= 8; s++) resumed.scalar('batch_loss', 100 + s, s);
    resumed.close();
    expect(readBack(dir)).toEqual({
      '.': {
        batch_loss: [1, 2, 3, 4, 5, 6, 107, 108].map((v, i) => [i + 1, v]),
        epoch_loss: [[1, 0.5]],
      },
    });
  });

  it('the timer writes buffered scalars without flush(); the file reads while still open', async () => {
    const dir = join(tmp, 'timer');
    const w = new EventWriter(dir, { flushEveryMs: 20 });
    const before = statSync(w.path).size;
    w.scalar('t', 1.5, 1);
    expect(statSync(w.path).size).toBe(before); // buffered
    const deadline = Date.now() + 10_000;
    while (statSync(w.path).size === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(readBack(dir)).toEqual({ '.': { t: [[1, 1.5]] } });
    w.close();
  });

  it('a process that never closes its writer exits by itself (the timer is unref-ed) and its scalars are in the file', () => {
    const dir = join(tmp, 'exit');
    const script = `import { EventWriter } from ${JSON.stringify(join(ROOT, 'dist/src/index.js'))};
      const w = new EventWriter(${JSON.stringify(dir)});
      for (let i = 1; i <= 3; i++) w.scalar('loss', 1 / i, i);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.error, 'the process did not exit within 60 s').toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(readBack(dir)).toEqual({ '.': { loss: [1, 2, 3].map((i) => [i, Math.fround(1 / i)]) } });
  });

  it('a file cut mid-record (kill -9 mid-write) reads up to its last whole record', () => {
    const dir = join(tmp, 'whole');
    const w = new EventWriter(dir);
    for (let i = 1; i <= 10; i++) w.scalar('loss', i / 8, i);
    w.close();
    const size = statSync(w.path).size;
    // The version record, then 10 scalar records of `per` bytes each (the same tag, 1-byte steps).
    const per = (() => {
      const one = new EventWriter(join(tmp, 'one'));
      const head = statSync(one.path).size;
      one.scalar('loss', 1, 1);
      one.flush();
      const n = statSync(one.path).size - head;
      one.close();
      return n;
    })();
    const all = Array.from({ length: 10 }, (_, i) => [i + 1, (i + 1) / 8]);
    // Cut inside the length, its CRC, the payload and the payload's CRC of the 10th record; then at a record's end.
    for (const [cut, whole] of [
      [per - 3, 9],
      [per - 10, 9],
      [per - 14, 9],
      [4, 9],
      [1, 9],
      [per, 9],
      [per * 4 + 5, 5],
    ] as const) {
      const d = join(tmp, `cut-${cut}`);
      mkdirSync(d);
      const f = join(d, basename(w.path));
      copyFileSync(w.path, f);
      truncateSync(f, size - cut);
      expect(readBack(d), `cut ${cut} bytes`).toEqual({ '.': { loss: all.slice(0, whole) } });
    }
  });

  it('a failing write (file size limit) is kept, thrown by flush() naming the file; the file reads up to its last whole record', () => {
    const dir = join(tmp, 'full');
    const script = `import { EventWriter } from ${JSON.stringify(join(ROOT, 'dist/src/index.js'))};
      const w = new EventWriter(${JSON.stringify(dir)});
      for (let i = 1; i <= 200; i++) w.scalar('loss', i, i);
      try { w.flush(); } catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }
      w.scalar('loss', 0, 201); // dropped, not thrown
      try { w.close(); } catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }`;
    // A 1-block file size limit, SIGXFSZ ignored: a write past it fails with EFBIG.
    const r = spawnSync(
      'bash',
      ['-c', `trap '' XFSZ; ulimit -f 1; exec "${process.execPath}" --input-type=module -e "$0"`, script],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const [file] = eventFiles(dir);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; message: string });
    const error = {
      name: 'EventFileError',
      message: `cannot write the TensorBoard event file ${file}: EFBIG: file too large, write`,
    };
    expect(lines).toEqual([error, error]);
    const read = readBack(dir)['.'].loss;
    expect(read.length).toBeGreaterThan(0);
    expect(read.length).toBeLessThan(200);
    expect(read).toEqual(Array.from({ length: read.length }, (_, i) => [i + 1, i + 1]));
  });

  describe('the tensorBoard() callback', () => {
    /** model.fit's runs: a logdir per updateFreq, the logs it passed, its History; then a second fit from epoch 2. */
    const fit = { dir: '', batches: [] as Logs[], epochs: [] as Logs[], losses: [] as number[] };
    const more = { batches: [] as Logs[], epochs: [] as Logs[] };

    beforeAll(async () => {
      fit.dir = join(tmp, 'fit');
      const m = model();
      const freqs = { epoch: 'epoch', batch: 'batch', every3: 3 } as const;
      const callbacks = Object.entries(freqs).map(([name, updateFreq]) =>
        tensorBoard(join(fit.dir, name), { updateFreq }),
      );
      const args = { batchSize: 16, shuffle: false, verbose: 0, validationData: [xv, yv] as [tf.Tensor, tf.Tensor] };
      const h = await m.fit(x, y, { ...args, epochs: 2, callbacks: [...callbacks, recorder(fit.batches, fit.epochs)] });
      fit.losses = h.history.loss as number[];
      expect(fit.epochs.map((l) => l.loss)).toEqual(h.history.loss);
      expect(fit.epochs.map((l) => l.val_acc)).toEqual(h.history.val_acc);
      await m.fit(x, y, {
        ...args,
        epochs: 3,
        initialEpoch: 2,
        callbacks: [...callbacks, recorder(more.batches, more.epochs)],
      });
    });

    it("under tfjs's model.fit: tfjs-node's folders, tags and steps, the logs' values, for 'epoch', 'batch' and every 3 batches", () => {
      expect(fit.batches).toHaveLength(8);
      expect(Object.keys(fit.epochs[0]).sort()).toEqual(['acc', 'loss', 'val_acc', 'val_loss']);
      const all = { epochs: [...fit.epochs, ...more.epochs], batches: [...fit.batches, ...more.batches] };
      expect(readBack(join(fit.dir, 'epoch'))).toEqual(expected(all.epochs, all.batches));
      expect(readBack(join(fit.dir, 'batch'))).toEqual(expected(all.epochs, all.batches, 1));
      expect(readBack(join(fit.dir, 'every3'))).toEqual(expected(all.epochs, all.batches, 3));
    });

    it('a second model.fit with the same callbacks: new files beside the first, epoch steps from initialEpoch + 1, the batch count going on', () => {
      expect(more.batches).toHaveLength(4);
      expect(eventFiles(join(fit.dir, 'batch', 'train'))).toHaveLength(2);
      expect(eventFiles(join(fit.dir, 'batch', 'val'))).toHaveLength(2);
      const runs = readBack(join(fit.dir, 'batch'));
      expect(runs.train.epoch_loss.map(([step]) => step)).toEqual([1, 2, 3]);
      expect(runs.val.epoch_acc.map(([step]) => step)).toEqual([1, 2, 3]);
      expect(runs.train.batch_loss.map(([step]) => step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(readBack(join(fit.dir, 'every3')).train.batch_acc.map(([step]) => step)).toEqual([3, 6, 9, 12]);
    });

    it('under fitParallel at 2 workers: the same folders, tags and steps, with the logs and History it gave', async () => {
      const dir = join(tmp, 'parallel');
      const batches: Logs[] = [];
      const epochs: Logs[] = [];
      const m = model();
      const h: History = await fitParallel(m, x, y, {
        epochs: 2,
        batchSize: 16,
        shuffle: false,
        workers: 2,
        validationData: [xv, yv],
        callbacks: [
          tensorBoard(join(dir, 'epoch')),
          tensorBoard(join(dir, 'batch'), { updateFreq: 'batch' }),
          tensorBoard(join(dir, 'every3'), { updateFreq: 3 }),
          recorder(batches, epochs),
        ],
      });
      expect(batches).toHaveLength(8);
      expect(epochs.map((l) => l.loss)).toEqual(h.history.loss);
      expect(epochs.map((l) => l.val_loss)).toEqual(h.history.val_loss);
      expect(Object.keys(epochs[0]).sort()).toEqual(['acc', 'loss', 'val_acc', 'val_loss']);
      expect(readBack(join(dir, 'epoch'))).toEqual(expected(epochs, batches));
      expect(readBack(join(dir, 'batch'))).toEqual(expected(epochs, batches, 1));
      expect(readBack(join(dir, 'every3'))).toEqual(expected(epochs, batches, 3));
      // and they are the losses tfjs's model.fit logged, up to float rounding across threads
      h.history.loss.forEach((l, e) => expect(Math.abs(l - fit.losses[e])).toBeLessThanOrEqual(1e-5));
    });

    describe("TensorBoard's server", () => {
      let server: ChildProcess | undefined;
      let output = '';

      afterAll(async () => {
        if (server === undefined || server.exitCode !== null || server.signalCode !== null) return;
        const exited = new Promise((r) => server?.once('exit', r));
        server.kill('SIGTERM');
        const killed = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(r, 10_000, false))]);
        if (!killed) server.kill('SIGKILL');
      });

      it("serves model.fit's run: /data/plugin/scalars/scalars?run=train&tag=epoch_loss has History's losses", async () => {
        const port = await freePort();
        server = spawn(
          PYTHON,
          ['-m', 'tensorboard.main', '--logdir', join(fit.dir, 'batch'), '--port', String(port), '--host', '127.0.0.1'],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        server.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
        server.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
        const base = `http://127.0.0.1:${port}/data/plugin/scalars`;
        const losses = fit.losses.map(Math.fround);
        const deadline = Date.now() + 90_000;
        let tags: Record<string, Record<string, unknown>> | undefined;
        let points: [number, number, number][] = [];
        while (Date.now() < deadline && server.exitCode === null) {
          try {
            tags = (await (await fetch(`${base}/tags`)).json()) as typeof tags;
            points = (await (await fetch(`${base}/scalars?run=train&tag=epoch_loss`)).json()) as typeof points;
            if (points.length >= 3) break; // the second fit's epoch too
          } catch {
            // not listening yet, or still loading
          }
          await new Promise((r) => setTimeout(r, 500));
        }
        expect(points.length, `TensorBoard printed:\n${output}`).toBe(3);
        expect(Object.keys(tags ?? {}).sort()).toEqual(['train', 'val']);
        expect(Object.keys(tags?.train ?? {}).sort()).toEqual(['batch_acc', 'batch_loss', 'epoch_acc', 'epoch_loss']);
        expect(points.slice(0, 2).map(([, step, value]) => [step, value])).toEqual([
          [1, losses[0]],
          [2, losses[1]],
        ]);
        expect(points[2][1]).toBe(3);
      });
    });
  });
});

/** A TCP port free on 127.0.0.1 now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}
