// `npm run predict -- --data` on your own held-out data (src/cli/predict-data.ts): an image folder
// and a CSV, read as the model's model.json says (flags win), the true label and the prediction
// shown by class name and checked against the saved model run here on the same samples; every
// bad flag or mismatch with the model is one line, exit 2.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../dist/src/backend.js';
import type { Split } from '../dist/src/data/dataset.js';
import { imageFolder } from '../dist/src/data/image-folder.js';
import { MODEL_JSON, loadModel, saveModel } from '../dist/src/io/model-file.js';
import { DIGIT_NAMES, digitPng, writeDigitCsv, writeDigitFolder } from './digit-files.js';
import { mnist, runCli as runTrain } from './helpers.js';
import { PREDICT, expectBadInput, pngSize, runCli, type Run } from './predict-fixtures.js';

/** Held-out digits per data set: the first VAL test digits of MNIST (no eight among them). */
const VAL = 30;
/** The image model's classes: its class folders' names, sorted (cli-files.test.ts checks its model.json). */
const IMAGE_CLASSES = [...DIGIT_NAMES].sort();
/** The tolerance of a probability printed with 3 decimals. */
const PRINTED = 0.0005 + 1e-6;

let tmp: string;
/** Run folders of the tutorial MLP trained on digit images in named class folders, and on a CSV. */
let imageRun: string;
let csvRun: string;
/** The held-out digits as an image folder (named classes) and as a CSV whose label column is "digit". */
let val: string;
let valCsv: string;

/** A CSV of digits [from, from + count) of `split` whose label column is named "digit". */
function digitCsv(file: string, split: Split, from: number, count: number): string {
  writeDigitCsv(file, split, from, count);
  writeFileSync(file, readFileSync(file, 'utf8').replace(/^label,/, 'digit,'));
  return file;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-predict-data-'));
  const d = mnist();
  const quick = ['--workers', '1', '--epochs', '1', '--batch-size', '32', '--lr', '0.1', '--backend', 'wasm'];
  imageRun = join(tmp, 'run-images');
  const images = writeDigitFolder(join(tmp, 'digits'), d.train, 0, 300, DIGIT_NAMES);
  const a = await runTrain(['--data', images, ...quick, '--out', imageRun], tmp);
  expect(a.status, a.stderr).toBe(0);
  csvRun = join(tmp, 'run-csv');
  const csv = digitCsv(join(tmp, 'train.csv'), d.train, 0, 300);
  const b = await runTrain(['--data', csv, '--label-column', 'digit', ...quick, '--out', csvRun], tmp);
  expect(b.status, b.stderr).toBe(0);
  val = writeDigitFolder(join(tmp, 'val'), d.test, 0, VAL, DIGIT_NAMES);
  valCsv = digitCsv(join(tmp, 'val.csv'), d.test, 0, VAL);
  await initBackend('wasm');
  const tiny = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2, activation: 'softmax' })] });
  tiny.setUserDefinedMetadata({ classes: ['a', 'b'], labelColumn: 'y', columns: ['p', 'q', 'r', 's'] });
  await saveModel(join(tmp, 'tiny'), tiny);
}, 120_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The saved model's class probabilities (count, classes) for `count` samples of 784 values, run here. */
async function oracle(run: string, inputs: Float32Array, count: number): Promise<Float32Array> {
  const { model } = await loadModel(run);
  const p = tf.tidy(() => (model.predict(tf.tensor2d(inputs, [count, 784])) as tf.Tensor).dataSync()); // (count, 10)
  model.dispose();
  return p as Float32Array;
}

/** The held-out digits in an image folder's order: class folders sorted by name, files sorted. */
function folderOrder(): { index: number; name: string }[] {
  const labels = mnist().test.labels;
  const all = Array.from({ length: VAL }, (_, index) => ({ index, name: DIGIT_NAMES[labels[index]] }));
  return all.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : x.index - y.index));
}

const best = (p: Float32Array, k: number): number => {
  const row = Array.from(p.subarray(10 * k, 10 * k + 10));
  return row.indexOf(Math.max(...row));
};

