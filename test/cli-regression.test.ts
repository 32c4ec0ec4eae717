// `train --regression`: a CSV file's label column as regression targets. The MLP with a linear
// output and mean squared error, trained by 2 workers, equals tfjs's model.fit in one thread fed
// each epoch in epochPermutation order (weights, epoch losses, test loss and mean absolute error
// <= 1e-5); the epoch lines, metrics.json, TensorBoard's val/epoch_mae and model.json say so;
// predict prints each row's prediction beside its target; a --model module trains on mean squared
// error; every misuse is one line and exit 2.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochPermutation } from '../dist/src/data/shuffle.js';
import { loadModel } from '../dist/src/io/model-file.js';
import type { Metrics } from '../dist/src/io/metrics.js';
import { tutorialMlp } from '../dist/src/model/tutorial-mlp.js';
import { Rng } from '../dist/src/rng.js';
import { flatWeights, maxAbsDiff, runCli, smallMnistDir, type CliResult } from './helpers.js';
import { PREDICT, expectBadInput, runCli as runPredict } from './predict-fixtures.js';
import { pythonOrReport } from './python.js';

const FEATURES = 6;
const TRAIN = 600; // 18 batches of 32 and one of 24
const TEST = 200;
const BATCH = 32;
const EPOCHS = 3;
const LR = 0.05;
const SEED = 4;
const COLUMNS = Array.from({ length: FEATURES }, (_, i) => `f${i}`);
const MODULE = fileURLToPath(new URL('fixtures/models/regression.js', import.meta.url));
const SOFTMAX = fileURLToPath(new URL('fixtures/models/regression-softmax.js', import.meta.url));
const CONVNET = fileURLToPath(new URL('../examples/convnet.js', import.meta.url));
const TB_READER = fileURLToPath(new URL('fixtures/tb_read.py', import.meta.url));
const TB_PYTHON = pythonOrReport(['tensorboard']);

/** Rows of a smooth nonlinear target of features in [0, 1), all float32 so the CSV text reads back exactly. */
function rows(n: number, rng: Rng): { x: Float32Array; y: Float32Array } {
  const x = Float32Array.from({ length: n * FEATURES }, () => rng.next());
  const y = Float32Array.from({ length: n }, (_, i) => {
    const f = x.subarray(i * FEATURES, (i + 1) * FEATURES);
    return 2 * f[0] - f[1] + Math.sin(3 * f[2]) + f[3] * f[4] + 0.5;
  });
  return { x, y };
}

