// imageFolder (src/data/image-folder.ts): MNIST digits written as PNG files read back to the
// idx reader's floats bit for bit, on one thread or several; torchvision's ImageFolder order
// and PIL's pixels (the oracle: files PIL writes, read by PIL as torchvision's loader does);
// resizing, channels, transparency; every bad file or folder one DataFileError with its exact
// message, or skipped and listed; and fitParallel on its x and y equal to tfjs's model.fit.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { createCanvas } from '@napi-rs/canvas';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DataFileError,
  OptionError,
  fitParallel,
  imageFolder,
  type ImageFolderOptions,
  type Samples,
} from '../dist/src/index.js';
import { imageFolderSamples } from '../dist/src/data/image-files.js';
import { DIGIT_NAMES, digitPng, digitSoftmax, writeDigitFolder } from './digit-files.js';
import { flatWeights, maxAbsDiff, mnist, rejection } from './helpers.js';
import { pythonOrReport } from './python.js';

const COUNT = 600;
let tmp: string;
let digits: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-images-'));
  digits = writeDigitFolder(join(tmp, 'digits'), mnist().train, 0, COUNT, DIGIT_NAMES);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A fresh folder under tmp. */
function folder(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A w x h PNG of one RGBA colour. */
function solidPng(w: number, h: number, rgba: readonly number[]): Buffer {
  const canvas = createCanvas(w, h);
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  for (let p = 0; p < w * h; p++) img.data.set(rgba, 4 * p);
  ctx.putImageData(img, 0, 0);
  return canvas.toBuffer('image/png');
}

describe('imageFolder on MNIST digits written as PNG', () => {
  let one: Samples;
  let three: Samples;
  beforeAll(async () => {
    [one, three] = [await imageFolder(digits, { threads: 1 }), await imageFolder(digits, { threads: 3 })];
  });

  it('reads the idx floats bit for bit, classes sorted by name, each class file by file', () => {
    const d = mnist().train;
    const classes = [...DIGIT_NAMES].sort();
    expect(one.classes).toEqual(classes); // eight, five, four, nine, one, seven, six, three, two, zero
    expect(one.shape).toEqual([28, 28, 1]);
    expect([one.split.rows, one.split.cols, one.split.features]).toEqual([28, 28, 784]);
    const order = classes.flatMap((name) => {
      const digit = DIGIT_NAMES.indexOf(name);
      return Array.from({ length: COUNT }, (_, i) => i).filter((i) => d.labels[i] === digit);
    });
    expect(one.count).toBe(COUNT);
    const want = new Float32Array(COUNT * 784);
    order.forEach((i, k) => want.set(d.images.subarray(i * 784, (i + 1) * 784), k * 784));
    expect(one.split.images).toEqual(want);
    expect(Array.from(one.split.labels)).toEqual(order.map((i) => classes.indexOf(DIGIT_NAMES[d.labels[i]])));
    expect(one.split.images.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(one.skipped).toEqual([]);
  });

  it('decodes the same samples on three threads as on one', () => {
    expect(three.split.images).toEqual(one.split.images);
    expect(three.split.labels).toEqual(one.split.labels);
  });

  it('maps a test folder onto the training classes by name (a subset is fine)', async () => {
    const val = folder('val');
    for (const name of ['seven', 'two']) {
      mkdirSync(join(val, name));
      copyFileSync(join(digits, 'seven', '00015.png'), join(val, name, 'a.png'));
    }
    const s = await imageFolder(val, { classes: one.classes });
    expect(s.classes).toBe(one.classes);
    expect(Array.from(s.split.labels)).toEqual([one.classes!.indexOf('seven'), one.classes!.indexOf('two')]);
    mkdirSync(join(val, 'ten'));
    copyFileSync(join(digits, 'seven', '00015.png'), join(val, 'ten', 'a.png'));
    const err = await rejection(imageFolder(val, { classes: one.classes }));
    expect((err as Error).message).toBe(
      `${join(val, 'ten')}: is not one of the 10 classes given (eight, five, four, nine, one, seven, six, three, ...)`,
    );
  });

  it('is what fitParallel takes as x and y: the same weights as tfjs model.fit in one thread', async () => {
    await tf.setBackend('cpu');
    const [a, b] = [digitSoftmax(), digitSoftmax()];
    const args = { epochs: 2, batchSize: 50, shuffle: false };
    await fitParallel(a, one.x, one.y, { ...args, workers: 2 });
    const [x, y] = [tf.tensor(one.x.data, [...one.x.shape]), tf.tensor(one.y.data, [...one.y.shape])];
    await b.fit(x, y, args);
    expect(maxAbsDiff(flatWeights(a), flatWeights(b))).toBeLessThanOrEqual(1e-5);
    tf.dispose([x, y]);
  });
});

const python = pythonOrReport(['PIL']);

describe.skipIf(python === undefined)("imageFolder against torchvision's ImageFolder order and PIL's pixels", () => {
  // PIL writes the files: grayscale, RGB and palette PNGs, JPEGs, nested folders, an upper-case
  // extension, a file of another kind; then reads them as torchvision does (its make_dataset
  // order; pil_loader's convert('RGB'); transforms.Grayscale's convert('L')).
  const ORACLE = `
import json, os, random, sys
from PIL import Image
root = sys.argv[1]
rnd = random.Random(0)
def img(mode):
    im = Image.new('RGB', (8, 6))
    im.putdata([(x * 30 + rnd.randrange(8), y * 40 + rnd.randrange(8), (x + y) * 15) for y in range(6) for x in range(8)])
    return im if mode == 'RGB' else im.convert(mode)
def save(rel, mode, **kw):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img(mode).save(path, **kw)
save('b_cats/2.png', 'L'); save('b_cats/10.png', 'RGB'); save('b_cats/pal.png', 'P')
save('b_cats/sub/x.png', 'RGB'); save('b_cats/sub-a/y.png', 'L'); save('b_cats/Z.PNG', 'RGB')
open(os.path.join(root, 'b_cats', 'notes.txt'), 'w').write('not an image')
save('a_dogs/q.jpg', 'RGB', quality=90); save('a_dogs/g.jpeg', 'L', quality=90)
save('10/a.png', 'RGB'); save('9/a.png', 'RGB')
classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
out = []
for label, c in enumerate(classes):
    for r, _, names in sorted(os.walk(os.path.join(root, c), followlinks=True)):
        for n in sorted(names):
            if n.lower().endswith(('.png', '.jpg', '.jpeg')):
                rgb = Image.open(os.path.join(r, n)).convert('RGB')
                out.append({'file': os.path.join(r, n), 'label': label, 'rgb': list(rgb.tobytes()), 'l': list(rgb.convert('L').tobytes())})
print(json.dumps({'classes': classes, 'samples': out}))
`;
  interface Oracle {
    classes: string[];
    samples: { file: string; label: number; rgb: number[]; l: number[] }[];
  }
  let root: string;
  let oracle: Oracle;
  beforeAll(() => {
    root = folder('pil');
    const r = spawnSync(python!, ['-c', ORACLE, root], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`the PIL oracle failed: ${r.stderr}`);
    oracle = JSON.parse(r.stdout) as Oracle;
  });

  /** Max |ours * 255 - PIL's| per file, in the oracle's order. */
  const gaps = (s: Samples, key: 'rgb' | 'l'): number[] =>
    oracle.samples.map((o, k) => {
      const f = s.split.features;
      return maxAbsDiff(
        Array.from(s.split.images.subarray(k * f, (k + 1) * f), (v) => Math.round(v * 255)),
        o[key],
      );
    });

  it('orders classes and files as ImageFolder does; pixels equal, 1 or 3 channels', async () => {
    for (const [channels, key] of [
      [1, 'l'],
      [3, 'rgb'],
    ] as const) {
      const s = await imageFolder(root, { channels });
      expect(s.classes).toEqual(oracle.classes);
      expect(s.count).toBe(oracle.samples.length);
      expect(Array.from(s.split.labels)).toEqual(oracle.samples.map((o) => o.label));
      expect(s.shape).toEqual([6, 8, channels]);
      const byFile = oracle.samples.map((o, k) => [o.file, gaps(s, key)[k]] as const);
      // JPEG: another libjpeg may round its inverse DCT differently (equal to the bit with PIL 12's).
      for (const [file, gap] of byFile) expect(gap, file).toBeLessThanOrEqual(/\.jpe?g$/.test(file) ? 2 : 0);
    }
  });
});

describe('imageFolder sizes, channels and transparency', () => {
  it('resize scales every image to size; without it another size is one line', async () => {
    const root = folder('sizes');
    mkdirSync(join(root, 'a'));
    writeFileSync(join(root, 'a', '1.png'), solidPng(40, 30, [51, 102, 204, 255]));
    writeFileSync(join(root, 'a', '2.png'), solidPng(6, 8, [51, 102, 204, 255]));
    const s = await imageFolder(root, { size: [5, 4], resize: true, channels: 3 });
    expect(s.shape).toEqual([5, 4, 3]);
    const rgb = [0.2, 0.4, 0.8].map(Math.fround);
    expect(Array.from(s.split.images)).toEqual(Array.from({ length: 2 * 20 }, () => rgb).flat());
    const err = await rejection(imageFolder(root));
    expect(err).toBeInstanceOf(DataFileError);
    expect((err as Error).message).toBe(
      `${join(root, 'a', '2.png')}: is 8x6 pixels (height x width), not the 30x40 of the first image, ${join(root, 'a', '1.png')}`,
    );
  });

  it('transparent pixels read as black; luminance as PIL computes it', async () => {
    const root = folder('alpha');
    mkdirSync(join(root, 'a'));
    writeFileSync(join(root, 'a', '1.png'), solidPng(2, 2, [200, 100, 50, 0]));
    writeFileSync(join(root, 'a', '2.png'), solidPng(2, 2, [200, 100, 50, 255]));
    const s = await imageFolder(root);
    const y = Math.fround(((200 * 19595 + 100 * 38470 + 50 * 7471 + 0x8000) >>> 16) / 255); // 119, PIL's convert('L')
    expect(Array.from(s.split.images)).toEqual([0, 0, 0, 0, y, y, y, y]);
  });

  it('leaves out hidden files and folders and files of other kinds', async () => {
    const root = folder('hidden');
    for (const dir of ['a', '.git', 'a/.cache']) mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, 'a', 'x.png'), solidPng(2, 2, [0, 0, 0, 255]));
    writeFileSync(join(root, 'a', '._x.png'), 'resource fork');
    writeFileSync(join(root, 'a', '.cache', 'y.png'), 'junk');
    writeFileSync(join(root, '.git', 'z.png'), 'junk');
    writeFileSync(join(root, 'a', 'readme.md'), 'text');
    const s = await imageFolder(root);
    expect([s.classes, s.count]).toEqual([['a'], 1]);
  });
});