/** "predicted NAME (probability P)" of a one-image run. */
function predicted(stdout: string): { caption: string; name: string; probability: number } {
  const m = /^(.+): predicted (\S+) \(probability (\d\.\d{3})\)$/m.exec(stdout);
  if (m === null) throw new Error(`no prediction in: ${stdout}`);
  return { caption: m[1], name: m[2], probability: Number(m[3]) };
}

/** Runs predict, which must succeed quietly. */
function predictOk(args: readonly string[]): Run {
  const r = runCli(PREDICT, args, tmp);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r;
}

/** The 5 lines of 5 `predicted/true` cells a 25-image --grid prints after its header line. */
function gridLines(stdout: string): string {
  return stdout.split('\n').slice(1, 6).join('\n');
}

describe('the metadata train saves', () => {
  it("a CSV model keeps its label column and feature columns beside its classes in model.json's userDefinedMetadata", () => {
    const json = JSON.parse(readFileSync(join(csvRun, MODEL_JSON), 'utf8')) as { userDefinedMetadata: unknown };
    const classes = Array.from({ length: 10 }, (_, k) => String(k));
    const columns = Array.from({ length: 784 }, (_, p) => `px${p}`);
    expect(json.userDefinedMetadata).toEqual({ classes, labelColumn: 'digit', columns });
  });
});

describe('predict --data on an image folder of held-out digits (9 of the model’s 10 classes)', () => {
  it('names the true class and the predicted one, as the saved model predicts on the folder’s image', async () => {
    const out = join(tmp, 'p-image');
    const r = predictOk(['--model', imageRun, '--data', val, '--index', '3', '--out', out]);
    const samples = await imageFolder(val, { size: [28, 28], resize: true });
    const p = await oracle(imageRun, samples.split.images.slice(3 * 784, 4 * 784), 1);
    const got = predicted(r.stdout);
    expect(got.caption).toBe(`test image 3, label ${folderOrder()[3].name}`);
    expect(got.name).toBe(IMAGE_CLASSES[best(p, 0)]);
    expect(Math.abs(got.probability - p[best(p, 0)])).toBeLessThanOrEqual(PRINTED);
    expect(r.stdout).toMatch(/ eight │/); // the bars are labelled by the model's class names
    expect(r.stdout).toMatch(/[▓█]{2}/); // the digit's strokes
    expect(r.stdout).toContain(`wrote ${join(out, 'digit-3.png')}\n`);
    pngSize(readFileSync(join(out, 'digit-3.png')));
  });

  it('--grid: 25 cells predicted/true by name, mistakes marked by name, and the PNG', async () => {
    const out = join(tmp, 'p-grid');
    const r = predictOk(['--model', imageRun, '--data', val, '--grid', '--out', out]);
    const samples = await imageFolder(val, { size: [28, 28], resize: true });
    const p = await oracle(imageRun, samples.split.images.slice(0, 25 * 784), 25);
    const cells = [...gridLines(r.stdout).matchAll(/([ *])([a-z]+)\/([a-z]+)/g)];
    expect(cells.length).toBe(25);
    const order = folderOrder();
    cells.forEach((m, j) => {
      expect(m[2]).toBe(IMAGE_CLASSES[best(p, j)]);
      expect(m[3]).toBe(order[j].name);
      expect(m[1] === '*').toBe(m[2] !== m[3]);
    });
    const right = cells.filter((m) => m[1] === ' ').length;
    expect(r.stdout).toContain(`test images 0-24: ${right}/25 correct`);
    pngSize(readFileSync(join(out, 'grid-0.png')));
  });
});