function writeCsv(file: string, { x, y }: { x: Float32Array; y: Float32Array }, label = 'price'): string {
  const lines = [[...COLUMNS, label].join(',')];
  for (let i = 0; i < y.length; i++) lines.push([...x.subarray(i * FEATURES, (i + 1) * FEATURES), y[i]].join(','));
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

let tmp: string;
let train: { x: Float32Array; y: Float32Array };
let test: { x: Float32Array; y: Float32Array };
let trainCsv: string;
let testCsv: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-regression-'));
  const rng = new Rng(11);
  train = rows(TRAIN, rng);
  test = rows(TEST, rng);
  trainCsv = writeCsv(join(tmp, 'train.csv'), train);
  testCsv = writeCsv(join(tmp, 'test.csv'), test);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RECIPE = (): string[] => [
  '--data',
  trainCsv,
  '--val-data',
  testCsv,
  '--label-column',
  'price',
  '--regression',
  '--epochs',
  String(EPOCHS),
  '--batch-size',
  String(BATCH),
  '--lr',
  String(LR),
  '--seed',
  String(SEED),
  '--backend',
  'wasm',
];

describe('train --regression, 2 workers, against model.fit in one thread', () => {
  let run: string;
  let result: CliResult;
  let ref: tf.Sequential;
  /** Per epoch: the mean step loss, and the test loss and mean absolute error after it. */
  const oracle: { loss: number; test: number; mae: number }[] = [];

  beforeAll(async () => {
    run = join(tmp, 'run');
    result = await runCli([...RECIPE(), '--workers', '2', '--out', run], tmp);
    ref = tutorialMlp({ inputSize: FEATURES, hidden: [128, 64], numClasses: 1, head: 'regression' }, SEED, LR);
    const [x, y] = [tf.tensor2d(train.x, [TRAIN, FEATURES]), tf.tensor2d(train.y, [TRAIN, 1])];
    const [xt, yt] = [tf.tensor2d(test.x, [TEST, FEATURES]), tf.tensor2d(test.y, [TEST, 1])];
    for (let e = 0; e < EPOCHS; e++) {
      const order = tf.tensor1d(epochPermutation(TRAIN, SEED, e), 'int32');
      const losses: number[] = [];
      await ref.fit(x.gather(order), y.gather(order), {
        batchSize: BATCH,
        epochs: 1,
        shuffle: false,
        verbose: 0,
        callbacks: { onBatchEnd: (_b, logs) => void losses.push(logs!.loss) },
      });
      const [l, m] = (ref.evaluate(xt, yt, { batchSize: TEST }) as tf.Scalar[]).map((s) => s.dataSync()[0]);
      oracle.push({ loss: losses.reduce((a, b) => a + b, 0) / losses.length, test: l, mae: m });
    }
  });

  it('trains the MLP with a linear output to model.fit weights (1e-5) and prints the test loss and mae', async () => {
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('MLP 6-128-64-1');
    const saved = await loadModel(run);
    expect(maxAbsDiff(flatWeights(saved.model), flatWeights(ref))).toBeLessThanOrEqual(1e-5);
    const last = oracle[EPOCHS - 1];
    expect(result.stdout).toMatch(
      new RegExp(
        `^epoch ${EPOCHS}/${EPOCHS} .* test loss ${last.test.toFixed(4)}  test mae ${last.mae.toFixed(4)}$`,
        'm',
      ),
    );
    expect(result.stdout).toContain(
      `test loss ${last.test.toFixed(4)}, test mae ${last.mae.toFixed(4)} (${TEST} samples)`,
    );
  });

  it('metrics.json records each epoch: the loss, and the test loss, mae and count, no accuracy (1e-5)', () => {
    const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')) as Metrics;
    expect(m.layers).toEqual([FEATURES, 128, 64, 1]);
    expect(m.epochs.map((e) => Object.keys(e.test).sort())).toEqual(Array(EPOCHS).fill(['count', 'loss', 'mae']));
    m.epochs.forEach((e, k) => {
      expect(Math.abs(e.loss - oracle[k].loss)).toBeLessThanOrEqual(1e-5);
      expect(Math.abs(e.test.loss - oracle[k].test)).toBeLessThanOrEqual(1e-5);
      expect(Math.abs(e.test.mae! - oracle[k].mae)).toBeLessThanOrEqual(1e-5);
      expect(e.test.count).toBe(TEST);
    });
  });

  it("model.json's userDefinedMetadata says regression, with the label and feature columns", () => {
    const json = JSON.parse(readFileSync(join(run, 'model.json'), 'utf8')) as { userDefinedMetadata: unknown };
    expect(json.userDefinedMetadata).toEqual({ labelColumn: 'price', columns: COLUMNS, regression: true });
  });

  it.skipIf(TB_PYTHON === undefined)(
    "TensorBoard reads the test loss and mae as val's epoch_loss and epoch_mae",
    () => {
      const r = spawnSync(TB_PYTHON!, [TB_READER, join(run, 'tb')], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const val = (JSON.parse(r.stdout) as Record<string, Record<string, [number, number][]>>).val;
      const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')) as Metrics;
      expect(Object.keys(val).sort()).toEqual(['epoch_loss', 'epoch_mae']);
      expect(val.epoch_loss).toEqual(m.epochs.map((e) => [e.epoch, Math.fround(e.test.loss)]));
      expect(val.epoch_mae).toEqual(m.epochs.map((e) => [e.epoch, Math.fround(e.test.mae!)]));
    },
  );

  it("predict prints a row's prediction beside its target, and 25 rows' mean absolute error", () => {
    const predicted = (ref.predict(tf.tensor2d(test.x, [TEST, FEATURES])) as tf.Tensor).dataSync();
    const one = runPredict(PREDICT, ['--model', run, '--data', testCsv, '--index', '3'], tmp);
    expect(one.status, one.stderr).toBe(0);
    const m = /^test sample 3: predicted (\S+), price (\S+) \(error (\S+)\)\n$/.exec(one.stdout);
    expect(m, one.stdout).not.toBeNull();
    expect(Math.abs(Number(m![1]) - predicted[3])).toBeLessThanOrEqual(1e-4);
    expect(m![2]).toBe(test.y[3].toPrecision(6));
    const grid = runPredict(PREDICT, ['--model', run, '--data', testCsv, '--grid', '--index', '190'], tmp);
    expect(grid.status, grid.stderr).toBe(0);
    const lines = grid.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(12); // the summary, the header, rows 190-199
    let mae = 0;
    for (let i = 190; i < TEST; i++) mae += Math.abs(predicted[i] - test.y[i]) / 10;
    const said = /^test samples 190-199: mean absolute error (\S+)$/.exec(lines[0]);
    expect(Math.abs(Number(said![1]) - mae)).toBeLessThanOrEqual(1e-5);
    expect(lines[1].trim().split(/\s+/)).toEqual(['sample', 'predicted', 'price', 'error']);
  });
});

describe('train --regression --model', () => {
  it('an uncompiled module trains on mean squared error (--optimizer adam) and reports its mean absolute error', async () => {
    const run = join(tmp, 'module-run');
    const args = [...RECIPE(), '--model', MODULE, '--optimizer', 'adam', '--lr', '0.01', '--workers', '2', '--json'];
    const r = await runCli([...args, '--out', run, '--logdir', 'none'], tmp);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { test: { loss: number; mae: number } });
    expect(lines).toHaveLength(EPOCHS);
    // The saved model, evaluated here: its loss is the mean squared error.
    const { model } = await loadModel(run);
    const p = model.predict(tf.tensor2d(test.x, [TEST, FEATURES])) as tf.Tensor;
    const err = tf.sub(p, tf.tensor2d(test.y, [TEST, 1]));
    expect(Math.abs(tf.mean(tf.square(err)).dataSync()[0] - lines[EPOCHS - 1].test.loss)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(tf.mean(tf.abs(err)).dataSync()[0] - lines[EPOCHS - 1].test.mae)).toBeLessThanOrEqual(1e-5);
  });
});

describe('train --regression: resume, scale, --load, a tiny test set', () => {
  it('--resume alone reads the data as the run did and ends with the weights of a run never stopped', async () => {
    const run = join(tmp, 'resumed');
    const first = await runCli([...RECIPE(), '--epochs', '1', '--workers', '2', '--out', run, '--logdir', 'none'], tmp);
    expect(first.status, first.stderr).toBe(0);
    const r = await runCli(['--resume', run, '--epochs', String(EPOCHS), '--workers', '2', '--logdir', 'none'], tmp);
    expect(r.status, r.stderr).toBe(0);
    const [a, b] = [await loadModel(run), await loadModel(join(tmp, 'run'))];
    expect(maxAbsDiff(flatWeights(a.model), flatWeights(b.model))).toBe(0);
  });

  it('--resume alone of a --model run (--optimizer adam) keeps the module: the weights of a run never stopped', async () => {
    const args = [
      ...RECIPE(),
      '--model',
      MODULE,
      '--optimizer',
      'adam',
      '--lr',
      '0.01',
      '--workers',
      '2',
      '--logdir',
      'none',
    ];
    const [run, whole] = [join(tmp, 'module-resumed'), join(tmp, 'module-whole')];
    const first = await runCli([...args, '--epochs', '1', '--out', run], tmp);
    expect(first.status, first.stderr).toBe(0);
    const r = await runCli(['--resume', run, '--epochs', '2', '--workers', '2', '--logdir', 'none'], tmp);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`model ${MODULE} (`);
    const never = await runCli([...args, '--epochs', '2', '--out', whole], tmp);
    expect(never.status, never.stderr).toBe(0);
    const [a, b] = [await loadModel(run), await loadModel(whole)];
    expect(maxAbsDiff(flatWeights(a.model), flatWeights(b.model))).toBeLessThanOrEqual(1e-6);
  });

  it("--resume with another split: one line naming both runs' data flags, even when nothing is left to train", async () => {
    const run = join(tmp, 'resumed');
    const r = await runCli(
      ['--resume', run, '--epochs', String(EPOCHS), '--val-split', '0.5', '--logdir', 'none'],
      tmp,
    );
    expectBadInput(
      r,
      `${join(run, 'checkpoint.wddp')}: trained on ${TRAIN} samples of ${FEATURES} values and 1 outputs, read from ${trainCsv} with ` +
        `--label-column price --regression --val-data ${testCsv}; this run reads ${TRAIN / 2} samples of ${FEATURES} values ` +
        `and 1 regression targets, from ${trainCsv} with --label-column price --regression --val-split 0.5`,
    );
  });

  it('feature columns of a large scale: a warning naming how many and the largest; the loss then diverges, blamed on them', async () => {
    // Column 2 scaled by 1000 (as an unscaled price would be).
    const x = train.x.map((v, i) => (i % FEATURES === 2 ? v * 1000 : v));
    const big = writeCsv(join(tmp, 'big-features.csv'), { x, y: train.y });
    const column = Array.from(x.filter((_, i) => i % FEATURES === 2));
    const top = column.reduce((a, v) => (Math.abs(v) > Math.abs(a) ? v : a)); // the largest magnitude, signed
    const args = ['--data', big, '--label-column', 'price', '--regression', '--epochs', '1', '--workers', '1'];
    const r = await runCli([...args, '--out', join(tmp, 'big-features-run'), '--logdir', 'none'], tmp);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /^error: step \d+: non-finite loss; .*, try a smaller one \(--lr; but first the features, whose scale was warned of: scale them\)$/m,
    );
    expect(r.stderr.split('\n')[0]).toBe(
      `warning: 1 of the ${FEATURES} feature columns reach beyond ±10 (${COLUMNS[2]}: ${top.toPrecision(3)}): ` +
        'unscaled features train slowly or diverge; scale them (pixels to [0, 1], other columns to mean 0, deviation 1)',
    );
  });

  it('targets of a large scale: a warning naming their range, first', async () => {
    const big = writeCsv(join(tmp, 'big.csv'), { x: train.x, y: train.y.map((v) => v * 1000) });
    const r = await runCli(
      [
        '--data',
        big,
        '--label-column',
        'price',
        '--regression',
        '--epochs',
        '1',
        '--workers',
        '1',
        '--out',
        join(tmp, 'big-run'),
      ],
      tmp,
    );
    expect(r.stderr.split('\n')[0]).toMatch(
      /^warning: the regression targets reach \S+ \(mean \S+, standard deviation \S+\): on this scale mean squared error overflows or learns slowly; standardise the label column \(subtract the mean, divide by the deviation\)$/,
    );
  });

  it('a test set smaller than the workers: every worker but one evaluates nothing, the metrics stay finite', async () => {
    const one = writeCsv(join(tmp, 'one.csv'), { x: test.x.subarray(0, FEATURES), y: test.y.subarray(0, 1) });
    const args = [...RECIPE(), '--val-data', one, '--epochs', '1', '--workers', '3', '--json', '--logdir', 'none'];
    const r = await runCli([...args, '--out', join(tmp, 'one-run')], tmp);
    expect(r.status, r.stderr).toBe(0);
    const { test: t } = JSON.parse(r.stdout) as { test: { loss: number; mae: number; count: number } };
    expect(t.count).toBe(1);
    expect(Math.abs(t.mae * t.mae - t.loss)).toBeLessThanOrEqual(1e-5 * t.loss); // one sample: mae^2 = mse
  });

  it('--load of a regression model into a run on classes, and predict of a classifier on targets: one line each', async () => {
    const cls = writeCsv(join(tmp, 'cls.csv'), { x: train.x, y: train.y.map((_, i) => i % 3) }, 'label');
    const regression = join(tmp, 'run');
    const load = await runCli(
      ['--data', cls, '--load', regression, '--epochs', '1', '--out', join(tmp, 'cls-load')],
      tmp,
    );
    expectBadInput(
      load,
      `--load ${regression}: a regression model (its model.json says regression: true): give --regression`,
    );
    const classifier = join(tmp, 'cls-run');
    const r = await runCli(
      ['--data', cls, '--epochs', '1', '--workers', '1', '--out', classifier, '--logdir', 'none'],
      tmp,
    );
    expect(r.status, r.stderr).toBe(0);
    const p = runPredict(PREDICT, ['--model', classifier, '--data', trainCsv, '--label-column', 'price'], tmp);
    const label = `a 257th distinct label "${train.y[256]}", more classes than 256`;
    expectBadInput(
      p,
      `${trainCsv}: line 258, column "price": ${label}, and the model ${join(classifier, 'model.json')} predicts classes`,
    );
  });
});

