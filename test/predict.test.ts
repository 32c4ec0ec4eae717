// `npm run predict`: one test digit (or a PNG file) and its class
// probabilities on the terminal and as a PNG; a grid of 25; bad flags.
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCanvas } from '@napi-rs/canvas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../dist/src/backend.js';
import { readCheckpoint } from '../dist/src/checkpoint.js';
import { writeWeights } from '../dist/src/fit/spec.js';
import { MODEL_JSON, WEIGHTS_BIN, loadModel, saveModel } from '../dist/src/io/model-file.js';
import { readFlat } from '../dist/src/model/flat-weights.js';
import { tutorialMlp } from '../dist/src/model/tutorial-mlp.js';
import { Trainer } from '../dist/src/index.js';
import { maxAbsDiff, mnist, subset } from './helpers.js';
import { PREDICT, TRAIN, expectBadInput, pngSize, runCli, smallMnist } from './predict-fixtures.js';

let tmp: string;
let modelDir: string;
let data: string;
/** The Trainer's probabilities for the first 30 test images (row-major, 10 per image). */
let expected: Float32Array;

const TEST = 30;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-predict-'));
  await initBackend('wasm');
  const d = subset(3000, TEST);
  await using trainer = await Trainer.create({
    data: d,
    workers: 2,
    epochs: 1,
    backend: 'wasm',
    batchSize: 20,
    lr: 0.1,
  });
  for await (const _ of trainer.fit());
  expected = await trainer.predict(d.test.images.slice(), TEST);
  modelDir = join(tmp, 'model');
  const model = tutorialMlp({ inputSize: 784, hidden: [128, 64], numClasses: 10 }, 0);
  writeWeights(model, trainer.getParams(), new Float32Array(0));
  await saveModel(modelDir, model);
  model.dispose();
  data = smallMnist(join(tmp, 'data'), 10, TEST);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The ten probabilities printed after the bars, in class order. */