describe('predict --data on a CSV of held-out digits', () => {
  /** predict's line for MNIST test digit 3 is the CSV model's own prediction of it. */
  async function expectTestSample3(stdout: string): Promise<void> {
    const { test } = mnist();
    const p = await oracle(csvRun, test.images.slice(3 * 784, 4 * 784), 1);
    const got = predicted(stdout);
    expect(got.caption).toBe(`test sample 3, label ${test.labels[3]}`);
    expect(got.name).toBe(String(best(p, 0)));
    expect(Math.abs(got.probability - p[best(p, 0)])).toBeLessThanOrEqual(PRINTED);
  }

  it('reads the label column the model was trained with, and shows the row as a 28x28 digit', async () => {
    const out = join(tmp, 'p-csv');
    const r = predictOk(['--model', csvRun, '--data', valCsv, '--index', '3', '--out', out]);
    await expectTestSample3(r.stdout);
    expect(r.stdout).toContain(`┌${'─'.repeat(56)}┐`); // 28 pixels wide
    pngSize(readFileSync(join(out, 'digit-3.png')));
  });

  it('reads the model’s feature columns by name: reversed, beside an id column it does not take', async () => {
    const file = join(tmp, 'reversed.csv');
    const lines = readFileSync(valCsv, 'utf8').trimEnd().split('\n');
    const reversed = lines.map((l, i) => [i === 0 ? 'id' : String(1000 + i), ...l.split(',').reverse()].join(','));
    writeFileSync(file, `${reversed.join('\n')}\n`);
    const r = predictOk(['--model', csvRun, '--data', file, '--index', '3', '--out', join(tmp, 'p-reversed')]);
    await expectTestSample3(r.stdout);
  });

  it('--label-column wins over the model’s: a CSV whose label column is "label"', () => {
    const file = writeDigitCsv(join(tmp, 'labelled.csv'), mnist().test, 0, VAL);
    const r = runCli(PREDICT, ['--model', csvRun, '--data', file, '--label-column', 'label', '--out', tmp], tmp);
    expect(r.status, r.stderr).toBe(0);
    expect(predicted(r.stdout).caption).toBe(`test sample 0, label ${mnist().test.labels[0]}`);
    const without = runCli(PREDICT, ['--model', csvRun, '--data', file, '--out', tmp], tmp);
    expectBadInput(
      without,
      `${file}: no column "digit" in the header line (columns: label, px0, px1, px2, px3, px4, px5, px6, ...)`,
    );
  });

  it('--grid from --index 5: 25 rows, predicted/true digits, and the PNG', async () => {
    const out = join(tmp, 'p-csv-grid');
    const r = predictOk(['--model', csvRun, '--data', valCsv, '--grid', '--index', '5', '--out', out]);
    const { test } = mnist();
    const p = await oracle(csvRun, test.images.slice(5 * 784, 30 * 784), 25);
    const cells = [...gridLines(r.stdout).matchAll(/([ *])(\d)\/(\d)/g)];
    expect(cells.map((m) => [Number(m[2]), Number(m[3])])).toEqual(
      Array.from({ length: 25 }, (_, j) => [best(p, j), test.labels[5 + j]]),
    );
    expect(r.stdout).toMatch(/^test samples 5-29: \d+\/25 correct/m);
    pngSize(readFileSync(join(out, 'grid-5.png')));
  });
});

