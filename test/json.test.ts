// How `train` reports: --json (one JSON object per epoch, parsed against the
// documented fields), plain lines off a terminal, --quiet, and the progress
// bar on a terminal.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Reporter } from '../dist/src/cli/progress.js';
import type { EpochResult } from '../dist/src/index.js';
import { TRAIN, expectBadInput, runCli, smallMnist } from './predict-fixtures.js';

let tmp: string;
let data: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-json-'));
  data = smallMnist(join(tmp, 'data'), 300, 50);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SMALL = ['--epochs', '2', '--workers', '2', '--batch-size', '32', '--lr', '0.05'];

/** The documented --json line (README, "--json"): every field, its type, and what it must hold here. */
function checkEpochJson(o: Record<string, unknown>, epoch: number): void {
  expect(Object.keys(o).sort()).toEqual(['epoch', 'epochs', 'loss', 'samples', 'samplesPerSecond', 'seconds', 'test']);
  expect(o.epoch).toBe(epoch);
  expect(o.epochs).toBe(2);
  expect(o.samples).toBe(300);
  for (const k of ['loss', 'seconds', 'samplesPerSecond'] as const) {
    expect(typeof o[k]).toBe('number');
    expect(o[k] as number).toBeGreaterThan(0);
  }
  expect(o.samplesPerSecond as number).toBeCloseTo(300 / (o.seconds as number), 6);
  const t = o.test as Record<string, unknown>;
  expect(Object.keys(t).sort()).toEqual(['accuracy', 'count', 'loss']);
  expect(t.count).toBe(50);
  expect(t.accuracy as number).toBeGreaterThanOrEqual(0);
  expect(t.accuracy as number).toBeLessThanOrEqual(1);
  const correct = (t.accuracy as number) * 50;
  expect(Math.abs(correct - Math.round(correct))).toBeLessThan(1e-5); // a count of correct answers (tfjs's float32 mean)
  expect(t.loss as number).toBeGreaterThan(0);
}

describe('train --json', () => {
  it('prints exactly one JSON object per epoch on stdout, and nothing else', () => {
    const out = join(tmp, 'json-run');
    const r = runCli(TRAIN, ['--data', data, ...SMALL, '--json', '--out', out], tmp);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.endsWith('\n')).toBe(true);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBe(2);
    const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    objects.forEach((o, i) => checkEpochJson(o, i + 1));
    // The same numbers as metrics.json's epochs.
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.epochs).toEqual(objects.map(({ epochs: _, ...e }) => e));
  });

  it('wins over --quiet', () => {
    const r = runCli(TRAIN, ['--data', data, ...SMALL, '--json', '--quiet', '--out', join(tmp, 'jq')], tmp);
    expect(r.status).toBe(0);
    r.stdout
      .trimEnd()
      .split('\n')
      .forEach((l, i) => checkEpochJson(JSON.parse(l), i + 1));
  });
});

describe('train off a terminal and with --quiet', () => {
  it('prints a plain line per epoch: epoch, mean loss, samples/s, seconds, test accuracy', () => {
    const r = runCli(TRAIN, ['--data', data, ...SMALL, '--out', join(tmp, 'plain')], tmp);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const epochs = r.stdout.split('\n').filter((l) => l.startsWith('epoch '));
    expect(epochs.length).toBe(2);
    epochs.forEach((l, i) =>
      expect(l).toMatch(
        new RegExp(
          `^epoch ${i + 1}/2  loss \\d+\\.\\d{4}  \\d+ samples/s  \\d+\\.\\d\\d s  test accuracy \\d+\\.\\d\\d%$`,
        ),
      ),
    );
    // eslint-disable-next-line no-control-regex -- the terminal escape is what must not appear
    expect(r.stdout).not.toMatch(/\r|\x1b/); // no bar, no cursor movement
    expect(r.stdout).toContain(
      `wrote ${join(tmp, 'plain', 'metrics.json')}, ${join(tmp, 'plain', 'loss.png')} and a checkpoint`,
    );
  });

  it('--quiet prints nothing and still writes metrics.json and loss.png', () => {
    const out = join(tmp, 'quiet');
    const r = runCli(TRAIN, ['--data', data, ...SMALL, '--quiet', '--out', out], tmp);
    expect(r).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).epochs.length).toBe(2);
    expect(readFileSync(join(out, 'loss.png')).length).toBeGreaterThan(1000);
  });

  it.each([
    { args: ['--json=1'], message: '--json takes no value' },
    { args: ['--quiet=yes'], message: '--quiet takes no value' },
    { args: ['--json', 'extra'], message: 'unexpected argument extra (flags start with --; see --help)' },
  ])('$args: exit 2 with one line', ({ args, message }) => {
    expectBadInput(runCli(TRAIN, ['--data', data, ...args], tmp), message);
  });
});