function printedProbs(stdout: string): number[] {
  const rows = [...stdout.matchAll(/ (\d) │[█▏▎▍▌▋▊▉ ]* (\d\.\d{3})$/gmu)];
  expect(rows.map((m) => Number(m[1]))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  return rows.map((m) => Number(m[2]));
}

/** A PNG of test image `index`, scaled `scale` times, as RGB(A) pixels; `invert` draws it dark on light. */
function digitPng(index: number, scale: number, invert = false): Buffer {
  const { test } = mnist();
  const canvas = createCanvas(28 * scale, 28 * scale);
  const ctx = canvas.getContext('2d');
  for (let r = 0; r < 28; r++) {
    for (let c = 0; c < 28; c++) {
      const v = Math.round(255 * test.images[index * 784 + r * 28 + c]);
      const g = invert ? 255 - v : v;
      ctx.fillStyle = `rgb(${g},${g},${g})`;
      ctx.fillRect(c * scale, r * scale, scale, scale);
    }
  }
  return canvas.toBuffer('image/png');
}

describe('predict one test digit', () => {
  it("prints the digit and bars 0-9 with the model's probabilities, and writes digit-K.png", () => {
    const out = join(tmp, 'out');
    const r = runCli(PREDICT, ['--model', modelDir, '--index', '3', '--data', data, '--out', out], tmp);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const label = mnist().test.labels[3];
    const probs = expected.subarray(30, 40);
    const best = probs.indexOf(Math.max(...probs));
    expect(r.stdout).toContain(
      `test image 3, label ${label}: predicted ${best} (probability ${probs[best].toFixed(3)})`,
    );
    expect(maxAbsDiff(printedProbs(r.stdout), probs)).toBeLessThanOrEqual(0.0005 + 1e-6);
    expect(r.stdout).toContain('Class Probability');
    expect(r.stdout).toMatch(/[▓█]{2}/); // the digit's strokes
    expect(r.stdout).toContain(`wrote ${join(out, 'digit-3.png')}`);
    expect(pngSize(readFileSync(join(out, 'digit-3.png')))).toEqual({ width: 928, height: 424 });
  });

  it('defaults to test image 0 and the runs/predict folder', () => {
    const r = runCli(PREDICT, ['--model', modelDir, '--data', data], tmp);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('test image 0, label 7: predicted');
    pngSize(readFileSync(join(tmp, 'runs', 'predict', 'digit-0.png')));
  });

  it('--model takes the model.json file as well as its folder', () => {
    const r = runCli(
      PREDICT,
      ['--model', join(modelDir, 'model.json'), '--data', data, '--out', join(tmp, 'out')],
      tmp,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('test image 0, label 7: predicted');
  });
});

describe('predict --image', () => {
  it("a 28x28 grayscale PNG of a test digit gives that digit's probabilities", () => {
    const file = join(tmp, 'five.png');
    writeFileSync(file, digitPng(5, 1));
    const r = runCli(PREDICT, ['--model', modelDir, '--image', file, '--out', join(tmp, 'img')], tmp);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(maxAbsDiff(printedProbs(r.stdout), expected.subarray(50, 60))).toBeLessThanOrEqual(0.0005 + 1e-6);
    expect(r.stdout).toMatch(/^five\.png: predicted \d/);
    pngSize(readFileSync(join(tmp, 'img', 'image-five.png')));
  });

  it('a 4x larger, inverted (dark on light) PNG with --invert predicts the same class', () => {
    const file = join(tmp, 'big.png');
    writeFileSync(file, digitPng(5, 4, true));
    const r = runCli(PREDICT, ['--model', modelDir, '--image', file, '--invert', '--out', join(tmp, 'img')], tmp);
    expect(r.status).toBe(0);
    const probs = expected.subarray(50, 60);
    expect(r.stdout).toContain(`predicted ${probs.indexOf(Math.max(...probs))}`);
  });
});

describe('predict --grid', () => {
  it('writes a PNG of 25 digits and prints predicted/true labels with mistakes marked', () => {
    const out = join(tmp, 'grid');
    const r = runCli(PREDICT, ['--model', modelDir, '--grid', '--index', '2', '--data', data, '--out', out], tmp);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const cells = [...r.stdout.matchAll(/([ *])(\d)\/(\d)/g)];
    expect(cells.length).toBe(25);
    const labels = mnist().test.labels;
    cells.forEach((m, j) => {
      const probs = expected.subarray((2 + j) * 10, (3 + j) * 10);
      expect(Number(m[2])).toBe(probs.indexOf(Math.max(...probs)));
      expect(Number(m[3])).toBe(labels[2 + j]);
      expect(m[1] === '*').toBe(m[2] !== m[3]);
    });
    const right = cells.filter((m) => m[1] === ' ').length;
    expect(r.stdout).toContain(`test images 2-26: ${right}/25 correct`);
    pngSize(readFileSync(join(out, 'grid-2.png')));
  });

  it('near the end of the test set shows the digits that are left', () => {
    const r = runCli(
      PREDICT,
      ['--model', modelDir, '--grid', '--index', String(TEST - 3), '--data', data, '--out', join(tmp, 'grid')],
      tmp,
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`test images ${TEST - 3}-${TEST - 1}: `);
  });
});

describe('predict, bad input: exit 2 with one line', () => {
  const text = (): string => {
    const f = join(tmp, 'text.png');
    writeFileSync(f, 'not a png');
    return f;
  };
  const png = (name: string, w: number, h: number): string => {
    const f = join(tmp, name);
    writeFileSync(f, createCanvas(w, h).toBuffer('image/png'));
    return f;
  };
  const cases: { name: string; args: () => string[]; message: () => string }[] = [
    {
      name: 'no --model and no run with a model',
      args: () => ['--index', '1'],
      message: () =>
        'no trained model under runs/: train one first (npm run train), or pass --model DIR, a folder with model.json',
    },
    {
      name: '--model of a missing folder',
      args: () => ['--model', join(tmp, 'nope')],
      message: () => `${join(tmp, 'nope', MODEL_JSON)}: not found (save a model with train --save DIR)`,
    },
    { name: '--model ""', args: () => ['--model', ''], message: () => '--model needs a folder, got ""' },
    {
      name: '--index -1',
      args: () => ['--model', modelDir, '--index', '-1'],
      message: () => '--index must be an integer from 0 to 2147483647, got -1',
    },
    {
      name: '--index x',
      args: () => ['--model', modelDir, '--index', 'x'],
      message: () => '--index must be an integer from 0 to 2147483647, got "x"',
    },
    {
      name: '--index past the test set',
      args: () => ['--model', modelDir, '--index', String(TEST), '--data', data],
      message: () => `--index must be an integer from 0 to ${TEST - 1}, got ${TEST}`,
    },
    {
      name: '--index without a value',
      args: () => ['--model', modelDir, '--index'],
      message: () => '--index needs a value (see --help)',
    },
    {
      name: '--image missing',
      args: () => ['--model', modelDir, '--image', join(tmp, 'none.png')],
      message: () => `${join(tmp, 'none.png')}: not found`,
    },
    {
      name: '--image not a PNG',
      args: () => ['--model', modelDir, '--image', text()],
      message: () => `${join(tmp, 'text.png')}: is not a PNG file (no PNG signature)`,
    },
    {
      name: '--image a truncated PNG',
      args: () => {
        const f = png('cut.png', 28, 28);
        writeFileSync(f, readFileSync(f).subarray(0, 60));
        return ['--model', modelDir, '--image', f];
      },
      message: () => `${join(tmp, 'cut.png')}: is a truncated PNG (its sRGB chunk runs past the end)`,
    },
    {
      name: '--image not square',
      args: () => ['--model', modelDir, '--image', png('wide.png', 40, 28)],
      message: () => `${join(tmp, 'wide.png')}: is 40x28 pixels; it must be square, from 28x28 to 4096x4096`,
    },
    {
      name: '--image too small',
      args: () => ['--model', modelDir, '--image', png('tiny.png', 8, 8)],
      message: () => `${join(tmp, 'tiny.png')}: is 8x8 pixels; it must be square, from 28x28 to 4096x4096`,
    },
    {
      name: '--image ""',
      args: () => ['--model', modelDir, '--image', ''],
      message: () => '--image needs a PNG file, got ""',
    },
    {
      name: '--image with --index',
      args: () => ['--model', modelDir, '--image', 'a.png', '--index', '2'],
      message: () => '--image and --index exclude each other: --index is about test images',
    },
    {
      name: '--image with --grid',
      args: () => ['--model', modelDir, '--image', 'a.png', '--grid'],
      message: () => '--image and --grid exclude each other: --grid is about test images',
    },
    {
      name: '--image with --data',
      args: () => ['--model', modelDir, '--image', 'a.png', '--data', data],
      message: () => '--image and --data exclude each other: --data is about test images',
    },
    {
      name: '--invert without --image',
      args: () => ['--model', modelDir, '--invert'],
      message: () => '--invert applies to --image only',
    },
    { name: '--grid=yes', args: () => ['--model', modelDir, '--grid=yes'], message: () => '--grid takes no value' },
    { name: '--invert=1', args: () => ['--model', modelDir, '--invert=1'], message: () => '--invert takes no value' },
    {
      name: '--out is a file',
      args: () => ['--model', modelDir, '--out', join(modelDir, MODEL_JSON)],
      message: () => `--out ${join(modelDir, MODEL_JSON)}: is a file or lies under one, not a folder`,
    },
    { name: '--out ""', args: () => ['--model', modelDir, '--out', ''], message: () => '--out needs a folder, got ""' },
    {
      name: '--data of an empty folder',
      args: () => ['--model', modelDir, '--data', join(tmp, 'empty')],
      message: () =>
        `${join(tmp, 'empty')}: holds neither idx files (train-images-idx3-ubyte, ...) nor class folders (<class>/<image>.png|.jpg|.jpeg)`,
    },
    {
      name: 'an unknown flag',
      args: () => ['--model', modelDir, '--epochs', '2'],
      message: () => 'unknown flag --epochs (see --help)',
    },
  ];

  beforeAll(() => mkdirSync(join(tmp, 'empty'), { recursive: true }));

  it.each(cases)('$name', ({ args, message }) => {
    expectBadInput(runCli(PREDICT, args(), tmp), message());
  });

  it('--help prints the usage and exits 0', () => {
    const r = runCli(PREDICT, ['--help'], tmp);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run predict/);
    for (const f of ['--model', '--index', '--image', '--invert', '--grid', '--data', '--out'])
      expect(r.stdout).toContain(f);
  });
});

describe('predict without --model: the newest run folder holding a model', () => {
  /** A copy of the test model as the run folder `cwd/runs/name`, its model.json dated `seconds` after the epoch. */
  const run = (cwd: string, name: string, seconds: number): void => {
    const dir = join(cwd, 'runs', name);
    mkdirSync(dir, { recursive: true });
    for (const f of [MODEL_JSON, WEIGHTS_BIN]) copyFileSync(join(modelDir, f), join(dir, f));
    utimesSync(join(dir, MODEL_JSON), seconds, seconds);
  };

  it('picks the run whose model was written last, names it in one line, and predicts as with --model', () => {
    const cwd = join(tmp, 'newest');
    run(cwd, '2030-01-01T00-00-00Z', 2_000_000); // newest model, though not the last name
    run(cwd, '2030-01-02T00-00-00Z', 1_000_000);
    mkdirSync(join(cwd, 'runs', '2030-01-03T00-00-00Z'), { recursive: true }); // stopped early: no model
    const r = runCli(PREDICT, ['--index', '3', '--data', data], cwd);
    expect(r.stderr).toBe(
      `using the newest run's model, ${join('runs', '2030-01-01T00-00-00Z')} (--model DIR for another)\n`,
    );
    expect(r.status).toBe(0);
    const explicit = runCli(
      PREDICT,
      ['--model', modelDir, '--index', '3', '--data', data, '--out', join(cwd, 'runs', 'predict')],
      tmp,
    );
    expect(r.stdout).toBe(explicit.stdout.replace(join(cwd, 'runs', 'predict'), join('runs', 'predict')));
  });

  it('a default training run saves its model into its run folder, where predict finds it', async () => {
    const cwd = join(tmp, 'fresh');
    mkdirSync(cwd);
    const small = smallMnist(join(tmp, 'data-128'), 128, TEST);
    const t = runCli(TRAIN, ['--data', small, '--workers', '2', '--epochs', '1', '--backend', 'wasm'], cwd);
    expect(t.stderr).toBe('');
    expect(t.status).toBe(0);
    const [folder] = readdirSync(join(cwd, 'runs'));
    const dir = join('runs', folder);
    expect(t.stdout).toContain(`\nsaved the model to ${join(dir, MODEL_JSON)}\n`);
    // The saved model holds the trained parameters: those of the run's final checkpoint.
    const saved = await loadModel(join(cwd, dir));
    expect(saved.model.trainableWeights.map((w) => w.shape)).toEqual([
      [784, 128],
      [128],
      [128, 64],
      [64],
      [64, 10],
      [10],
    ]);
    const weights = readFlat(saved.model.trainableWeights.map((w) => w.read()));
    saved.model.dispose();
    expect(maxAbsDiff(weights, readCheckpoint(join(cwd, dir)).params)).toBe(0);

    const p = runCli(PREDICT, ['--data', small], cwd);
    expect(p.stderr).toBe(`using the newest run's model, ${dir} (--model DIR for another)\n`);
    expect(p.status).toBe(0);
    expect(p.stdout).toMatch(/^test image 0, label 7: predicted \d \(probability 0\.\d{3}\)$/m);
    expect(p.stdout).toContain(`wrote ${join('runs', 'predict', 'digit-0.png')}\n`);
  });
});
