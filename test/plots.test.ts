// Every training run writes metrics.json, loss.png (and a checkpoint) to its folder; the PNG
// renderers draw legible text with the font shipped in npm; the terminal view.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GlobalFonts, loadImage, createCanvas } from '@napi-rs/canvas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOSS_WINDOW, MetricsLog, type Metrics, type RunInfo } from '../dist/src/io/metrics.js';
import { classifyPng } from '../dist/src/viz/classify.js';
import { FONT, useFont } from '../dist/src/viz/font.js';
import { gridPng } from '../dist/src/viz/grid.js';
import { epochsShown, lossPng } from '../dist/src/viz/loss.js';
import { barLines, digitLines, sideBySide } from '../dist/src/viz/terminal.js';
import { mnist } from './helpers.js';
import { TRAIN, expectBadInput, pngSize, runCli, smallMnist } from './predict-fixtures.js';

let tmp: string;
let data: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-plots-'));
  data = smallMnist(join(tmp, 'data'), 400, 50);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RUN: RunInfo = {
  startedAt: '2025-01-01T00:00:00.000Z',
  options: {
    workers: 2,
    epochs: 3,
    batchSize: 64,
    lr: 0.003,
    hidden: [128, 64],
    seed: 0,
    backend: 'auto',
    gradients: 'manual',
    stepTimeoutMs: 60000,
  } as RunInfo['options'],
  backend: 'wasm',
  layers: [784, 128, 64, 10],
  data: '/data',
  trainSamples: 60000,
  testSamples: 10000,
  stepsPerEpoch: 938,
  loadedFrom: null,
};

/** Dark pixels (any channel < 128) in a box of a decoded PNG: text and lines are dark on white. */
async function darkPixels(png: Buffer, x: number, y: number, w: number, h: number): Promise<number> {
  const img = await loadImage(png);
  const c = createCanvas(img.width, img.height);
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(x, y, w, h).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (Math.min(d[i], d[i + 1], d[i + 2]) < 128) n++;
  return n;
}

