// The CLI on files (src/cli/data-source.ts): 3000 MNIST digits as PNG files in class folders
// train examples/convnet.js to >= 95% on 1000 held-out digits, also PNG files, and predict
// names the classes; a CSV of the same digits trains the tutorial MLP as the idx files do;
// every bad file, folder or flag is one line and exit 2.
import { readFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIGIT_NAMES, digitPng, writeDigitCsv, writeDigitFolder } from './digit-files.js';
import { mnist, runCli, smallMnistDir, type CliResult } from './helpers.js';
import { PREDICT, runCli as runPredict } from './predict-fixtures.js';

const CONVNET = fileURLToPath(new URL('../examples/convnet.js', import.meta.url));
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-cli-files-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** "test accuracy 95.50% (955/1000)" -> 95.5. */
function accuracy(r: CliResult): number {
  const m = /^test accuracy ([\d.]+)% \(\d+\/\d+\)/m.exec(r.stdout);
  if (m === null) throw new Error(`no test accuracy in: ${r.stdout}\n${r.stderr}`);
  return Number(m[1]);
}

describe('an image folder of 3000 MNIST digits, 1000 held-out digits in another', () => {
  let run: string;
  let result: CliResult;
  beforeAll(async () => {
    const d = mnist();
    // Class folders named zero ... nine: sorted, eight is class 0, zero class 9.
    const root = writeDigitFolder(join(tmp, 'digits'), d.train, 0, 3000, DIGIT_NAMES);
    const val = writeDigitFolder(join(tmp, 'val'), d.test, 0, 1000, DIGIT_NAMES);
    run = join(tmp, 'run');
    // Note [3000 digits]: this convnet reaches 92.4% on the held-out digits in 2 epochs of batch 64
    // (94.3% at batch 32): 3000 samples hold it near 95%; 6 epochs of batch 32 with a cosine
    // schedule reach 95.5%. The idx files of the same digits give the same numbers.
    const flags = ['--epochs', '6', '--batch-size', '32', '--lr-schedule', 'cosine', '--backend', 'wasm'];
    result = await runCli(
      ['--data', root, '--val-data', val, '--model', CONVNET, '--workers', '2', ...flags, '--out', run],
      tmp,
    );
  });

  it('examples/convnet.js reaches >= 95% on the held-out 1000', () => {
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`data ${join(tmp, 'digits')}`);
    expect(accuracy(result)).toBeGreaterThanOrEqual(95);
    expect(result.stdout).toMatch(/\(\d+\/1000\)/);
  });

  it("saves the class names and the images' format in model.json's userDefinedMetadata", () => {
    const json = JSON.parse(readFileSync(join(run, 'model.json'), 'utf8')) as { userDefinedMetadata: unknown };
    expect(json.userDefinedMetadata).toEqual({
      classes: [...DIGIT_NAMES].sort(),
      image: { height: 28, width: 28, channels: 1 },
    });
  });

  it('predict names the class, of an image file and of a test image', () => {
    const out = join(tmp, 'predict');
    const image = runPredict(
      PREDICT,
      ['--model', run, '--image', join(tmp, 'val', 'seven', '00000.png'), '--out', out],
      tmp,
    );
    expect(image.status, image.stderr).toBe(0);
    expect(image.stdout).toMatch(/^00000\.png: predicted seven \(probability [01]\.\d{3}\)$/m);
    expect(image.stdout).toMatch(/ seven │█+ +1\.000$/m); // the bars are labelled by name
    const test = runPredict(PREDICT, ['--model', run, '--index', '1', '--out', out], tmp);
    expect(test.status, test.stderr).toBe(0);
    expect(test.stdout).toMatch(/^test image 1, label 2: predicted two \(probability/m);
  });
});

