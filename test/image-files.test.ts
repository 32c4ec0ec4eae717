// An image folder decoded per step by the training threads (src/data/image-files.ts,
// src/worker/shard-rows.ts): the same samples as imageFolder, as paths; `train --decode per-step`
// trains the model `--decode up-front` trains, bit for bit (the convnet, a held-out split, a
// skipped file), and the flag's bad values and misplaced uses are one line each.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCanvas } from '@napi-rs/canvas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../dist/src/data/image-decode.js';
import { imageFolderSamples, pathAt } from '../dist/src/data/image-files.js';
import { holdOut } from '../dist/src/data/samples.js';
import { imageFolder } from '../dist/src/index.js';
import { writeDigitFolder } from './digit-files.js';
import { mnist, runCli } from './helpers.js';

const CONVNET = fileURLToPath(new URL('../examples/convnet.js', import.meta.url));
let tmp: string;
let digits: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-image-files-'));
  digits = writeDigitFolder(join(tmp, 'digits'), mnist().train, 0, 400);
  writeFileSync(join(digits, '3', 'broken.png'), 'not a png');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('an image folder as files', () => {
  it("imageFolder's samples, each row a path; auto decodes a small folder up front; a held-out split keeps its paths", async () => {
    const options = { skipBadFiles: true };
    const decoded = await imageFolder(digits, options);
    const files = await imageFolderSamples(digits, options, 'per-step');
    expect([files.count, files.shape, files.classes, files.skipped]).toEqual([
      decoded.count,
      decoded.shape,
      decoded.classes,
      decoded.skipped,
    ]);
    expect(files.split.labels).toEqual(decoded.split.labels);
    expect(files.split.images.length).toBe(0);
    const table = files.split.files!;
    expect(pathAt(table, 0)).toBe(join(digits, '0', '00001.png'));
    expect(pathAt(table, files.count - 1)).toMatch(new RegExp(`^${join(digits, '9')}/\\d+\\.png$`));
    const auto = await imageFolderSamples(digits, options, 'auto');
    expect([auto.split.files, auto.split.images]).toEqual([undefined, decoded.split.images]);
    const a = holdOut(files, 0.25, 3);
    const b = holdOut(decoded, 0.25, 3);
    expect(a.test.split.labels).toEqual(b.test.split.labels);
    expect(a.test.split.files!.starts.length).toBe(b.test.count + 1);
    const f = decoded.split.features;
    const row = new Float32Array(f);
    for (const i of [0, 5, b.test.count - 1]) {
      await decodeImage(pathAt(a.test.split.files!, i), table.format, row);
      expect(row).toEqual(b.test.split.images.subarray(i * f, (i + 1) * f));
    }
  });
});

describe('train --decode', () => {
  it('per-step trains the model up-front trains, bit for bit: the convnet, a held-out split, a skipped file', async () => {
    const common = ['--data', digits, '--model', CONVNET, '--workers', '2', '--epochs', '1', '--batch-size', '32'];
    const extra = ['--val-split', '0.2', '--skip-bad-files', '--logdir', 'none'];
    const run = async (decode: string): Promise<{ lines: string[]; weights: Buffer }> => {
      const out = join(tmp, `run-${decode}`);
      const r = await runCli([...common, ...extra, '--decode', decode, '--out', out], tmp, 300_000);
      expect(r.stderr).toContain(`${join(digits, '3', 'broken.png')}: is not a PNG or JPEG file`);
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.split('\n').filter((l) => /^(epoch|test accuracy)/.test(l));
      return {
        lines: lines.map((l) => l.replace(/\d+ samples\/s\s+[\d.]+ s/, '')),
        weights: readFileSync(join(out, 'weights.bin')),
      };
    };
    const [upFront, perStep] = [await run('up-front'), await run('per-step')];
    expect(perStep.lines.length).toBeGreaterThanOrEqual(2);
    expect(perStep.lines).toEqual(upFront.lines);
    expect(perStep.weights.equals(upFront.weights)).toBe(true);
  });

  it('the files the addon decodes (JPEGs, PNGs to resize): the same model, nothing more on stderr', async () => {
    const jpegs = join(tmp, 'jpegs');
    const d = mnist().train;
    for (let i = 0; i < 120; i++) {
      const canvas = createCanvas(28, 28);
      const ctx = canvas.getContext('2d');
      const img = ctx.createImageData(28, 28);
      for (let p = 0; p < 784; p++)
        img.data.set([...Array(3).fill(Math.round(d.images[i * 784 + p] * 255)), 255], 4 * p);
      ctx.putImageData(img, 0, 0);
      mkdirSync(join(jpegs, String(d.labels[i])), { recursive: true });
      writeFileSync(join(jpegs, String(d.labels[i]), `${i}.jpg`), canvas.toBuffer('image/jpeg'));
    }
    for (const [data, extra] of [
      [jpegs, []],
      [digits, ['--image-size', '20x20', '--skip-bad-files']],
    ] as const) {
      const run = async (decode: string): Promise<{ out: string; weights: Buffer; stderr: string }> => {
        const out = join(tmp, `addon-${decode}-${extra.length}`);
        const args = [
          '--data',
          data,
          ...extra,
          '--workers',
          '2',
          '--epochs',
          '3',
          '--batch-size',
          '16',
          '--logdir',
          'none',
        ];
        const r = await runCli([...args, '--decode', decode, '--out', out], tmp, 300_000);
        expect(r.status, r.stderr).toBe(0);
        return { out: r.stdout, weights: readFileSync(join(out, 'weights.bin')), stderr: r.stderr };
      };
      const [upFront, perStep] = [await run('up-front'), await run('per-step')];
      expect(perStep.weights.equals(upFront.weights)).toBe(true);
      expect(perStep.stderr).toBe(upFront.stderr);
      expect(perStep.stderr).not.toContain('ObjectRef');
    }
  });

  it('a bad value, and --decode beside data that is not an image folder: one line, exit 2', async () => {
    const bad = await runCli(['--data', digits, '--decode', 'lazy'], tmp);
    expect([bad.status, bad.stderr.trim()]).toEqual([
      2,
      'error: --decode must be up-front, per-step, auto, got "lazy"',
    ]);
    mkdirSync(join(tmp, 'csv'), { recursive: true });
    const csv = join(tmp, 'csv', 'd.csv');
    writeFileSync(csv, 'label,a\n0,1\n1,2\n');
    const misplaced = await runCli(['--data', csv, '--decode', 'per-step'], tmp);
    expect([misplaced.status, misplaced.stderr.trim()]).toEqual([
      2,
      'error: --decode applies to an image folder --data, not to a .csv file',
    ]);
  });
});