describe('--regression, bad input: exit 2, one stderr line, empty stdout', () => {
  const quick = ['--workers', '1', '--epochs', '1', '--backend', 'wasm'];
  const cases: [string, () => { args: string[]; message: string }][] = [
    [
      'an idx folder',
      () => ({
        args: ['--data', smallMnistDir(join(tmp, 'idx'), 20, 10), '--regression'],
        message: '--regression applies to a .csv --data, not to an idx folder',
      }),
    ],
    [
      'numeric labels without --regression',
      () => ({
        args: ['--data', trainCsv, '--label-column', 'price'],
        message: `${trainCsv}: line 258, column "price": a 257th distinct label "${train.y[256]}", more classes than 256 (--regression trains the labels as regression targets)`,
      }),
    ],
    [
      'a target that is not a number',
      () => {
        const file = join(tmp, 'bad.csv');
        writeFileSync(file, 'a,b,price\n1,2,3.5\n4,5,n/a\n');
        return {
          args: ['--data', file, '--label-column', 'price', '--regression'],
          message: `${file}: line 3, column "price": "n/a" is not a number`,
        };
      },
    ],
    [
      'no --data (MNIST)',
      () => ({
        args: ['--regression'],
        message: '--regression applies to a .csv --data, not to MNIST, the data without --data',
      }),
    ],
    [
      'a CSV without a header line',
      () => {
        const file = join(tmp, 'headless.csv');
        writeFileSync(file, '0.5,0.25,1.5\n0.1,0.2,0.3\n');
        return {
          args: ['--data', file, '--label-column', 'price', '--regression'],
          message: `${file}: no column "price" in the header line (columns: 0.5, 0.25, 1.5); its first line must name the columns`,
        };
      },
    ],
    [
      '--loss for classes',
      () => ({
        args: [
          '--data',
          trainCsv,
          '--label-column',
          'price',
          '--regression',
          '--model',
          MODULE,
          '--loss',
          'categoricalCrossentropy',
        ],
        message:
          '--loss categoricalCrossentropy is a loss for classes; regression targets need a loss such as meanSquaredError',
      }),
    ],
    [
      'a --model whose output is a softmax',
      () => ({
        args: ['--data', trainCsv, '--label-column', 'price', '--regression', '--model', SOFTMAX],
        message: `--model ${SOFTMAX}: its output is a softmax, 1 for one unit; regression targets need a linear output`,
      }),
    ],
    [
      'a --model compiled with a loss for classes',
      () => ({
        args: ['--data', trainCsv, '--label-column', 'price', '--regression', '--model', CONVNET],
        message: `--model ${CONVNET}: categoricalCrossentropy is a loss for classes; regression targets need a loss such as meanSquaredError`,
      }),
    ],
  ];
  for (const [what, make] of cases) {
    it(what, async () => {
      const { args, message } = make();
      const r = await runCli([...args, ...quick, '--out', join(tmp, `bad-${what.replace(/\W+/g, '-')}`)], tmp);
      expectBadInput(r, message);
    });
  }

  it('predict: a regression model needs CSV rows, not MNIST or an image', async () => {
    const run = join(tmp, 'small-run');
    const r = await runCli([...RECIPE(), '--epochs', '1', '--workers', '1', '--out', run, '--logdir', 'none'], tmp);
    expect(r.status, r.stderr).toBe(0);
    const file = join(run, 'model.json');
    const csv = 'the rows of a CSV file: give rows with --data FILE.csv';
    expectBadInput(
      runPredict(PREDICT, ['--model', run], tmp),
      `the model ${file} predicts regression targets from ${csv}`,
    );
    expectBadInput(
      runPredict(PREDICT, ['--model', run, '--image', 'x.png'], tmp),
      `--image x.png: the model ${file} predicts regression targets from ${csv}`,
    );
    expectBadInput(
      runPredict(PREDICT, ['--model', run, '--data', testCsv, '--index', String(TEST)], tmp),
      `--index must be an integer from 0 to ${TEST - 1}, got ${TEST}`,
    );
  });
});