describe('the run folder', () => {
  it('a 2-epoch run writes metrics.json (the documented fields), loss.png and the model to --out', () => {
    const out = join(tmp, 'run');
    const r = runCli(
      TRAIN,
      ['--data', data, '--epochs', '2', '--workers', '2', '--batch-size', '8', '--lr', '0.05', '--out', out],
      tmp,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'checkpoint.wddp',
      'loss.png',
      'metrics.json',
      'model.json',
      'tb',
      'weights.bin',
    ]);
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as Metrics;
    expect(Object.keys(m).sort()).toEqual(
      [
        'version',
        'startedAt',
        'options',
        'backend',
        'layers',
        'data',
        'trainSamples',
        'testSamples',
        'stepsPerEpoch',
        'loadedFrom',
        'epochs',
        'stepLoss',
      ].sort(),
    );
    expect(m.version).toBe(1);
    expect(m.options).toMatchObject({ workers: 2, epochs: 2, batchSize: 8, lr: 0.05, hidden: [128, 64], seed: 0 });
    expect(m).toMatchObject({
      layers: [784, 128, 64, 10],
      trainSamples: 400,
      testSamples: 50,
      stepsPerEpoch: 50,
      loadedFrom: null,
    });
    expect(m.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    // 100 steps in windows of LOSS_WINDOW: the windows cover every step once, and their mean is the epochs' mean.
    expect(m.stepLoss.map((w) => [w.step, w.steps])).toEqual([[100, 100]]);
    expect(m.stepLoss[0].loss).toBeCloseTo((m.epochs[0].loss + m.epochs[1].loss) / 2, 12);
    expect(pngSize(readFileSync(join(out, 'loss.png')))).toEqual({ width: 1168, height: 452 });
  });

  it('without --out, a new folder runs/<UTC time> under the current folder', () => {
    const r = runCli(TRAIN, ['--data', data, '--epochs', '1', '--workers', '1', '--quiet'], tmp);
    expect(r.status).toBe(0);
    const runs = readdirSync(join(tmp, 'runs'));
    expect(runs.length).toBe(1);
    expect(runs[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/);
    expect(readdirSync(join(tmp, 'runs', runs[0])).sort()).toEqual([
      'checkpoint.wddp',
      'loss.png',
      'metrics.json',
      'model.json',
      'tb',
      'weights.bin',
    ]);
  });

  it.each([
    {
      name: 'a file',
      args: () => ['--out', join(tmp, 'data', 't10k-labels-idx1-ubyte')],
      message: () => `--out ${join(tmp, 'data', 't10k-labels-idx1-ubyte')}: is a file or lies under one, not a folder`,
    },
    {
      name: 'under a file',
      args: () => ['--out', join(tmp, 'data', 't10k-labels-idx1-ubyte', 'x')],
      message: () =>
        `--out ${join(tmp, 'data', 't10k-labels-idx1-ubyte', 'x')}: is a file or lies under one, not a folder`,
    },
    { name: 'empty', args: () => ['--out', ''], message: () => '--out needs a folder, got ""' },
    { name: 'missing', args: () => ['--out'], message: () => '--out needs a value (see --help)' },
  ])('--out $name: exit 2 with one line', ({ args, message }) => {
    expectBadInput(runCli(TRAIN, ['--data', data, '--epochs', '1', ...args()], tmp), message());
  });
});

describe('MetricsLog', () => {
  it('averages the step losses over windows of LOSS_WINDOW steps, the last one open', () => {
    const log = new MetricsLog(RUN);
    const losses = Float64Array.from({ length: 250 }, (_, i) => i);
    log.addSteps(losses.subarray(0, 130));
    log.addSteps(losses.subarray(130));
    expect(LOSS_WINDOW).toBe(100);
    expect(log.toJSON().stepLoss).toEqual([
      { step: 100, steps: 100, loss: 49.5 },
      { step: 200, steps: 100, loss: 149.5 },
      { step: 250, steps: 50, loss: 224.5 },
    ]);
    log.addSteps(Float64Array.from({ length: 50 }, () => 0));
    expect(log.toJSON().stepLoss.map((w) => w.step)).toEqual([100, 200, 300]);
  });
});

describe('PNG rendering', () => {
  it('registers DejaVu Sans from the dejavu-fonts-ttf package under its own family name', () => {
    expect(useFont()).toBe(FONT);
    expect(GlobalFonts.has(FONT)).toBe(true);
  });

  it('view_classify: the digit upright on the left, titled bars 0-9 on the right', async () => {
    const { test } = mnist();
    const pixels = test.images.slice(0, 784);
    const probs = Float32Array.from([0.01, 0.01, 0.02, 0.01, 0.01, 0.01, 0.01, 0.9, 0.01, 0.01]);
    const png = await classifyPng({ pixels, rows: 28, cols: 28, probs, caption: 'test image 0, label 7' });
    writeFileSync(join(tmp, 'classify.png'), png);
    expect(pngSize(png)).toEqual({ width: 928, height: 424 });
    // The digit: drawn at (24, 56), 12 px per pixel; a 7's top bar is white in row 8, its bottom-left empty.
    const img = await loadImage(png);
    const c = createCanvas(img.width, img.height);
    c.getContext('2d').drawImage(img, 0, 0);
    const at = (x: number, y: number): number =>
      c.getContext('2d').getImageData(24 + 12 * x + 6, 56 + 12 * y + 6, 1, 1).data[0];
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++)
        expect(Math.abs(at(x, y) - Math.round(255 * pixels[y * 28 + x]))).toBeLessThanOrEqual(1);
    // Text is drawn: the caption above the digit, the title above the chart, the class labels left of the bars.
    expect(await darkPixels(png, 24, 8, 336, 24)).toBeGreaterThan(100);
    expect(await darkPixels(png, 560, 10, 300, 30)).toBeGreaterThan(200);
    expect(await darkPixels(png, 390, 50, 25, 330)).toBeGreaterThan(100);
  });

  it('the grid and the loss curves draw their titles', async () => {
    const { test } = mnist();
    const cells = Array.from({ length: 25 }, (_, j) => ({
      pixels: test.images.slice(j * 784, (j + 1) * 784),
      predicted: j % 7 === 0 ? 0 : test.labels[j],
      label: test.labels[j],
    }));
    const grid = await gridPng(cells, 28, 28, 5, 'Test images 0-24: predicted labels');
    writeFileSync(join(tmp, 'grid.png'), grid);
    expect(await darkPixels(grid, 100, 10, 500, 50)).toBeGreaterThan(300);

    const log = new MetricsLog(RUN);
    for (let e = 1; e <= 3; e++) {
      log.addSteps(Float64Array.from({ length: 938 }, (_, i) => 2.3 * Math.exp(-((e - 1) * 938 + i) / 1500)));
      log.addEpoch({
        epoch: e,
        loss: 2 / e,
        samples: 60000,
        seconds: 3,
        samplesPerSecond: 20000,
        test: { loss: 1 / e, accuracy: 0.8 + e / 20, metrics: { acc: 0.8 + e / 20 }, count: 10000 },
      });
    }
    const loss = await lossPng(log.toJSON());
    writeFileSync(join(tmp, 'loss.png'), loss);
    expect(await darkPixels(loss, 150, 20, 300, 30)).toBeGreaterThan(200);
    expect(await darkPixels(loss, 720, 20, 300, 30)).toBeGreaterThan(200);
  });
});

describe('loss.png x axis', () => {
  it('covers the step windows of a run stopped inside an epoch, not only its finished epochs', () => {
    const log = new MetricsLog(RUN);
    expect(epochsShown(log.toJSON())).toBe(1);
    log.addSteps(new Float64Array(938));
    log.addEpoch({
      epoch: 1,
      loss: 2,
      samples: 60000,
      seconds: 3,
      samplesPerSecond: 20000,
      test: { loss: 1, accuracy: 0.8, metrics: { acc: 0.8 }, count: 10000 },
    });
    expect(epochsShown(log.toJSON())).toBe(1);
    log.addSteps(new Float64Array(938 + 400)); // stopped at step 2276, inside epoch 3
    expect(epochsShown(log.toJSON())).toBe(3);
  });
});

describe('terminal view', () => {
  it('frames the digit, two characters per pixel, and labels the bars 0-9', () => {
    const { test } = mnist();
    const lines = digitLines(test.images.subarray(0, 784), 28, 28);
    expect(lines.length).toBe(30);
    for (const l of lines) expect([...l].length).toBe(58);
    expect(lines[9]).toMatch(/█/); // the 7's top bar
    const bars = barLines([0, 0.5, 1, 0, 0, 0, 0, 0, 0, 0.0625]);
    expect(bars[0]).toBe('Class Probability');
    expect(bars[1]).toBe(` 0 │${' '.repeat(41)} 0.000`);
    expect(bars[2]).toBe(` 1 │${'█'.repeat(20)}${' '.repeat(21)} 0.500`);
    expect(bars[3]).toBe(` 2 │${'█'.repeat(40)}  1.000`);
    expect(bars[10]).toBe(` 9 │██▌${' '.repeat(38)} 0.063`);
    const both = sideBySide(lines, bars);
    expect(both.length).toBe(30);
    expect(both[10]).toContain(' 0 │');
  });
});