describe('predict --data, bad input: exit 2 with one line', () => {
  const model = (run: string): string => join(run, MODEL_JSON);
  const cases: { name: string; args: () => string[]; message: () => string }[] = [
    {
      name: '--label-column with an image folder',
      args: () => ['--model', imageRun, '--data', val, '--label-column', 'digit'],
      message: () => '--label-column applies to a .csv --data, not to an image folder',
    },
    {
      name: '--image-size without --data (MNIST)',
      args: () => ['--model', imageRun, '--image-size', '8x8'],
      message: () => '--image-size applies to an image folder --data, not to MNIST, the data without --data',
    },
    {
      name: '--channels with a CSV',
      args: () => ['--model', csvRun, '--data', valCsv, '--channels', '3'],
      message: () => '--channels applies to an image folder --data, not to a .csv file',
    },
    {
      name: '--skip-bad-files with a CSV',
      args: () => ['--model', csvRun, '--data', valCsv, '--skip-bad-files'],
      message: () => '--skip-bad-files applies to an image folder --data, not to a .csv file',
    },
    {
      name: '--channels 2',
      args: () => ['--model', imageRun, '--channels', '2'],
      message: () => '--channels must be 1 or 3, got "2"',
    },
    {
      name: '--image-size 28',
      args: () => ['--model', imageRun, '--image-size', '28'],
      message: () => '--image-size must be HxW (height x width), e.g. 28x28, got "28"',
    },
    {
      name: '--val-split (all of --data is shown)',
      args: () => ['--model', imageRun, '--val-split', '0.1'],
      message: () => 'unknown flag --val-split (see --help)',
    },
    {
      name: '--image with --channels',
      args: () => ['--model', imageRun, '--image', 'a.png', '--channels', '3'],
      message: () => '--image and --channels exclude each other: --channels is about test images',
    },
    {
      name: 'images of another size than the model takes',
      args: () => ['--model', imageRun, '--data', val, '--image-size', '8x8'],
      message: () => `${model(imageRun)}: takes 784 inputs, but the samples of ${val} have 64 values (8x8x1)`,
    },
    {
      name: 'RGB images for a grayscale model',
      args: () => ['--model', imageRun, '--data', val, '--channels', '3'],
      message: () => `${model(imageRun)}: takes 784 inputs, but the samples of ${val} have 2352 values (28x28x3)`,
    },
    {
      name: 'a class folder the model does not have',
      args: () => {
        const root = writeDigitFolder(join(tmp, 'val-ten'), mnist().test, 0, 4, DIGIT_NAMES);
        mkdirSync(join(root, 'ten'));
        writeFileSync(join(root, 'ten', '0.png'), digitPng(new Float32Array(784)));
        return ['--model', imageRun, '--data', root];
      },
      message: () =>
        `${model(imageRun)}: has 10 classes (eight, five, four, nine, one, seven, six, three, ...), not "ten" (the class folder ${join(tmp, 'val-ten', 'ten')})`,
    },
    {
      name: "--grid on MNIST's idx files (the default) for a model whose classes have other names",
      args: () => ['--model', imageRun, '--grid'],
      message: () =>
        `${model(imageRun)}: has 10 classes (eight, five, four, nine, one, seven, six, three, ...), not "${mnist().test.labels[0]}" (a label of the idx files in ${mnist().dir})`,
    },
    {
      name: 'a CSV label the model does not have',
      args: () => {
        const row = (label: number): string => [label, ...new Array<number>(784).fill(0)].join(',');
        const header = ['digit', ...Array.from({ length: 784 }, (_, p) => `px${p}`)].join(',');
        writeFileSync(join(tmp, 'twelve.csv'), [header, row(3), row(12)].join('\n'));
        return ['--model', csvRun, '--data', join(tmp, 'twelve.csv')];
      },
      message: () =>
        `${model(csvRun)}: has 10 classes (0, 1, 2, 3, 4, 5, 6, 7, ...), not "12" (a label in ${join(tmp, 'twelve.csv')})`,
    },
    {
      name: 'a CSV of other features than the model takes',
      args: () => {
        writeFileSync(join(tmp, 'three.csv'), 'digit,a,b,c\n1,0,0,0\n');
        return ['--model', csvRun, '--data', join(tmp, 'three.csv')];
      },
      message: () =>
        `${join(tmp, 'three.csv')}: line 1: no feature columns "px0", "px1", "px2", "px3", "px4", "px5", "px6", "px7", ... of the 784 given (the header names digit, a, b, c)`,
    },
    {
      name: 'no --data for a model trained on a CSV of other rows than MNIST’s',
      args: () => ['--model', join(tmp, 'tiny')],
      message: () =>
        `the model ${join(tmp, 'tiny', MODEL_JSON)} was trained on a CSV file, not on MNIST: give its held-out data with --data PATH`,
    },
    {
      name: '--image for a model trained on a CSV',
      args: () => ['--model', csvRun, '--image', join(tmp, 'digit.png')],
      message: () =>
        `--image ${join(tmp, 'digit.png')}: the model ${model(csvRun)} was trained on the rows of a CSV file (label column "digit"), not on images: give rows with --data FILE.csv`,
    },
    {
      name: '--data of a CSV for a model trained on an image folder',
      args: () => ['--model', imageRun, '--data', valCsv],
      message: () =>
        `--data ${valCsv}: the model ${model(imageRun)} was trained on an image folder (28x28x1 images), not on the rows of a CSV file: give an image folder, or an image with --image FILE`,
    },
    {
      name: '--data of an image folder for a model trained on a CSV',
      args: () => ['--model', csvRun, '--data', val],
      message: () =>
        `--data ${val}: the model ${model(csvRun)} was trained on the rows of a CSV file (label column "digit"), not on images: give rows with --data FILE.csv`,
    },
  ];

  it.each(cases)('$name', ({ args, message }) => {
    expectBadInput(runCli(PREDICT, args(), tmp), message());
  });
});