describe('the progress bar on a terminal', () => {
  /** A stream that says it is a terminal and keeps what is written. */
  function terminal(): { stream: NodeJS.WriteStream; text: () => string } {
    const s = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
    let text = '';
    s.on('data', (b: Buffer) => (text += b.toString()));
    Object.assign(s, { isTTY: true, columns: 120, rows: 40 });
    return { stream: s, text: () => text };
  }
  const epoch = (e: number): EpochResult => ({
    epoch: e,
    loss: 0.5,
    samples: 1000,
    seconds: 2,
    samplesPerSecond: 500,
    test: { loss: 0.4, accuracy: 0.875, metrics: { acc: 0.875 }, count: 100 },
  });

  const SHAPE = { epochs: 3, stepsPerEpoch: 10, batchSize: 100, samples: 1000 };

  it('draws epoch, samples/s, running loss and ETA, then replaces the bar by the epoch line', async () => {
    const t = terminal();
    const r = Reporter.create('auto', SHAPE, t.stream);
    expect(r.chunkSteps()).toBe(1); // ~1/20 epoch per dispatch, at least 1 step
    expect(Reporter.create('auto', { ...SHAPE, stepsPerEpoch: 938 }, t.stream).chunkSteps()).toBe(47);
    r.steps(2, Float64Array.of(1.5, 1.0)); // steps 1-2 of epoch 1: 200 samples
    await new Promise((ok) => setTimeout(ok, 20));
    r.steps(5, Float64Array.of(1, 1, 0.5)); // steps 3-5
    r.epoch(epoch(1));
    const out = t.text();
    expect(out).toMatch(/epoch 1\/3 [█░]+ 20% \| \d+ samples\/s \| loss 1\.2500 \| ETA/);
    expect(out).toMatch(/epoch 1\/3 [█░]+ 50% \| \d+ samples\/s \| loss 1\.0000 \| ETA/);
    expect(out).toContain('epoch 1/3  loss 0.5000  500 samples/s  2.00 s  test accuracy 87.50%\n');
    expect(out.indexOf('epoch 1/3  loss')).toBeGreaterThan(out.lastIndexOf('ETA'));
  });

  it('a resumed epoch counts only the steps this process ran in its running loss', () => {
    const t = terminal();
    const r = Reporter.create('auto', SHAPE, t.stream);
    r.steps(17, Float64Array.of(0.25)); // epoch 2, resumed at step 16
    r.stopBar();
    expect(t.text()).toMatch(/epoch 2\/3 [█░]+ 70% \| \d+ samples\/s \| loss 0\.2500 \| ETA/);
  });

  it('off a terminal: whole epochs per dispatch and no bar', () => {
    const s = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
    let text = '';
    s.on('data', (b: Buffer) => (text += b.toString()));
    const r = Reporter.create('auto', SHAPE, s);
    expect(r.chunkSteps()).toBeUndefined();
    r.steps(2, Float64Array.of(1.5, 1.0));
    r.epoch(epoch(1));
    expect(text).toBe('epoch 1/3  loss 0.5000  500 samples/s  2.00 s  test accuracy 87.50%\n');
  });
});
