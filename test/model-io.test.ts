// Saved models in TensorFlow.js's LayersModel format: a model saved here loads
// in plain @tensorflow/tfjs with the standard loader (over HTTP from a local
// static server) and predicts our numbers; loading validates the file; and the
// train CLI's --save / --load.
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../dist/src/backend.js';
import { writeWeights } from '../dist/src/fit/spec.js';
import { ModelFileError } from '../dist/src/io/model-error.js';
import { MODEL_JSON, WEIGHTS_BIN, loadModel, saveModel, trainableParams } from '../dist/src/io/model-file.js';
import { makeLayout } from '../dist/src/model/layout.js';
import { describeSizes, tutorialMlp, type MlpConfig } from '../dist/src/model/tutorial-mlp.js';
import { Trainer } from '../dist/src/index.js';
import { maxAbsDiff, rejection, subset } from './helpers.js';
import { TRAIN, expectBadInput, runCli, smallMnist } from './predict-fixtures.js';

const CONFIG: MlpConfig = { inputSize: 784, hidden: [128, 64], numClasses: 10 };
/** The tutorial MLP's parameter count for CONFIG: 784*128 + 128 + 128*64 + 64 + 64*10 + 10. */
const P = 109_386;

/** The tutorial MLP of `config` holding `params` (its flat layout), as a run saves it. */
function mlpWith(config: MlpConfig, params: Float32Array): tf.Sequential {
  const model = tutorialMlp(config, 0);
  writeWeights(model, params, new Float32Array(0));
  return model;
}

/** The flat layout's variables of a model: what a run's Trainer.layout lists. */
function variables(model: tf.LayersModel): { name: string; shape: number[] }[] {
  return model.trainableWeights.map((w) => ({ name: w.originalName, shape: [...w.shape] as number[] }));
}
const TEST_IMAGES = 100;

