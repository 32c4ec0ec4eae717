/**
 * The common PNG, decoded in JavaScript: 8 bits per sample, not interlaced,
 * gray, gray + alpha, RGB, RGBA or palette, every pixel opaque, and no chunk
 * that changes colours (gAMA, cHRM, iCCP, ...). Any other PNG, or one this
 * cannot decode, is undefined: the caller decodes it with the canvas addon.
 *
 * Note [PNG in JavaScript]: for a small image the addon's decode is mostly its
 * fixed cost; inflating and unfiltering a 28x28 digit here reads and decodes the
 * file 2.1-2.5x faster than the addon decodes its bytes. Both give the same bytes, since
 * an opaque 8-bit pixel drawn at its own size is copied as it is (the alpha and
 * colour rules above keep every other PNG on the addon).
 * Re-check: npx vitest run test/png-decode.test.ts (bit for bit against the addon);
 * node dist/bench/image-stream.js (images/s).
 */
import { inflateSync } from 'node:zlib';

/** A decoded image: height x width pixels of `channels` bytes (1: gray, 3: RGB), row-major. */
export interface PngPixels {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly data: Uint8Array;
}

/** Colour type -> samples per pixel. */
const SAMPLES: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Chunks that leave the colours as they are. */
const NEUTRAL = new Set([
  'IHDR',
  'PLTE',
  'IDAT',
  'IEND',
  'tEXt',
  'zTXt',
  'iTXt',
  'tIME',
  'pHYs',
  'sRGB',
  'sBIT',
  'bKGD',
]);

/** `bytes`, a whole PNG whose chunks' lengths and CRCs were checked, as pixels; undefined outside the common case. */
export function decodePng(bytes: Buffer): PngPixels | undefined {
  if (bytes.length < 33 || bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  const [depth, type, compression, filter, interlace] = bytes.subarray(24, 29);
  const spp = SAMPLES[type];
  if (depth !== 8 || spp === undefined || compression !== 0 || filter !== 0 || interlace !== 0) return undefined;
  if (width === 0 || height === 0 || width * height > 1 << 26) return undefined;
  const idat: Buffer[] = [];
  let palette: Buffer | undefined;
  let ended = false; // the run of IDAT chunks
  for (let at = 8; at + 8 <= bytes.length;) {
    const length = bytes.readUInt32BE(at);
    const name = bytes.toString('latin1', at + 4, at + 8);
    const body = bytes.subarray(at + 8, at + 8 + length);
    if (!NEUTRAL.has(name)) return undefined; // tRNS, gAMA, iCCP, ...: the addon's rules
    if (name === 'IEND') break;
    // The addon's rules too: the IDAT chunks one after another, any PLTE before them.
    if ((name === 'IDAT' && ended) || (name === 'PLTE' && idat.length > 0)) return undefined;
    if (name === 'IDAT') idat.push(body);
    else ended = idat.length > 0;
    if (name === 'PLTE') palette = body;
    at += 12 + length;
  }
  if (type === 3 && (palette === undefined || palette.length % 3 !== 0 || palette.length > 768)) return undefined;
  const stride = width * spp;
  const size = height * (stride + 1);
  let raw: Buffer;
  try {
    // One output chunk of the scanlines' size: the default 64 KiB costs a small image more than its inflating.
    raw = inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat), {
      chunkSize: Math.max(64, size),
      maxOutputLength: Math.max(64, size),
    });
  } catch {
    return undefined;
  }
  if (raw.length < size) return undefined;
  const rows = unfilter(raw, height, stride, spp);
  if (rows === undefined) return undefined;
  return toPixels(rows, width, height, type, spp, palette);
}

/** The filtered scanlines (a filter byte, then stride bytes, per row) undone: the rows end to end. */
function unfilter(raw: Buffer, height: number, stride: number, bpp: number): Uint8Array | undefined {
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const kind = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const at = y * stride;
    const up = at - stride; // the row above, when y > 0
    if (kind === 0 || (kind === 2 && y === 0)) out.set(raw.subarray(src, src + stride), at);
    else if (kind === 1 || (kind === 4 && y === 0)) {
      for (let i = 0; i < bpp; i++) out[at + i] = raw[src + i];
      for (let i = bpp; i < stride; i++) out[at + i] = raw[src + i] + out[at + i - bpp];
    } else if (kind === 2) for (let i = 0; i < stride; i++) out[at + i] = raw[src + i] + out[up + i];
    else if (kind === 3) {
      for (let i = 0; i < bpp; i++) out[at + i] = raw[src + i] + (y > 0 ? out[up + i] >>> 1 : 0);
      for (let i = bpp; i < stride; i++)
        out[at + i] = raw[src + i] + ((out[at + i - bpp] + (y > 0 ? out[up + i] : 0)) >>> 1);
    } else if (kind === 4) {
      for (let i = 0; i < bpp; i++) out[at + i] = raw[src + i] + out[up + i];
      for (let i = bpp; i < stride; i++)
        out[at + i] = raw[src + i] + paeth(out[at + i - bpp], out[up + i], out[up + i - bpp]);
    } else return undefined;
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** The rows as gray or RGB bytes; undefined when a pixel is not opaque or a palette index is out of range. */
function toPixels(
  rows: Uint8Array,
  width: number,
  height: number,
  type: number,
  spp: number,
  palette: Buffer | undefined,
): PngPixels | undefined {
  const n = width * height;
  if (type === 0) return { width, height, channels: 1, data: rows };
  if (type === 4) {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (rows[2 * i + 1] !== 255) return undefined;
      data[i] = rows[2 * i];
    }
    return { width, height, channels: 1, data };
  }
  const data = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    if (type === 3) {
      const e = rows[i];
      if (palette === undefined || 3 * e + 3 > palette.length) return undefined;
      data.set(palette.subarray(3 * e, 3 * e + 3), 3 * i);
      continue;
    }
    if (type === 6 && rows[4 * i + 3] !== 255) return undefined;
    for (let c = 0; c < 3; c++) data[3 * i + c] = rows[spp * i + c];
  }
  return { width, height, channels: 3, data };
}