describe('imageFolder, bad files and folders', () => {
  const png = (): Buffer => digitPng(mnist().train.images.subarray(0, 784));
  /** root/a/0.png good, root/a/1.png `bad`, root/a/2.png good. */
  function withBad(name: string, bad: Buffer | string): { root: string; file: string } {
    const root = folder(name);
    mkdirSync(join(root, 'a'));
    writeFileSync(join(root, 'a', '0.png'), png());
    writeFileSync(join(root, 'a', '1.png'), bad);
    writeFileSync(join(root, 'a', '2.png'), png());
    return { root, file: join(root, 'a', '1.png') };
  }
  const good = png();
  const crc = Buffer.from(good);
  crc[28] ^= 1; // IHDR's last byte (interlace method): its CRC no longer matches
  const jpeg = createCanvas(28, 28).toBuffer('image/jpeg');
  /** `png` with `f` of its one IDAT chunk's data (or of its IHDR's) in its place, the chunk's CRC made to match. */
  const rewrite = (png: Buffer, type: 'IDAT' | 'IHDR', f: (data: Buffer) => Buffer): Buffer => {
    const chunks: Buffer[] = [png.subarray(0, 8)];
    for (let at = 8; at < png.length; at += 12 + png.readUInt32BE(at)) {
      const length = png.readUInt32BE(at);
      const name = png.toString('latin1', at + 4, at + 8);
      if (name !== type) chunks.push(png.subarray(at, at + 12 + length));
      else {
        const body = Buffer.concat([
          Buffer.from(type, 'latin1'),
          f(Buffer.from(png.subarray(at + 8, at + 8 + length))),
        ]);
        const [len, crc] = [Buffer.alloc(4), Buffer.alloc(4)];
        len.writeUInt32BE(body.length - 4);
        crc.writeUInt32BE(crc32(body));
        chunks.push(len, body, crc);
      }
    }
    return Buffer.concat(chunks);
  };
  const third = (data: Buffer): Buffer => {
    const raw = inflateSync(data);
    return deflateSync(raw.subarray(0, Math.floor(raw.length / 3)));
  };
  const rgba = createCanvas(28, 28).toBuffer('image/png'); // transparent: the canvas addon decodes it
  const cases: [string, Buffer | string, string][] = [
    // Whole chunks whose CRCs match, but whose image data is not whole: the decoder would draw black rows.
    [
      'a PNG whose image data does not inflate',
      rewrite(good, 'IDAT', (d) => Buffer.from(d.map((b) => b ^ 0x55))),
      'is a corrupt PNG (its image data does not inflate: incorrect header check)',
    ],
    [
      'a PNG whose image data ends early',
      rewrite(good, 'IDAT', third),
      'is a corrupt PNG (its image data holds 1054 of the 3164 bytes its size needs)',
    ],
    [
      'a transparent PNG (the addon decodes it) whose image data ends early',
      rewrite(rgba, 'IDAT', third),
      'is a corrupt PNG (its image data holds 1054 of the 3164 bytes its size needs)',
    ],
    [
      'a PNG with a row of an unknown filter type',
      rewrite(good, 'IDAT', (d) => {
        const raw = inflateSync(d);
        raw[14 * (1 + 4 * 28)] = 7; // row 14's filter byte (RGBA rows of 28 pixels)
        return deflateSync(raw);
      }),
      'is a corrupt PNG (a row of its image data has filter type 7 (types 0-4 exist))',
    ],
    [
      'a PNG of width 0',
      rewrite(good, 'IHDR', (d) => (d.writeUInt32BE(0, 0), d)),
      'is a corrupt PNG (its header gives a size of 28x0 pixels)',
    ],
    ['a truncated PNG', good.subarray(0, good.length >> 1), 'is a truncated PNG (its IDAT chunk runs past the end)'],
    ['a PNG without its end', good.subarray(0, good.length - 12), 'is a truncated PNG (no IEND chunk)'],
    ['a corrupt PNG', crc, 'is a corrupt PNG (CRC mismatch in its IHDR chunk)'],
    ['a truncated JPEG', jpeg.subarray(0, jpeg.length - 10), 'is a truncated JPEG (no end-of-image marker)'],
    ['a text file', 'hello', 'is not a PNG or JPEG file'],
    ['an empty file', '', 'is empty'],
  ];
  for (const [what, bytes, detail] of cases) {
    it(`${what}: an error naming the file; with skipBadFiles, left out and listed`, async () => {
      const { root, file } = withBad(what.replace(/ /g, '-'), bytes);
      const err = await rejection(imageFolder(root));
      expect(err).toBeInstanceOf(DataFileError);
      expect((err as Error).message).toBe(`${file}: ${detail}`);
      const s = await imageFolder(root, { skipBadFiles: true });
      expect(s.count).toBe(2);
      expect(s.skipped).toEqual([{ file, reason: detail }]);
      const one = mnist().train.images.subarray(0, 784);
      expect(s.split.images).toEqual(new Float32Array([...one, ...one]));
    });
  }

  it('a bad first image: skipped too, the size taken from the next', async () => {
    const root = folder('bad-first');
    mkdirSync(join(root, 'a'));
    writeFileSync(join(root, 'a', '0.png'), 'junk');
    writeFileSync(join(root, 'a', '1.png'), png());
    const s = await imageFolder(root, { skipBadFiles: true });
    expect([s.count, s.shape, s.skipped.length]).toEqual([1, [28, 28, 1], 1]);
    const all = folder('all-bad');
    mkdirSync(join(all, 'a'));
    writeFileSync(join(all, 'a', '0.png'), 'junk');
    const err = await rejection(imageFolder(all, { skipBadFiles: true }));
    expect((err as Error).message).toBe(`${all}: has no readable images (1 skipped)`);
  });

  it('a class folder whose images are all skipped is refused, as an empty one is', async () => {
    const root = folder('class-all-bad');
    for (const c of ['a', 'b']) mkdirSync(join(root, c));
    writeFileSync(join(root, 'a', '0.png'), png());
    writeFileSync(join(root, 'b', '0.png'), 'junk');
    writeFileSync(join(root, 'b', '1.png'), good.subarray(0, 40));
    for (const decode of ['up-front', 'per-step'] as const) {
      const err = await rejection(imageFolderSamples(root, { skipBadFiles: true }, decode));
      expect((err as Error).message, decode).toBe(`${join(root, 'b')}: has no readable images (2 skipped)`);
    }
  });

  it('a link to a folder above it (a loop) is one line naming the link', async () => {
    const root = folder('link-loop');
    mkdirSync(join(root, 'a', 'deeper'), { recursive: true });
    writeFileSync(join(root, 'a', '0.png'), png());
    symlinkSync('../..', join(root, 'a', 'deeper', 'up'));
    const err = await rejection(imageFolder(root));
    expect(err).toBeInstanceOf(DataFileError);
    expect((err as Error).message).toBe(
      `${join(root, 'a', 'deeper', 'up')}: links to ${realpathSync(root)}, a folder it is in: a loop`,
    );
    rmSync(join(root, 'a', 'deeper', 'up'));
    symlinkSync('..', join(root, 'a', 'deeper', 'back'));
    expect(((await rejection(imageFolder(root))) as Error).message).toBe(
      `${join(root, 'a', 'deeper', 'back')}: links to ${realpathSync(join(root, 'a'))}, a folder it is in: a loop`,
    );
  });

  it('a file name that is not UTF-8: an error saying so; with skipBadFiles, left out and listed', async () => {
    const { root } = withBad('not-utf8', png());
    // 0xff is no UTF-8 byte: Node lists the name as U+FFFD.png, a name no file has.
    writeFileSync(Buffer.concat([Buffer.from(join(root, 'a', 'x')), Buffer.from([0xff]), Buffer.from('.png')]), png());
    const file = join(root, 'a', 'x\uFFFD.png');
    const detail = 'has a name that is not valid UTF-8, which Node cannot open: rename it';
    expect(((await rejection(imageFolder(root))) as Error).message).toBe(`${file}: ${detail}`);
    const s = await imageFolder(root, { skipBadFiles: true });
    expect([s.count, s.skipped]).toEqual([3, [{ file, reason: detail }]]);
  });

  it('two bad files on two threads: the error names the first in the folder, whichever thread finds its own first', async () => {
    // Thread 0 decodes 000-299 and reaches its bad file last; thread 1 decodes 300-599 and starts with one.
    const root = folder('two-bad');
    mkdirSync(join(root, 'a'));
    const good = png();
    for (let i = 0; i < 600; i++) writeFileSync(join(root, 'a', `${String(i).padStart(3, '0')}.png`), good);
    writeFileSync(join(root, 'a', '299.png'), 'junk');
    writeFileSync(join(root, 'a', '300.png'), 'junk');
    for (let k = 0; k < 3; k++) {
      const err = await rejection(imageFolder(root, { threads: 2 }));
      expect((err as Error).message).toBe(`${join(root, 'a', '299.png')}: is not a PNG or JPEG file`);
    }
  });

  it('an empty root, a root with files only, a class folder without images, a missing root', async () => {
    const empty = folder('empty');
    const noFolders = 'has no class folders: an image folder holds <class>/<image>.png|.jpg|.jpeg';
    expect(((await rejection(imageFolder(empty))) as Error).message).toBe(`${empty}: ${noFolders}`);
    writeFileSync(join(empty, 'x.png'), png());
    expect(((await rejection(imageFolder(empty))) as Error).message).toBe(`${empty}: ${noFolders}`);
    const root = folder('empty-class');
    mkdirSync(join(root, 'a'));
    mkdirSync(join(root, 'b', 'sub'), { recursive: true });
    writeFileSync(join(root, 'a', 'x.png'), png());
    writeFileSync(join(root, 'b', 'notes.txt'), 'no images here');
    const err = await rejection(imageFolder(root));
    expect(err).toBeInstanceOf(DataFileError);
    expect((err as Error).message).toBe(`${join(root, 'b')}: has no images (.png, .jpg, .jpeg files)`);
    const missing = join(tmp, 'nope');
    expect(((await rejection(imageFolder(missing))) as Error).message).toBe(`${missing}: not found`);
    const file = join(empty, 'x.png');
    expect(((await rejection(imageFolder(file))) as Error).message).toBe(`${file}: is not a folder`);
  });

  it('a named pipe is not read (it could block a thread for ever); a thread without progress for timeoutMs fails the load', async () => {
    const { root, file } = withBad('fifo', png());
    rmSync(file);
    expect(spawnSync('mkfifo', [file]).status).toBe(0);
    expect(((await rejection(imageFolder(root))) as Error).message).toBe(`${file}: is not a regular file`);
    // No thread decodes its first image within 1 ms of being started.
    const err = await rejection(imageFolder(digits, { timeoutMs: 1 }));
    expect(err).toBeInstanceOf(DataFileError);
    expect((err as Error).message).toMatch(/^.*\/eight\/\d{5}\.png: was not decoded within 0\.001 s$/);
  });

  it('bad options: one OptionError each', async () => {
    const cases: [unknown, string][] = [
      [
        { channel: 3 },
        'unknown imageFolder option channel (known: channels, size, resize, skipBadFiles, classes, threads, timeoutMs)',
      ],
      [{ channels: 4 }, 'channels must be 1 or 3, got 4'],
      [{ size: [28] }, 'size must be [height, width], each an integer from 1 to 8192, got [28]'],
      [{ size: [0, 28] }, 'size must be [height, width], each an integer from 1 to 8192, got [0,28]'],
      [{ resize: true }, 'resize needs size: the [height, width] to scale to'],
      [{ skipBadFiles: 'yes' }, 'skipBadFiles must be true or false, got "yes"'],
      [{ threads: 0 }, 'threads must be an integer from 1 to 256, got 0'],
      [{ timeoutMs: -1 }, 'timeoutMs must be a number of ms from 1 to 2^31-1, got -1'],
      [{ classes: [] }, 'classes must be 1 to 256 different names'],
    ];
    for (const [options, message] of cases) {
      const err = await rejection(imageFolder(digits, options as ImageFolderOptions));
      expect(err, message).toBeInstanceOf(OptionError);
      expect((err as Error).message).toBe(message);
    }
  });
});