describe('a CSV of MNIST digits and the idx files of the same digits', () => {
  it('train the tutorial MLP to the same test accuracy (within 1 point)', async () => {
    const d = mnist();
    const idx = smallMnistDir(join(tmp, 'idx'), 3000, 1000);
    const train = writeDigitCsv(join(tmp, 'train.csv'), d.train, 0, 3000);
    const test = writeDigitCsv(join(tmp, 'test.csv'), d.test, 0, 1000);
    const common = ['--workers', '2', '--epochs', '2', '--optimizer', 'momentum', '--lr', '0.05', '--backend', 'wasm'];
    const a = await runCli(['--data', idx, ...common, '--out', join(tmp, 'run-idx')], tmp);
    const b = await runCli(['--data', train, '--val-data', test, ...common, '--out', join(tmp, 'run-csv')], tmp);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toContain('MLP 784-128-64-10');
    expect(Math.abs(accuracy(a) - accuracy(b))).toBeLessThanOrEqual(1);
    expect(accuracy(b)).toBeGreaterThan(80);
  });
});

describe('bad files, folders and flags: exit 2, one stderr line, empty stdout', () => {
  const png = (i: number): Buffer => digitPng(mnist().train.images.subarray(i * 784, (i + 1) * 784));
  /** root/<a|b>/<i>.png for 8 digits. */
  function smallFolder(name: string): string {
    const root = join(tmp, name);
    for (let i = 0; i < 8; i++) {
      mkdirSync(join(root, i % 2 === 0 ? 'a' : 'b'), { recursive: true });
      writeFileSync(join(root, i % 2 === 0 ? 'a' : 'b', `${i}.png`), png(i));
    }
    return root;
  }
  const quick = ['--workers', '1', '--epochs', '1', '--batch-size', '4', '--backend', 'wasm'];
  const cases: [string, () => { args: string[]; message: string }][] = [
    [
      'a truncated PNG',
      () => {
        const root = smallFolder('truncated');
        const file = join(root, 'b', '3.png');
        writeFileSync(file, png(3).subarray(0, 100));
        const detail = 'is a truncated PNG (its IDAT chunk runs past the end)';
        return { args: ['--data', root], message: `${file}: ${detail} (--skip-bad-files skips it)` };
      },
    ],
    [
      'an image of another size',
      () => {
        const root = smallFolder('sizes');
        const file = join(root, 'b', '5.png');
        writeFileSync(file, digitPng(new Float32Array(32 * 32), 32));
        const detail = `is 32x32 pixels (height x width), not the 28x28 of the first image, ${join(root, 'a', '0.png')}`;
        return { args: ['--data', root], message: `${file}: ${detail} (--image-size HxW scales every image)` };
      },
    ],
    [
      'a class folder without images',
      () => {
        const root = smallFolder('empty-class');
        mkdirSync(join(root, 'c'));
        return { args: ['--data', root], message: `${join(root, 'c')}: has no images (.png, .jpg, .jpeg files)` };
      },
    ],
    [
      'an empty root',
      () => {
        const root = join(tmp, 'empty-root');
        mkdirSync(root);
        const message = `${root}: holds neither idx files (train-images-idx3-ubyte, ...) nor class folders (<class>/<image>.png|.jpg|.jpeg)`;
        return { args: ['--data', root], message };
      },
    ],
    [
      'a CSV with a non-number',
      () => {
        const file = join(tmp, 'bad.csv');
        writeFileSync(file, 'label,px1,px2,px3\n1,0,0,0\n2,0.5,1,abc\n');
        return { args: ['--data', file], message: `${file}: line 3, column "px3": "abc" is not a number` };
      },
    ],
    [
      'a CSV without the label column',
      () => {
        const file = join(tmp, 'nolabel.csv');
        writeFileSync(file, 'digit,px1\n1,0\n');
        return {
          args: ['--data', file],
          message: `${file}: no column "label" in the header line (columns: digit, px1)`,
        };
      },
    ],
    [
      'a file that is not a CSV',
      () => {
        const file = join(tmp, 'data.txt');
        writeFileSync(file, '1,2\n');
        return {
          args: ['--data', file],
          message: `${file}: is a file; --data takes an idx folder, a .csv file or an image folder`,
        };
      },
    ],
    [
      '--val-data of another kind',
      () => {
        const root = smallFolder('kinds');
        const file = join(tmp, 'other.csv');
        writeFileSync(file, 'label,a\n1,2\n');
        return {
          args: ['--data', root, '--val-data', file],
          message: `--val-data ${file} is not an image folder like --data ${root}`,
        };
      },
    ],
    [
      '--label-column on idx data',
      () => ({
        args: ['--data', smallMnistDir(join(tmp, 'idx-small'), 20, 10), '--label-column', 'y'],
        message: '--label-column applies to a .csv --data, not to an idx folder',
      }),
    ],
    [
      '--skip-bad-files on a CSV',
      () => {
        const file = join(tmp, 'ok.csv');
        writeFileSync(file, 'label,a\n1,2\n0,1\n');
        return {
          args: ['--data', file, '--skip-bad-files'],
          message: '--skip-bad-files applies to an image folder --data, not to a .csv file',
        };
      },
    ],
    [
      '--val-data with --val-split',
      () => ({
        args: ['--data', smallFolder('both'), '--val-data', 'x', '--val-split', '0.2'],
        message: '--val-data and --val-split exclude each other: the test set is one or the other',
      }),
    ],
    [
      '--val-split 1',
      () => ({ args: ['--val-split', '1'], message: '--val-split must be a number between 0 and 1, got "1"' }),
    ],
    ['--channels 2', () => ({ args: ['--channels', '2'], message: '--channels must be 1 or 3, got "2"' })],
    [
      '--image-size 28',
      () => ({
        args: ['--image-size', '28'],
        message: '--image-size must be HxW (height x width), e.g. 28x28, got "28"',
      }),
    ],
    [
      '--image-size 0x28',
      () => ({
        args: ['--image-size', '0x28'],
        message: '--image-size height must be an integer from 1 to 8192, got 0',
      }),
    ],
  ];
  for (const [what, make] of cases) {
    it(what, async () => {
      const { args, message } = make();
      const r = await runCli([...args, ...quick, '--out', join(tmp, 'runs', what.replace(/\W+/g, '-'))], tmp);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toBe(`error: ${message}\n`);
      expect(r.stdout).toBe('');
    });
  }

  it('--skip-bad-files: trains without the truncated PNG and says which file it skipped', async () => {
    const root = smallFolder('skip');
    const file = join(root, 'b', '3.png');
    writeFileSync(file, png(3).subarray(0, 100));
    const r = await runCli(
      ['--data', root, '--skip-bad-files', '--val-split', '0.25', ...quick, '--out', join(tmp, 'run-skip')],
      tmp,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      `warning: skipped 1 of 8 images of ${root}, unreadable:\n` +
        `warning: ${file}: is a truncated PNG (its IDAT chunk runs past the end)\n`,
    );
    const metrics = JSON.parse(readFileSync(join(tmp, 'run-skip', 'metrics.json'), 'utf8')) as {
      trainSamples: number;
      testSamples: number;
    };
    expect([metrics.trainSamples, metrics.testSamples]).toEqual([5, 2]); // 7 images, 0.25 of them held out
  });

  it('RGB images scaled to --image-size train the MLP on height x width x 3 inputs; predict decodes an image so', async () => {
    const root = smallFolder('rgb');
    const run = join(tmp, 'run-rgb');
    const r = await runCli(['--data', root, '--channels', '3', '--image-size', '8x6', ...quick, '--out', run], tmp);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('MLP 144-128-64-2'); // 8 * 6 * 3 inputs, classes a and b
    const p = runPredict(PREDICT, ['--model', run, '--image', join(root, 'a', '0.png'), '--out', join(tmp, 'p')], tmp);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^0\.png: predicted [ab] \(probability/m);
  });
});
