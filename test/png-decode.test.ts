// decodePng (src/data/png-decode.ts): the common PNG decoded in JavaScript, bit for bit against
// the canvas addon (the oracle: loadImage, drawn at its own size on black, getImageData) for
// every colour type it takes and every scanline filter, on seeded random pixels; the PNGs it
// leaves to the addon (transparency, colour chunks, 16 bits, interlacing) are undefined.
import { crc32, deflateSync } from 'node:zlib';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../dist/src/data/png-decode.js';
import { Rng } from '../dist/src/rng.js';
import { digitPng } from './digit-files.js';
import { mnist } from './helpers.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function chunk(name: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(name, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])));
  return Buffer.concat([head, body, crc]);
}

interface PngSpec {
  readonly width: number;
  readonly height: number;
  readonly type: number;
  /** Unfiltered samples, row-major. */
  readonly samples: Uint8Array;
  readonly depth?: number;
  readonly interlace?: number;
  readonly palette?: Uint8Array;
  readonly extra?: readonly [string, Buffer][];
}

/** A PNG of `spec`, row y filtered with filter y % 5 (None, Sub, Up, Average, Paeth). */
function encode({ width, height, type, samples, depth = 8, interlace = 0, palette, extra = [] }: PngSpec): Buffer {
  const bpp = SAMPLES[type];
  const stride = width * bpp;
  const raw = Buffer.alloc(height * (stride + 1));
  const at = (y: number, i: number): number => (y < 0 || i < 0 ? 0 : samples[y * stride + i]);
  for (let y = 0; y < height; y++) {
    const kind = y % 5;
    raw[y * (stride + 1)] = kind;
    for (let i = 0; i < stride; i++) {
      const [a, b, c] = [at(y, i - bpp), at(y - 1, i), at(y - 1, i - bpp)];
      const p = a + b - c;
      const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
      const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      const pred = [0, a, b, (a + b) >>> 1, paeth][kind];
      raw[y * (stride + 1) + 1 + i] = (at(y, i) - pred) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([depth, type, 0, 0, interlace], 8);
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    ...extra.map(([name, body]) => chunk(name, body)),
    ...(palette === undefined ? [] : [chunk('PLTE', Buffer.from(palette))]),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A PNG's chunks, each whole (length, name, body, CRC). */
function splitChunks(png: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 8; at < png.length; at += 12 + png.readUInt32BE(at))
    out.push(png.subarray(at, at + 12 + png.readUInt32BE(at)));
  return out;
}

/** The addon's RGB bytes of a PNG drawn at its own size on black. */
async function addonRgb(png: Buffer): Promise<Uint8Array> {
  const image = await loadImage(png);
  const ctx = createCanvas(image.width, image.height).getContext('2d');
  ctx.fillStyle = '#000000';
  ctx.fillRect(0, 0, image.width, image.height);
  ctx.drawImage(image, 0, 0, image.width, image.height);
  const rgba = ctx.getImageData(0, 0, image.width, image.height).data;
  return Uint8Array.from({ length: (rgba.length / 4) * 3 }, (_, i) => rgba[4 * Math.floor(i / 3) + (i % 3)]);
}

/** decodePng's pixels as RGB bytes. */
function ourRgb(png: Buffer): Uint8Array | undefined {
  const px = decodePng(png);
  if (px === undefined) return undefined;
  if (px.channels === 3) return px.data;
  return Uint8Array.from({ length: px.data.length * 3 }, (_, i) => px.data[Math.floor(i / 3)]);
}

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

/** Random samples of a colour type, opaque where there is alpha. */
function opaque(type: number, w: number, h: number, seed: number): Uint8Array {
  const s = randomBytes(w * h * SAMPLES[type], seed);
  const alpha = { 4: 1, 6: 3 }[type];
  if (alpha !== undefined) for (let i = alpha; i < s.length; i += SAMPLES[type]) s[i] = 255;
  return s;
}

describe('decodePng against the canvas addon', () => {
  const sizes: [number, number][] = [
    [28, 28],
    [13, 7],
    [1, 9],
  ];
  for (const [type, what] of [
    [0, 'gray'],
    [4, 'gray + alpha, opaque'],
    [2, 'RGB'],
    [6, 'RGBA, opaque'],
  ] as const) {
    it(`${what}: every filter, bit for bit`, async () => {
      for (const [w, h] of sizes) {
        const png = encode({ width: w, height: h, type, samples: opaque(type, w, h, w * 31 + type) });
        expect(ourRgb(png)).toEqual(await addonRgb(png));
      }
    });
  }

  it('palette, with text and physical-size chunks beside it: bit for bit', async () => {
    const palette = randomBytes(3 * 200, 5);
    const samples = Uint8Array.from(randomBytes(28 * 28, 6), (v) => v % 200);
    const extra: [string, Buffer][] = [
      ['tEXt', Buffer.from('Comment\0made by a test', 'latin1')],
      ['pHYs', Buffer.from([0, 0, 11, 19, 0, 0, 11, 19, 1])],
    ];
    const png = encode({ width: 28, height: 28, type: 3, samples, palette, extra });
    expect(ourRgb(png)).toEqual(await addonRgb(png));
  });

  it("the canvas's own PNGs (RGBA with sBIT and sRGB chunks), as the tests and benchmarks write digits", async () => {
    const png = digitPng(mnist().train.images.subarray(0, 784));
    expect(decodePng(png)).toBeDefined();
    expect(ourRgb(png)).toEqual(await addonRgb(png));
  });

  it('leaves to the addon: transparency, colour chunks, 16 bits, interlacing, palette indices past its end', () => {
    const rgba = opaque(6, 4, 4, 1);
    rgba[7] = 128;
    const gray = opaque(0, 4, 4, 2);
    const cases: PngSpec[] = [
      { width: 4, height: 4, type: 6, samples: rgba },
      { width: 4, height: 4, type: 0, samples: gray, extra: [['tRNS', Buffer.from([0, 7])]] },
      { width: 4, height: 4, type: 0, samples: gray, extra: [['gAMA', Buffer.from([0, 0, 0xb1, 0x8f])]] },
      { width: 4, height: 4, type: 0, samples: gray, extra: [['iCCP', Buffer.from('x\0\0', 'latin1')]] },
      { width: 2, height: 4, type: 0, samples: gray, depth: 16 },
      { width: 4, height: 4, type: 0, samples: gray, interlace: 1 },
      { width: 4, height: 4, type: 3, samples: gray, palette: randomBytes(6, 3) },
    ];
    for (const spec of cases) expect(decodePng(encode(spec))).toBeUndefined();
  });

  it('leaves to the addon what the addon refuses or draws otherwise: PLTE after IDAT or not of whole entries, IDAT split by another chunk', async () => {
    const png = encode({
      width: 4,
      height: 4,
      type: 3,
      samples: opaque(0, 4, 4, 2).map((v) => v % 4),
      palette: randomBytes(12, 3),
    });
    const chunks = splitChunks(png);
    const [ihdr, plte, idat, iend] = chunks;
    const text = chunk('tEXt', Buffer.from('a\0b', 'latin1'));
    const half = (c: Buffer): [Buffer, Buffer] => {
      const body = c.subarray(8, c.length - 4);
      return [chunk('IDAT', body.subarray(0, 5)), chunk('IDAT', body.subarray(5))];
    };
    const [idat1, idat2] = half(idat);
    const textAfter = Buffer.concat([SIGNATURE, ihdr, plte, idat1, idat2, text, iend]);
    expect(decodePng(textAfter)).toBeDefined();
    expect(ourRgb(textAfter)).toEqual(await addonRgb(textAfter));
    for (const parts of [
      [ihdr, idat, plte, iend],
      [ihdr, chunk('PLTE', Buffer.alloc(13)), idat, iend],
      [ihdr, plte, idat1, text, idat2, iend],
    ])
      expect(decodePng(Buffer.concat([SIGNATURE, ...parts]))).toBeUndefined();
  });
});
