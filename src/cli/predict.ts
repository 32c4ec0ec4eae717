#!/usr/bin/env node
/**
 * `npm run predict -- [--model DIR] [--index K | --image FILE.png | --grid] [--data PATH]`:
 * class probabilities of one digit (or a grid of 25) from a saved model (by
 * default the newest training run's: the tutorial MLP, a --model run's convnet,
 * any LayersModel of one input and one output per class), shown on the terminal
 * and written as a PNG; the test images are MNIST's or --data's (predict-data.ts).
 * Runs the model in this thread with tfjs: no pool needed for a handful of
 * images. A model trained on regression targets prints its predictions beside
 * them (predict-targets.ts). Exit codes as `train`: 0 done, 2 bad input, 1 anything else.
 */
import { writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { initBackend } from '../backend.js';
import { DataFileError } from '../data/idx.js';
import { decodeImage } from '../data/image-decode.js';
import { ModelFileError } from '../io/model-error.js';
import { loadModel } from '../io/model-file.js';
import { dataMetadata, type DataMetadata } from '../io/model-metadata.js';
import { readDigitPng } from '../io/png-digit.js';
import { OptionError, checkInt } from '../options.js';
import { argmax, classifyPng } from '../viz/classify.js';
import { gridPng } from '../viz/grid.js';
import { barLines, digitLines, sideBySide } from '../viz/terminal.js';
import { outliveClosedStdout } from './closed-stdout.js';
import { Classifier } from './classifier.js';
import { PREDICT_USAGE, parsePredict, type PredictCommand } from './predict-args.js';
import { loadTestSet, type TestSet } from './predict-data.js';
import { predictTargets } from './predict-targets.js';
import { makeDir, newestRunModel } from './run-dir.js';

const GRID = 25;
const GRID_COLUMNS = 5;

async function main(argv: readonly string[]): Promise<number> {
  const cmd = parsePredict(argv);
  if (cmd.kind === 'help') {
    process.stdout.write(PREDICT_USAGE);
    return 0;
  }
  await initBackend('auto');
  const saved = await loadModel(cmd.model ?? newestModel());
  const meta = dataMetadata(saved.model, saved.file);
  if (meta.regression === true) return predictTargets(saved, meta, cmd);
  makeDir('--out', cmd.out); // for the PNG; a regression model's predictions are text
  const model = Classifier.of(saved);
  if (cmd.image !== undefined) return image(cmd, model, cmd.image);
  const test = await loadTestSet(cmd.data, cmd.files, model, cmd.grid);
  for (const w of test.warnings) console.error(`warning: ${w}`);
  const index = checkInt('--index', cmd.index, [0, test.count - 1]);
  return cmd.grid ? grid(cmd, model, test, index) : digit(cmd, model, test, index);
}

async function digit(cmd: PredictCommand, model: Classifier, test: TestSet, index: number): Promise<number> {
  const input = test.images.slice(index * test.features, (index + 1) * test.features);
  const caption = `test ${test.noun} ${index}, label ${test.classes[test.labels[index]]}`;
  const pixels = gray(input, test.channels);
  return show(cmd, model, input, pixels, test.rows, test.cols, caption, `digit-${index}.png`);
}

async function image(cmd: PredictCommand, model: Classifier, file: string): Promise<number> {
  const { image: format, labelColumn } = model.data;
  if (format !== undefined) return folderImage(cmd, model, file, format);
  if (labelColumn !== undefined)
    throw new OptionError(
      `--image ${file}: the model ${model.file} was trained on the rows of a CSV file (label column ${JSON.stringify(labelColumn)}), not on images: give rows with --data FILE.csv`,
    );
  const side = Math.round(Math.sqrt(model.inputSize));
  if (side * side !== model.inputSize) {
    throw new ModelFileError(model.file, `takes ${model.inputSize} inputs, not a square image: --image needs one`);
  }
  const pixels = await readDigitPng(file, side, cmd.invert);
  return show(cmd, model, pixels, pixels, side, side, basename(file), `image-${basename(file, '.png')}.png`);
}

/**
 * An image for a model trained on an image folder: decoded as its training
 * images were (its size and channels, from model.json), shown by its luminance.
 */
async function folderImage(
  cmd: PredictCommand,
  model: Classifier,
  file: string,
  format: NonNullable<DataMetadata['image']>,
): Promise<number> {
  const { height, width, channels } = format;
  if (height * width * channels !== model.inputSize) {
    throw new ModelFileError(
      model.file,
      `takes ${model.inputSize} inputs, but its images were ${height}x${width}x${channels}`,
    );
  }
  const pixels = new Float32Array(model.inputSize);
  await decodeImage(file, { ...format, resize: true }, pixels);
  if (cmd.invert) pixels.forEach((v, i) => (pixels[i] = 1 - v));
  const shown = gray(pixels, channels);
  return show(cmd, model, pixels, shown, height, width, basename(file), `image-${basename(file, extname(file))}.png`);
}

/** An image of 1 or 3 interleaved channels as it is shown: its gray values, the mean of an RGB pixel's. */
function gray(pixels: Float32Array, channels: 1 | 3): Float32Array {
  if (channels === 1) return pixels;
  return Float32Array.from(
    { length: pixels.length / 3 },
    (_, i) => (pixels[3 * i] + pixels[3 * i + 1] + pixels[3 * i + 2]) / 3,
  );
}

/** The newest run's model folder, named on stderr; a one-line OptionError when there is none. */
function newestModel(): string {
  const dir = newestRunModel();
  if (dir === undefined) {
    const what = 'train one first (npm run train), or pass --model DIR, a folder with model.json';
    throw new OptionError(`no trained model under runs/: ${what}`);
  }
  console.error(`using the newest run's model, ${dir} (--model DIR for another)`);
  return dir;
}

/** The terminal view and the PNG of one image. */
async function show(
  cmd: PredictCommand,
  model: Classifier,
  input: Float32Array,
  pixels: Float32Array,
  rows: number,
  cols: number,
  caption: string,
  name: string,
): Promise<number> {
  const probs = model.probabilities(input, 1);
  const best = argmax(probs);
  const out = join(cmd.out, name);
  const names = model.data.classes;
  writeFileSync(out, await classifyPng({ pixels, rows, cols, probs, caption, names }));
  const lines = [
    `${caption}: predicted ${model.className(best)} (probability ${probs[best].toFixed(3)})`,
    ...sideBySide(digitLines(pixels, rows, cols), barLines(probs, undefined, names)),
  ];
  process.stdout.write(`${lines.join('\n')}\nwrote ${out}\n`);
  return 0;
}

/**
 * Note [correct by name]: a prediction is right when the model's class name
 * (its index where model.json names none) is the sample's class name, so a
 * test set whose classes are a subset of the model's, or in another order,
 * is marked as it should be. Re-check: npx vitest run test/predict-data.test.ts
 */
async function grid(cmd: PredictCommand, model: Classifier, test: TestSet, from: number): Promise<number> {
  const n = Math.min(GRID, test.count - from);
  const f = test.features;
  const probs = model.probabilities(test.images.slice(from * f, (from + n) * f), n);
  const c = model.numClasses;
  const cells = Array.from({ length: n }, (_, j) => ({
    pixels: gray(test.images.slice((from + j) * f, (from + j + 1) * f), test.channels),
    predicted: model.className(argmax(probs.subarray(j * c, (j + 1) * c))),
    label: test.classes[test.labels[from + j]],
  }));
  const title = `Test ${test.noun}s ${from}-${from + n - 1}: predicted labels`;
  const out = join(cmd.out, `grid-${from}.png`);
  writeFileSync(out, await gridPng(cells, test.rows, test.cols, GRID_COLUMNS, title));
  const wrong = cells.filter((x) => x.predicted !== x.label).length;
  const lines = [
    `test ${test.noun}s ${from}-${from + n - 1}: ${n - wrong}/${n} correct (predicted/true; * marks a mistake)`,
  ];
  const shown = cells.map((x) => `${x.predicted === x.label ? ' ' : '*'}${x.predicted}/${x.label}`);
  const width = Math.max(...shown.map((x) => x.length));
  for (let r = 0; r < n; r += GRID_COLUMNS) {
    lines.push(
      shown
        .slice(r, r + GRID_COLUMNS)
        .map((x) => x.padEnd(width))
        .join('  ')
        .trimEnd(),
    );
  }
  process.stdout.write(`${lines.join('\n')}\nwrote ${out}\n`);
  return 0;
}

outliveClosedStdout();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const bad = err instanceof OptionError || err instanceof DataFileError;
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = bad ? 2 : 1;
  },
);
