// `--model FILE`: a module's LayersModel trained by the CLI; every way the module can be
// wrong is one line and exit 2; a CommonJS module with an async function works; --save
// writes a model that plain tfjs loads back.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../dist/src/io/model-file.js';
import { idxSlice, mnist, runCli, smallMnistDir, type CliResult } from './helpers.js';
import { PREDICT, runCli as runPredict } from './predict-fixtures.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/models/', import.meta.url));
const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

let tmp: string;
let small: string;

function cli(args: readonly string[]): Promise<CliResult> {
  return runCli(args, tmp);
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-model-'));
  small = smallMnistDir(join(tmp, 'small'), 200, 100); // 200 training and 100 test samples of the real MNIST
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('--model, bad input: exit 2, one stderr line, empty stdout', () => {
  const f = (name: string): string => join(FIXTURES, name);
  const cases: [string[], string][] = [
    [['--model', f('nope.js')], `--model ${f('nope.js')}: no such file`],
    [
      ['--model', f('no-export.js')],
      `--model ${f('no-export.js')}: the default export (or module.exports) must be a tf.LayersModel or a function returning one, got nothing (no default export)`,
    ],
    [['--model', f('throws.js')], `--model ${f('throws.js')}: loading the module failed: boom while loading`],
    [
      ['--model', f('syntax-error.js')],
      `--model ${f('syntax-error.js')}: loading the module failed: line 4: Unexpected token '='`,
    ],
    [
      ['--model', f('function-throws.js')],
      `--model ${f('function-throws.js')}: its exported function threw: boom in build`,
    ],
    [
      ['--model', f('wrong-input.js')],
      `--model ${f('wrong-input.js')}: its input [100] holds 100 values, the data has 784 values per sample (28x28)`,
    ],
    [
      ['--model', f('logits.js')],
      `--model ${f('logits.js')}: its output activation is linear, but the loss categoricalCrossentropy takes class probabilities: end the model in a softmax`,
    ],
    [
      ['--model', f('logits.js'), '--loss', 'sparseCategoricalCrossentropy'],
      `--model ${f('logits.js')}: its output activation is linear, but --loss sparseCategoricalCrossentropy takes class probabilities: end the model in a softmax`,
    ],
    [
      ['--model', f('five-classes.js')],
      `--model ${f('five-classes.js')}: its output has 5 units, the data has 10 classes`,
    ],
    [
      ['--loss', 'meanSquaredError'],
      '--loss needs --model (the MLP trains on categorical cross-entropy, with --regression mean squared error)',
    ],
    [['--model', f('five-classes.js'), '--hidden', '32'], '--hidden is for the MLP, not a --model'],
    [
      ['--model', f('five-classes.js'), '--loss', 'hinge'],
      '--loss must be one of categoricalCrossentropy, sparseCategoricalCrossentropy, binaryCrossentropy, meanSquaredError, meanAbsoluteError, got "hinge"',
    ],
  ];
  const results: CliResult[] = [];
  beforeAll(async () => {
    for (let i = 0; i < cases.length; i += 2)
      results.push(...(await Promise.all(cases.slice(i, i + 2).map(([args]) => cli([...args, '--data', small])))));
  });
  it.each(
    cases.map(([args, message], i) => ({ name: args.map((a) => a.replace(FIXTURES, '')).join(' '), message, i })),
  )('$name', ({ message, i }) => {
    const r = results[i];
    expect(r.stderr).toBe(`error: ${message}\n`);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(2);
  });
});

describe('a run that ends before it trains leaves no run folder (Note [no empty run folders])', () => {
  it('a bad --model: exit 2, and its new --out folder (and parents) are gone', async () => {
    const out = join(tmp, 'fresh', 'run');
    const r = await cli(['--model', join(FIXTURES, 'throws.js'), '--data', small, '--out', out]);
    expect(r.status).toBe(2);
    expect(existsSync(join(tmp, 'fresh'))).toBe(false); // its parent too, which the run made
    const kept = join(tmp, 'kept'); // a folder the user made stays
    mkdirSync(kept);
    expect((await cli(['--model', join(FIXTURES, 'throws.js'), '--data', small, '--out', kept])).status).toBe(2);
    expect(existsSync(kept)).toBe(true);
  });

  it('Ctrl-C while the inputs load: one line, exit 130, and the new --out folder is gone', async () => {
    const out = join(tmp, 'interrupted');
    const r = await cli(['--model', join(FIXTURES, 'interrupts.js'), '--data', small, '--out', out]);
    expect(r.stderr).toBe('SIGINT: stopped before training began; nothing was trained\n');
    expect(r.status).toBe(130);
    expect(existsSync(out)).toBe(false);
  });
});

describe('--model, good input', () => {
  it('a CommonJS module exporting an async function of an uncompiled model, with --loss sparseCategoricalCrossentropy', async () => {
    const r = await cli([
      '--model',
      join(FIXTURES, 'sparse.cjs'),
      '--loss',
      'sparseCategoricalCrossentropy',
      '--lr',
      '0.1',
      '--data',
      small,
      '--workers',
      '2',
      '--epochs',
      '2',
      '--backend',
      'wasm',
      '--batch-size',
      '20',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const accuracy = Number(/test accuracy (\d+\.\d+)% \(\d+\/100\)/.exec(r.stdout)?.[1]);
    expect(accuracy).toBeGreaterThan(40); // 2 epochs of 200 images; chance is 10%
  });

  it('examples/mlp.js with --save: plain tfjs loads the saved model, which predicts as the run evaluated', async () => {
    const save = join(tmp, 'saved');
    const r = await cli([
      '--model',
      join(EXAMPLES, 'mlp.js'),
      '--lr',
      '0.1',
      '--data',
      small,
      '--workers',
      '2',
      '--epochs',
      '1',
      '--backend',
      'wasm',
      '--save',
      save,
      '--json',
    ]);
    expect(r.status).toBe(0);
    const epoch = JSON.parse(r.stdout.trim().split('\n')[0]) as { test: { accuracy: number } };
    const model = await tf.loadLayersModel(
      tf.io.fromMemory(JSON.parse(readFileSync(join(save, 'model.json'), 'utf8')).modelTopology, ...weights(save)),
    );
    const x = tf.tensor2d(
      Float32Array.from(idxSlice('t10k-images-idx3-ubyte', 16, 784, 100).subarray(16), (p) => p / 255),
      [100, 784],
    );
    const y = idxSlice('t10k-labels-idx1-ubyte', 8, 1, 100).subarray(8);
    const predicted = (model.predict(x) as tf.Tensor).argMax(-1).dataSync();
    const correct = Array.from(predicted).filter((p, i) => p === y[i]).length;
    expect(correct / 100).toBeCloseTo(epoch.test.accuracy, 6);
  });
});

describe('a model ending in a Softmax layer (tf.layers.softmax())', () => {
  it('trains on cross-entropy, and predict prints its own probabilities (not a softmax of them)', async () => {
    const out = join(tmp, 'softmax-layer');
    const r = await cli([
      '--model',
      join(FIXTURES, 'softmax-layer.js'),
      '--data',
      small,
      '--workers',
      '1',
      '--epochs',
      '1',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const p = runPredict(PREDICT, ['--model', out, '--data', small, '--index', '0'], tmp);
    expect(p.status, p.stderr).toBe(0);
    const said = Number(/\(probability ([01]\.\d{3})\)$/m.exec(p.stdout)?.[1]);
    const { model } = await loadModel(out);
    expect(model.layers[model.layers.length - 1].getClassName()).toBe('Softmax');
    const probs = (model.predict(tf.tensor2d(mnist().test.images.slice(0, 784), [1, 784])) as tf.Tensor).dataSync();
    expect(Math.abs(said - Math.max(...probs))).toBeLessThanOrEqual(0.0005);
  });
});

describe('a --model run: its saved model is what predict reads and --load starts from', () => {
  it('examples/convnet.js: npm run predict classifies with the newest run, and --load continues from it', async () => {
    const cwd = join(tmp, 'convnet-cwd');
    mkdirSync(cwd);
    const convnet = join(EXAMPLES, 'convnet.js');
    const common = ['--model', convnet, '--data', small, '--workers', '2', '--epochs', '1', '--backend', 'wasm'];
    const a = await runCli(common, cwd);
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    const [run] = readdirSync(join(cwd, 'runs'));
    const p = runPredict(PREDICT, ['--data', small, '--index', '3'], cwd);
    expect(p.stderr).toBe(`using the newest run's model, ${join('runs', run)} (--model DIR for another)\n`);
    expect(p.status).toBe(0);
    expect(p.stdout).toMatch(/^test image 3, label \d: predicted \d \(probability [01]\.\d{3}\)$/m);

    const b = await runCli([...common, '--load', join(cwd, 'runs', run), '--out', join(cwd, 'b')], cwd);
    expect(b.stderr).toBe('');
    expect(b.status).toBe(0);
    expect(b.stdout).toContain(`from ${join(cwd, 'runs', run, 'model.json')}`);
    const loss = (out: string): number => Number(/epoch 1\/1 {2}loss (\S+)/.exec(out)?.[1]);
    expect(loss(b.stdout)).toBeLessThan(loss(a.stdout)); // it started from the trained weights

    const mlp = await runCli(
      ['--data', small, '--workers', '1', '--epochs', '1', '--load', join(cwd, 'runs', run)],
      cwd,
    );
    expect(mlp.status).toBe(2);
    expect(mlp.stderr).toMatch(
      /^error: .*model\.json: has weights \[5,5,1,8\] .*, but this run's MLP 784-128-64-10 \(--hidden\) has \[784,128\] \[128\] \[128,64\] \[64\] \[64,10\] \[10\]\n$/,
    );
  });
});

/** weightSpecs and weightData of a saved model folder, for tf.io.fromMemory. */
function weights(dir: string): [tf.io.WeightsManifestEntry[], ArrayBuffer] {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  const bin = readFileSync(join(dir, 'weights.bin'));
  return [json.weightsManifest[0].weights, bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength)];
}
