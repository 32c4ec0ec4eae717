// The package as a user gets it: `npm pack`ed, installed with the two tfjs peers into a separate
// app folder, then an ESM script, a .cjs script and a .js file of a CommonJS project each load it.
// The two training scripts train with fitParallel (2 workers), save with model.save('file://...')
// and load with tf.loadLayersModel('file://.../model.json') to the same predictions as the
// trained model. Uses the compiled dist/ (npm test builds it first), so it packs with
// --ignore-scripts rather than rebuilding through prepack.
//
// Note [one ESM build, required too]: package.json's "require" condition names the same ESM
// entry as "import": Node >= 20.19 / 22.12 loads an ES module with require() when its graph has
// no top-level await (ours has none, the worker file and tfjs included), so CommonJS and ESM
// users share one instance of the package (a second, CJS build would be a second copy of its
// module state, kernel registrations included, in a program that loads both). The build runs on
// prepack (npm pack and publish), after deleting dist/ so no stale file ships; not on prepare,
// which npm 11 lists as an install script of the installed package (and warns about), and which
// would rebuild on every npm ci.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TFJS = '4.22.0';
let tmp: string;
let app: string;
let packed: string[];

function run(cmd: string, args: string[], cwd: string, timeout: number): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return r;
}

/**
 * A script that trains a 4-8-3 classifier on 64 fixed samples with fitParallel (2 workers),
 * saves it to `dir`, loads it back and prints one JSON line: the History's losses, whether
 * training moved the weights, and the largest difference between the two models' predictions.
 */
function trainScript(dir: string): string {
  return `
  await tf.setBackend('wasm');
  const x = tf.tensor2d(Array.from({ length: 64 * 4 }, (_, i) => Math.sin(i)), [64, 4]);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 3), 'int32'), 3);
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 8, inputShape: [4], activation: 'relu' }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  const before = model.getWeights().map((w) => Array.from(w.dataSync()));
  const h = await fitParallel(model, x, y, { epochs: 2, batchSize: 16, shuffle: false, workers: 2, backend: 'wasm' });
  const moved = model.getWeights().some((w, i) => w.dataSync().some((v, j) => v !== before[i][j]));
  await model.save('file://${dir}');
  const loaded = await tf.loadLayersModel('file://${dir}/model.json');
  const a = model.predict(x).dataSync();
  const b = loaded.predict(x).dataSync();
  let diff = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  console.log(JSON.stringify({ loss: h.history.loss, moved, diff }));`;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-package-'));
  const out = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT, 120_000);
  const [info] = JSON.parse(out.stdout) as { filename: string; files: { path: string }[] }[];
  packed = info.files.map((f) => f.path);
  app = join(tmp, 'app');
  mkdirSync(app);
  // No "type": a CommonJS project, as `npm init` makes one.
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  // --omit=optional: tfjs-node, optional, cannot install here; the app uses the wasm backend.
  const install = [
    'install',
    '--prefer-offline',
    '--no-audit',
    '--no-fund',
    '--omit=optional',
    join(tmp, info.filename),
    `@tensorflow/tfjs@${TFJS}`,
    `@tensorflow/tfjs-backend-wasm@${TFJS}`,
  ];
  run('npm', install, app, 170_000);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the npm pack tarball', () => {
  it('holds the compiled library, its worker and README, and no tests, benchmarks, CI or sources', () => {
    for (const f of [
      'package.json',
      'README.md',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli/main.js',
      'dist/workers/train-worker.js',
      'dist/workers/image-worker.js',
    ])
      expect(packed).toContain(f);
    const stray = packed.filter(
      (f) =>
        /^(test|bench|\.ci|scripts|src|workers|dist\/(bench|scripts|test))\//.test(f) ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')) ||
        f.endsWith('.map'),
    );
    expect(stray).toEqual([]);
  });

  it('runs no script when installed', () => {
    const scripts = (
      JSON.parse(readFileSync(join(app, 'node_modules', 'worker-ddp', 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    expect(Object.keys(scripts).filter((s) => /^(pre|post)?install$|^prepare$/.test(s))).toEqual([]);
  });

  const cases: { name: string; file: string; source: (dir: string) => string; dir: string }[] = [
    {
      name: 'an ESM script',
      file: 'train.mjs',
      dir: './esm-model', // relative, as the README writes it
      source: (dir) =>
        `import * as tf from '@tensorflow/tfjs';\nimport '@tensorflow/tfjs-backend-wasm';\nimport { fitParallel } from 'worker-ddp';\n${trainScript(dir)}\n`,
    },
    {
      name: 'a .cjs script',
      file: 'train.cjs',
      dir: 'cjs-model',
      source: (dir) =>
        `const tf = require('@tensorflow/tfjs');\nrequire('@tensorflow/tfjs-backend-wasm');\nconst { fitParallel } = require('worker-ddp');\n(async () => {${trainScript(dir)}\n})().catch((e) => { console.error(e); process.exit(1); });\n`,
    },
  ];

  it.each(cases)(
    '$name trains with fitParallel, saves to file:// and loads the same model back',
    ({ file, source, dir }) => {
      writeFileSync(join(app, file), source(dir));
      const r = spawnSync(process.execPath, [file], { cwd: app, encoding: 'utf8', timeout: 120_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const got = JSON.parse(r.stdout.trim()) as { loss: number[]; moved: boolean; diff: number };
      expect(got.loss).toHaveLength(2);
      expect(got.loss.every(Number.isFinite)).toBe(true);
      expect(got.moved).toBe(true);
      expect(got.diff).toBe(0); // the same weights on the same backend: the same floats
      expect(readFileSync(join(app, dir, 'model.json'), 'utf8')).toContain(
        '"weightsManifest":[{"paths":["weights.bin"]',
      );
    },
  );

  it("a CommonJS project's .js file requires it", () => {
    writeFileSync(
      join(app, 'check.js'),
      "const m = require('worker-ddp');\nconsole.log(typeof m.fitParallel, typeof m.Trainer);\n",
    );
    const r = spawnSync(process.execPath, ['check.js'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('function function');
  });
});
