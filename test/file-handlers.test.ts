// The package's `file://` IOHandlers (src/io/file-handlers.ts): model.save('file://DIR') and
// tf.loadLayersModel('file://DIR/model.json') without tfjs-node, writing tfjs-node's files; one-line
// errors naming the file; and a file:// handler registered by someone else (tfjs-node) left alone.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../dist/src/backend.js';
import { MODEL_JSON, WEIGHTS_BIN, registerFileHandlers } from '../dist/src/io/file-handlers.js';
import { rejection } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
let tmp: string;

function smallModel(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ units: 5, inputShape: [4], activation: 'relu' }),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

/** x: [6, 4], fixed values. */
function inputs(): tf.Tensor2D {
  return tf.tensor2d(
    Array.from({ length: 24 }, (_, i) => Math.sin(i)),
    [6, 4],
  );
}

async function message(p: Promise<unknown>): Promise<string> {
  return ((await rejection(p)) as Error).message;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-file-handlers-'));
  expect(tf.io.getSaveHandlers('file://x')).toHaveLength(0); // plain tfjs has none
  await import('../dist/src/index.js'); // registers them
  await initBackend('cpu');
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('file:// handlers', () => {
  it('importing the package registers one save and one load handler; registering again adds none', () => {
    registerFileHandlers();
    expect(tf.io.getSaveHandlers('file://x')).toHaveLength(1);
    expect(tf.io.getLoadHandlers('file://x/model.json')).toHaveLength(1);
    expect(tf.io.getSaveHandlers('http://host/x')).toHaveLength(1); // tfjs's own http handler, untouched
  });

  it("round trip: tfjs-node's files into a new nested folder, the same weights and predictions back", async () => {
    const model = smallModel();
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const dir = join(tmp, 'a', 'b', 'model');
    await model.save(`file://${dir}`, { includeOptimizer: true });
    expect(readdirSync(dir).sort()).toEqual([MODEL_JSON, WEIGHTS_BIN]);
    const json = JSON.parse(readFileSync(join(dir, MODEL_JSON), 'utf8'));
    expect(Object.keys(json)).toEqual([
      'modelTopology',
      'weightsManifest',
      'format',
      'generatedBy',
      'convertedBy',
      'trainingConfig',
    ]);
    expect(json.weightsManifest).toHaveLength(1);
    expect(json.weightsManifest[0].paths).toEqual([WEIGHTS_BIN]);
    expect(json.trainingConfig.loss).toBe('categorical_crossentropy');
    const specs = json.weightsManifest[0].weights as { shape: number[] }[];
    const values = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    expect(readFileSync(join(dir, WEIGHTS_BIN)).length).toBe(4 * values); // float32 model weights + Adam's slots

    const loaded = await tf.loadLayersModel(`file://${join(dir, MODEL_JSON)}`);
    const want = model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(loaded.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(want);
    const x = inputs();
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(
      Array.from((model.predict(x) as tf.Tensor).dataSync()),
    );
  });

  it('saving again replaces the files whole; no temporary file is left', async () => {
    const dir = join(tmp, 'twice');
    await smallModel().save(`file://${dir}`);
    const second = smallModel();
    await second.save(`file://${dir}`);
    expect(readdirSync(dir).sort()).toEqual([MODEL_JSON, WEIGHTS_BIN]);
    const loaded = await tf.loadLayersModel(`file://${join(dir, MODEL_JSON)}`);
    expect(loaded.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(
      second.getWeights().map((w) => Array.from(w.dataSync())),
    );
  });

  const bad: {
    name: string;
    setup: (dir: string) => void;
    url: (dir: string) => string;
    message: (dir: string) => string | RegExp;
  }[] = [
    {
      name: 'a missing model.json',
      setup: () => {},
      url: (d) => join(d, MODEL_JSON),
      message: (d) => `${join(d, MODEL_JSON)}: not found`,
    },
    {
      name: 'corrupt JSON',
      setup: (d) => writeFileSync(join(d, MODEL_JSON), '{oops'),
      url: (d) => join(d, MODEL_JSON),
      message: (d) => new RegExp(`^${join(d, MODEL_JSON)}: is not valid JSON: [^\\n]+$`),
    },
    {
      name: 'JSON that is no model',
      setup: (d) => writeFileSync(join(d, MODEL_JSON), '[1, 2]'),
      url: (d) => join(d, MODEL_JSON),
      message: (d) =>
        `${join(d, MODEL_JSON)}: is not a LayersModel model.json: it needs "modelTopology" and "weightsManifest"`,
    },
    {
      name: 'a folder',
      setup: () => {},
      url: (d) => d,
      message: (d) => `${d}: is a folder; load the model.json inside it (${join(d, MODEL_JSON)})`,
    },
    {
      name: 'a missing weights.bin',
      setup: (d) =>
        writeFileSync(
          join(d, MODEL_JSON),
          JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: [WEIGHTS_BIN], weights: [] }] }),
        ),
      url: (d) => join(d, MODEL_JSON),
      message: (d) => `${join(d, WEIGHTS_BIN)}: not found (named in ${join(d, MODEL_JSON)})`,
    },
  ];

  it.each(bad)(
    'loading $name: one line naming the file and the defect',
    async ({ name, setup, url, message: want }) => {
      const d = join(tmp, `bad-${name.replaceAll(' ', '-')}`);
      mkdirSync(d);
      setup(d);
      const got = await message(tf.loadLayersModel(`file://${url(d)}`));
      const w = want(d);
      if (typeof w === 'string') expect(got).toBe(w);
      else expect(got).toMatch(w);
    },
  );

  it('saving where a file is in the way: one line naming it', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expect(await message(smallModel().save(`file://${file}`))).toBe(
      `${file}: is a file; a model is saved into a folder`,
    );
  });

  it('stands aside for a file:// handler registered after it (tfjs-node imported later)', async () => {
    const saved: string[] = [];
    const standIn: tf.io.IOHandler = {
      save: async (a) => {
        saved.push('stand-in');
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
      },
    };
    // Answers only under /stand-in, so the tests above and below still reach ours.
    tf.io.registerSaveRouter((url) =>
      typeof url === 'string' && url.startsWith('file:///stand-in/') ? standIn : (null as unknown as tf.io.IOHandler),
    );
    expect(tf.io.getSaveHandlers('file:///stand-in/m')).toEqual([standIn]);
    await smallModel().save('file:///stand-in/m');
    expect(saved).toEqual(['stand-in']);
    expect(tf.io.getSaveHandlers(`file://${tmp}/ours`)).toHaveLength(1);
  });
});

it('importing the package where a file:// handler exists already registers none of ours', () => {
  // A fresh process: this one's registry has ours already.
  const script = `
    import * as tf from '@tensorflow/tfjs';
    const standIn = { save: async () => ({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }), load: async () => ({}) };
    tf.io.registerSaveRouter((url) => (url.startsWith('file://') ? standIn : null));
    tf.io.registerLoadRouter((url) => (url.startsWith('file://') ? standIn : null));
    await import('./dist/src/index.js');
    const s = tf.io.getSaveHandlers('file:///tmp/m');
    const l = tf.io.getLoadHandlers('file:///tmp/m/model.json');
    console.log(JSON.stringify([s.length, s[0] === standIn, l.length, l[0] === standIn]));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.stderr).toBe('');
  expect(r.stdout.trim()).toBe('[1,true,1,true]');
});