let tmp: string;
let modelDir: string;
/** Our predictions on the first TEST_IMAGES test images: the Trainer's, computed by its workers. */
let ours: Float32Array;
let params: Float32Array;
let testImages: Float32Array;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-model-io-'));
  await initBackend('wasm'); // this thread's tfjs, for saving and for the reference loader
  const data = subset(2000, TEST_IMAGES);
  await using trainer = await Trainer.create({ data, workers: 2, epochs: 1, backend: 'wasm', batchSize: 20, lr: 0.1 });
  for await (const _ of trainer.fit());
  params = trainer.getParams();
  testImages = data.test.images.slice();
  ours = await trainer.predict(testImages, TEST_IMAGES);
  modelDir = join(tmp, 'model');
  const model = mlpWith(CONFIG, params);
  await saveModel(modelDir, model);
  model.dispose();
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Serves `dir`'s files at http://127.0.0.1:PORT/ (port 0: any free one). */
async function serve(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const name = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^[/\\]+/, '');
    const file = join(dir, name);
    if (name.startsWith('..') || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': name.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('a saved model in the ecosystem format', () => {
  it('writes model.json (a Sequential of Dense layers, ReLU then softmax) and weights.bin', () => {
    const json = JSON.parse(readFileSync(join(modelDir, MODEL_JSON), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.modelTopology.class_name).toBe('Sequential');
    const layers = json.modelTopology.config.layers as {
      class_name: string;
      config: { units: number; activation: string };
    }[];
    expect(layers.map((l) => [l.class_name, l.config.units, l.config.activation])).toEqual([
      ['Dense', 128, 'relu'],
      ['Dense', 64, 'relu'],
      ['Dense', 10, 'softmax'],
    ]);
    expect(json.weightsManifest).toEqual([
      {
        paths: [WEIGHTS_BIN],
        weights: [
          { name: 'fc1/kernel', shape: [784, 128], dtype: 'float32' },
          { name: 'fc1/bias', shape: [128], dtype: 'float32' },
          { name: 'fc2/kernel', shape: [128, 64], dtype: 'float32' },
          { name: 'fc2/bias', shape: [64], dtype: 'float32' },
          { name: 'fc3/kernel', shape: [64, 10], dtype: 'float32' },
          { name: 'fc3/bias', shape: [10], dtype: 'float32' },
        ],
      },
    ]);
    expect(params.length).toBe(P);
    expect(readFileSync(join(modelDir, WEIGHTS_BIN)).length).toBe(4 * P);
  });

  it('loads with plain tfjs tf.loadLayersModel from an http URL and predicts our numbers on 100 test images (max abs diff <= 1e-6)', async () => {
    const { server, url } = await serve(modelDir);
    try {
      const model = await tf.loadLayersModel(`${url}/${MODEL_JSON}`);
      const theirs = tf.tidy(
        () => (model.predict(tf.tensor2d(testImages, [TEST_IMAGES, 784])) as tf.Tensor).dataSync() as Float32Array,
      );
      model.dispose();
      expect(theirs.length).toBe(TEST_IMAGES * 10);
      const diff = maxAbsDiff(theirs, ours);
      expect(diff).toBeLessThanOrEqual(1e-6);
      // Not a vacuous match: the model is trained and confident about some digits.
      expect(Math.max(...ours)).toBeGreaterThan(0.5);
      console.log(
        `tfjs loadLayersModel over http vs Trainer.predict, ${TEST_IMAGES} images: max abs diff ${diff.toExponential(2)}`,
      );
    } finally {
      server.close();
    }
  });

  it('loads back bit for bit: the architecture and every parameter', async () => {
    const m = await loadModel(modelDir);
    try {
      expect(m.file).toBe(join(modelDir, MODEL_JSON));
      const mlp = tutorialMlp(CONFIG, 0);
      const loaded = trainableParams(m, variables(mlp), 'this run');
      mlp.dispose();
      expect(
        Buffer.from(loaded.buffer, loaded.byteOffset, loaded.byteLength).equals(
          Buffer.from(params.buffer, params.byteOffset, params.byteLength),
        ),
      ).toBe(true);
    } finally {
      m.model.dispose();
    }
  });

  it('round-trips other architectures, leaking no tensors', async () => {
    const before = tf.memory().numTensors;
    for (const hidden of [[7], [5, 4, 3]]) {
      const config = { inputSize: 12, hidden, numClasses: 3 };
      const model = tutorialMlp(config, 0);
      const p = Float32Array.from({ length: makeLayout(variables(model)).size }, (_, i) => Math.sin(i));
      writeWeights(model, p, new Float32Array(0));
      const dir = join(tmp, `arch-${hidden.join('-')}`);
      await saveModel(dir, model);
      const m = await loadModel(dir);
      expect(maxAbsDiff(trainableParams(m, variables(model), 'this run'), p)).toBe(0);
      m.model.dispose();
      model.optimizer.dispose(); // tutorialMlp compiles with its own SGD object
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('trainableParams names the file and both lists of weight shapes', async () => {
    const m = await loadModel(modelDir);
    const other = tutorialMlp({ ...CONFIG, hidden: [32] }, 0);
    try {
      expect(() => trainableParams(m, variables(other), 'this run')).toThrow(
        `${m.file}: has weights [784,128] [128] [128,64] [64] [64,10] [10], but this run has [784,32] [32] [32,10] [10]`,
      );
      expect(describeSizes({ ...CONFIG, hidden: [32] })).toBe('784-32-10');
    } finally {
      other.dispose();
      m.model.dispose();
    }
  });
});

describe('loading a bad model folder: ModelFileError naming the file', () => {
  /** A copy of the good model with `edit` applied to model.json, or files replaced. */
  function variant(
    name: string,
    edit: (json: Record<string, unknown>) => void,
    files: Record<string, Buffer | null> = {},
  ): string {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    const json = JSON.parse(readFileSync(join(modelDir, MODEL_JSON), 'utf8'));
    edit(json);
    writeFileSync(join(dir, MODEL_JSON), JSON.stringify(json));
    writeFileSync(join(dir, WEIGHTS_BIN), readFileSync(join(modelDir, WEIGHTS_BIN)));
    for (const [f, bytes] of Object.entries(files)) {
      if (bytes === null) rmSync(join(dir, f));
      else writeFileSync(join(dir, f), bytes);
    }
    return dir;
  }
  const layer = (json: Record<string, unknown>, i: number): Record<string, unknown> =>
    (json.modelTopology as { config: { layers: { config: Record<string, unknown> }[] } }).config.layers[i].config;

  const cases: { name: string; dir: () => string; file?: string; detail: string | RegExp }[] = [
    { name: 'no folder', dir: () => join(tmp, 'nope'), detail: 'not found (save a model with train --save DIR)' },
    {
      name: 'a run folder with a checkpoint, no model: a stopped run',
      dir: () => {
        const dir = join(tmp, 'stopped');
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'checkpoint.wddp'), 'a checkpoint');
        return dir;
      },
      detail: /^not found: the run stopped before saving it \(continue it with train --resume \/.*\/stopped\)$/,
    },
    {
      name: 'not JSON',
      dir: () => variant('garbage', () => {}, { [MODEL_JSON]: Buffer.from('{oops') }),
      detail: /^is not valid JSON: /,
    },
    {
      name: 'JSON without a topology',
      dir: () => variant('no-topology', () => {}, { [MODEL_JSON]: Buffer.from('{"a":1}') }),
      detail: 'is not a LayersModel model.json: it needs "modelTopology" and "weightsManifest"',
    },
    {
      name: 'weights file missing',
      dir: () => variant('no-weights', () => {}, { [WEIGHTS_BIN]: null }),
      file: WEIGHTS_BIN,
      detail: /^not found \(named in .*model\.json\)$/,
    },
    {
      name: 'weights truncated',
      dir: () => variant('short', () => {}, { [WEIGHTS_BIN]: Buffer.alloc(100) }),
      detail: `has 100 bytes of weights but its manifest needs ${4 * P}`,
    },
    {
      name: 'weights path outside the folder',
      dir: () =>
        variant('escape', (j) => ((j.weightsManifest as { paths: string[] }[])[0].paths = ['../model/weights.bin'])),
      detail: 'names weights file "../model/weights.bin" outside its folder',
    },
    {
      name: 'a layer of another size than its weights',
      dir: () => variant('units', (j) => (layer(j, 1).units = 32)),
      detail: /^is not a TensorFlow\.js LayersModel: /,
    },
    {
      name: 'an unknown layer class',
      dir: () =>
        variant(
          'conv',
          (j) =>
            ((j.modelTopology as { config: { layers: { class_name: string }[] } }).config.layers[1].class_name =
              'Nonsense'),
        ),
      detail: /^is not a TensorFlow\.js LayersModel: /,
    },
  ];

  it.each(cases)('$name', async ({ dir, file, detail }) => {
    const d = dir();
    const err = await rejection(loadModel(d));
    expect(err).toBeInstanceOf(ModelFileError);
    const e = err as ModelFileError;
    expect(e.name).toBe('ModelFileError');
    expect(e.file).toBe(join(d, file ?? MODEL_JSON));
    if (typeof detail === 'string') expect(e.detail).toBe(detail);
    else expect(e.detail).toMatch(detail);
    expect(e.message).toBe(`${e.file}: ${e.detail}`);
    expect(e.message).not.toContain('\n');
  });
});

describe('train CLI: --save and --load', () => {
  let data: string;
  let saved: string;

  beforeAll(() => {
    data = smallMnist(join(tmp, 'small'), 300, 50);
    saved = join(tmp, 'cli-model');
  });

  it('--save writes a model that --load continues from, on the same data', async () => {
    const a = runCli(
      TRAIN,
      [
        '--data',
        data,
        '--epochs',
        '1',
        '--workers',
        '1',
        '--batch-size',
        '30',
        '--lr',
        '0.05',
        '--hidden',
        '32',
        '--save',
        saved,
        '--out',
        join(tmp, 'run-a'),
      ],
      tmp,
    );
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    expect(a.stdout).toContain(`saved the model to ${join(saved, MODEL_JSON)}`);
    const m = await loadModel(saved);
    expect(m.model.trainableWeights.map((w) => w.shape)).toEqual([[784, 32], [32], [32, 10], [10]]);
    m.model.dispose();

    const b = runCli(
      TRAIN,
      [
        '--data',
        data,
        '--epochs',
        '1',
        '--workers',
        '1',
        '--batch-size',
        '30',
        '--lr',
        '0.05',
        '--hidden',
        '32',
        '--load',
        saved,
        '--out',
        join(tmp, 'run-b'),
      ],
      tmp,
    );
    expect(b.stderr).toBe('');
    expect(b.status).toBe(0);
    expect(b.stdout).toContain(`from ${join(saved, MODEL_JSON)}`);
    const loss = (out: string): number => Number(/epoch 1\/1 {2}loss (\S+)/.exec(out)?.[1]);
    expect(loss(b.stdout)).toBeLessThan(loss(a.stdout)); // it started from the trained weights
    const metrics = JSON.parse(readFileSync(join(tmp, 'run-b', 'metrics.json'), 'utf8'));
    expect(metrics.loadedFrom).toBe(saved);
  });

  const cases: { name: string; args: () => string[]; message: () => string }[] = [
    {
      name: '--load of a missing folder',
      args: () => ['--load', join(tmp, 'missing')],
      message: () => `${join(tmp, 'missing', MODEL_JSON)}: not found (save a model with train --save DIR)`,
    },
    {
      name: '--load of another architecture',
      args: () => ['--load', saved, '--data', data],
      message: () =>
        `${join(saved, MODEL_JSON)}: has weights [784,32] [32] [32,10] [10], but this run's MLP 784-128-64-10 (--hidden) has [784,128] [128] [128,64] [64] [64,10] [10]`,
    },
    { name: '--load ""', args: () => ['--load', ''], message: () => '--load needs a folder, got ""' },
    { name: '--save ""', args: () => ['--save', ''], message: () => '--save needs a folder, got ""' },
    { name: '--load without a value', args: () => ['--load'], message: () => '--load needs a value (see --help)' },
    { name: '--save without a value', args: () => ['--save'], message: () => '--save needs a value (see --help)' },
    {
      name: '--save to a file',
      args: () => ['--save', join(saved, WEIGHTS_BIN), '--data', data],
      message: () => `--save ${join(saved, WEIGHTS_BIN)}: is a file or lies under one, not a folder`,
    },
  ];

  it.each(cases)('$name: exit 2 with one line', ({ args, message }) => {
    expectBadInput(
      runCli(TRAIN, ['--epochs', '1', '--workers', '1', '--out', join(tmp, 'bad-run'), ...args()], tmp),
      message(),
    );
  });
});
