/**
 * One image file as one sample: PNG or JPEG (told by its bytes, not its name),
 * decoded with @napi-rs/canvas to `height` x `width` pixels of 1 channel
 * (luminance) or 3 (RGB), each value in [0, 1], row-major, channels last (the
 * layout of tfjs's [height, width, channels] input). Transparent pixels read as
 * black. The same code runs in the decoding threads (workers/image-worker.ts,
 * workers/image-batch-worker.ts), in the training threads (decodeCommonImage) and
 * in the calling thread.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants, crc32, inflateSync } from 'node:zlib';
import type { Image, SKRSContext2D } from '@napi-rs/canvas';
import { DataFileError } from './idx.js';
import { decodePng, type PngPixels } from './png-decode.js';

/** What every sample becomes. */
export interface ImageFormat {
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
  /** Scale every image to height x width; false: an image of another size is an ImageSizeError. */
  readonly resize: boolean;
  /** The image whose size every other must have (the folder's first), for messages; absent: a size given. */
  readonly sizeOf?: string;
}

/** A file that cannot be read or decoded as an image: what skipBadFiles skips. */
export class ImageFileError extends DataFileError {}

/** An image of another size than the others' (not a bad file: it is never skipped). */
export class ImageSizeError extends DataFileError {}

/** The image files an image folder holds, by name, compared in lower case. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;
/** Larger files are refused before they are read. */
export const MAX_IMAGE_BYTES = 64 << 20;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
// byte -> float32 in [0, 1]; dividing keeps 255 -> 1 exact, as the idx reader does.
const SCALE = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/** Decodes `file` into `out` (height*width*channels values); a problem is an ImageFileError or ImageSizeError naming the file. */
export async function decodeImage(file: string, format: ImageFormat, out: Float32Array): Promise<void> {
  const bytes = readImage(file);
  const png = isPng(bytes) ? decodePng(bytes) : undefined;
  if (png !== undefined && fits(png, format)) return writePixels(png, format.channels, out);
  // A PNG the JavaScript decoder read (of another size, to scale) is whole: no second check of its data.
  draw(file, await load(file, bytes, png !== undefined), format, out);
}

/**
 * decodeImage's JavaScript half, without waiting: true when `file` is a common PNG of the
 * format's size (Note [PNG in JavaScript]), decoded into `out`; false when it needs the
 * addon's decode. A file that cannot be read is an ImageFileError as in decodeImage.
 */
export function decodeCommonImage(file: string, format: ImageFormat, out: Float32Array): boolean {
  return decodeCommonPng(readImage(file), format, out);
}

/** Note [PNG in JavaScript]: true when `bytes` is a common PNG of the format's size, decoded into `out`. */
function decodeCommonPng(bytes: Buffer, format: ImageFormat, out: Float32Array): boolean {
  const png = isPng(bytes) ? decodePng(bytes) : undefined;
  if (png === undefined || !fits(png, format)) return false;
  writePixels(png, format.channels, out);
  return true;
}

/** The decoded image is of the format's size. */
function fits(png: PngPixels, format: ImageFormat): boolean {
  return png.width === format.width && png.height === format.height;
}

/** The decoded image drawn at the format's size on black, into `out`; another size is an ImageSizeError unless format.resize. */
function draw(file: string, image: Image, format: ImageFormat, out: Float32Array): void {
  const { height: h, width: w } = format;
  if (!format.resize && (image.width !== w || image.height !== h)) {
    const want =
      format.sizeOf === undefined ? `the ${h}x${w} given` : `the ${h}x${w} of the first image, ${format.sizeOf}`;
    throw new ImageSizeError(file, `is ${image.height}x${image.width} pixels (height x width), not ${want}`);
  }
  const ctx = context(w, h);
  ctx.fillStyle = '#000000';
  ctx.fillRect(0, 0, w, h);
  ctx.drawImage(image, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, h).data; // (h, w, 4) bytes
  writePixels({ width: w, height: h, channels: 4, data: rgba }, format.channels, out);
}

/** Gray, RGB or RGBA bytes as `channels` values in [0, 1] a pixel; RGB to gray as PIL's convert('L'). */
function writePixels(
  px: {
    readonly width: number;
    readonly height: number;
    readonly channels: 1 | 3 | 4;
    readonly data: ArrayLike<number>;
  },
  channels: 1 | 3,
  out: Float32Array,
): void {
  const { data, channels: k } = px;
  const n = px.width * px.height;
  if (k === 1) {
    if (channels === 1) for (let i = 0; i < n; i++) out[i] = SCALE[data[i]];
    else for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = SCALE[data[i]];
    return;
  }
  if (channels === 3) {
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[3 * i + c] = SCALE[data[k * i + c]];
    return;
  }
  // Luminance as PIL's convert('L') computes it (ITU-R 601-2, weights summing to 2^16): exact for gray pixels.
  for (let i = 0; i < n; i++) {
    const y = (data[k * i] * 19595 + data[k * i + 1] * 38470 + data[k * i + 2] * 7471 + 0x8000) >>> 16;
    out[i] = SCALE[y];
  }
}

/** The image's size in pixels; an ImageFileError naming the file when it is not a readable image. */
export async function imageSize(file: string): Promise<{ readonly height: number; readonly width: number }> {
  const { height, width } = await load(file);
  return { height, width };
}

/**
 * The decoder, loaded on first use: importing this module loads no native
 * addon, so a program that never reads an image needs none.
 */
let skia: typeof import('@napi-rs/canvas') | undefined;
const decoder = (): typeof import('@napi-rs/canvas') =>
  (skia ??= createRequire(import.meta.url)('@napi-rs/canvas') as typeof import('@napi-rs/canvas'));

let canvas: { readonly w: number; readonly h: number; readonly ctx: SKRSContext2D } | undefined;

/** This thread's drawing context of w x h pixels, made again only when the size changes. */
function context(w: number, h: number): SKRSContext2D {
  if (canvas === undefined || canvas.w !== w || canvas.h !== h) {
    const ctx = decoder().createCanvas(w, h).getContext('2d');
    ctx.imageSmoothingQuality = 'high';
    canvas = { w, h, ctx };
  }
  return canvas.ctx;
}

/** The addon's image of `bytes`; a PNG's data is checked whole first unless `whole` says it was (Note [whole files]). */
async function load(file: string, bytes: Buffer = readImage(file), whole = false): Promise<Image> {
  const { loadImage } = decoder(); // outside the try: a missing addon is no bad file
  if (!whole && isPng(bytes)) checkPngData(file, bytes);
  try {
    return await loadImage(bytes);
  } catch (err) {
    throw new ImageFileError(file, `cannot be decoded: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function isPng(bytes: Buffer): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/**
 * Why `path`, listed by readdir, is not there: Node reads a name that is not
 * UTF-8 with U+FFFD in place of the bad bytes, a name no file has.
 */
export function notFound(path: string): string {
  return path.includes('\uFFFD')
    ? 'has a name that is not valid UTF-8, which Node cannot open: rename it'
    : 'not found';
}

/**
 * The file's bytes, checked to be a whole PNG or JPEG. Note [whole files]: the
 * decoder draws a truncated PNG without a word (the missing rows transparent),
 * so a PNG is read chunk by chunk, each chunk's CRC checked, up to its IEND
 * chunk, and a JPEG must end with its end-of-image marker (FF D9). It also draws
 * image data that does not inflate, or inflates short, as black rows: before a
 * PNG reaches it, checkPngData inflates that data (the JavaScript decoder, which
 * takes most PNGs, inflates it anyway and declines data that is not whole).
 * Re-check: npx vitest run test/image-folder.test.ts
 */
function readImage(file: string): Buffer {
  let bytes: Buffer;
  try {
    const info = statSync(file);
    if (!info.isFile()) throw new ImageFileError(file, 'is not a regular file');
    const size = info.size;
    if (size > MAX_IMAGE_BYTES)
      throw new ImageFileError(file, `is ${size} bytes, more than the ${MAX_IMAGE_BYTES}-byte limit`);
    bytes = readFileSync(file);
  } catch (err) {
    if (err instanceof ImageFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageFileError(file, code === 'ENOENT' ? notFound(file) : `cannot be read (${code ?? String(err)})`);
  }
  if (isPng(bytes)) checkPng(file, bytes);
  else if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    let end = bytes.length;
    while (end > 2 && bytes[end - 1] === 0) end--; // zero padding after the marker
    if (bytes[end - 2] !== 0xff || bytes[end - 1] !== 0xd9)
      throw new ImageFileError(file, 'is a truncated JPEG (no end-of-image marker)');
  } else throw new ImageFileError(file, bytes.length === 0 ? 'is empty' : 'is not a PNG or JPEG file');
  return bytes;
}

/** `bytes`, a PNG by its signature, checked whole (Note [whole files]): chunks, CRCs, IEND, image data; else an ImageFileError. */
export function checkWholePng(file: string, bytes: Buffer): void {
  checkPng(file, bytes);
  checkPngData(file, bytes);
}

function checkPng(file: string, bytes: Buffer): void {
  for (let at = 8; at + 8 <= bytes.length;) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const end = at + 12 + length;
    if (end > bytes.length) throw new ImageFileError(file, `is a truncated PNG (its ${type} chunk runs past the end)`);
    if (crc32(bytes.subarray(at + 4, end - 4)) !== bytes.readUInt32BE(end - 4))
      throw new ImageFileError(file, `is a corrupt PNG (CRC mismatch in its ${type} chunk)`);
    if (type === 'IEND') return;
    at = end;
  }
  throw new ImageFileError(file, 'is a truncated PNG (no IEND chunk)');
}

/** Colour type -> samples per pixel, for the image data's size. */
const PNG_SAMPLES: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Adam7's passes: x and y of the first pixel, then the steps. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;
/** Larger images are refused before they are decoded. */
const MAX_PIXELS = 1 << 26;
/** Inflated image data beyond what the size needs that is still taken (libpng warns of it only). */
const EXTRA_BYTES = 1 << 20;

/** A PNG's image data (its CRCs checked) inflated whole, to the size its header gives; else an ImageFileError (Note [whole files]). */
function checkPngData(file: string, bytes: Buffer): void {
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  const [depth, type, , , interlace] = bytes.subarray(24, 29);
  const spp = PNG_SAMPLES[type];
  const corrupt = (why: string): ImageFileError => new ImageFileError(file, `is a corrupt PNG (${why})`);
  if (bytes.toString('latin1', 12, 16) !== 'IHDR') throw corrupt('its first chunk is not IHDR');
  if (width === 0 || height === 0) throw corrupt(`its header gives a size of ${height}x${width} pixels`);
  if (spp === undefined || ![1, 2, 4, 8, 16].includes(depth)) throw corrupt(`colour type ${type}, bit depth ${depth}`);
  if (width * height > MAX_PIXELS)
    throw new ImageFileError(file, `is ${height}x${width} pixels, more than the ${MAX_PIXELS}-pixel limit`);
  const rowBytes = (w: number): number => Math.ceil((w * spp * depth) / 8);
  const passes = interlace === 1 ? ADAM7 : [[0, 0, 1, 1] as const];
  const rows: [number, number][] = []; // each pass's rows and the bytes of each (a filter byte, then the pixels)
  for (const [x0, y0, dx, dy] of passes) {
    const [w, h] = [Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy)];
    if (w > 0 && h > 0) rows.push([h, 1 + rowBytes(w)]);
  }
  const size = rows.reduce((n, [h, b]) => n + h * b, 0);
  const idat: Buffer[] = [];
  for (let at = 8; at + 8 <= bytes.length; at += 12 + bytes.readUInt32BE(at))
    if (bytes.toString('latin1', at + 4, at + 8) === 'IDAT')
      idat.push(bytes.subarray(at + 8, at + 8 + bytes.readUInt32BE(at)));
  if (idat.length === 0) throw corrupt('no IDAT chunk');
  let raw: Buffer;
  try {
    // As libpng and PIL: extra data after the image's, or a stream without its checksum, is no defect.
    raw = inflateSync(Buffer.concat(idat), {
      finishFlush: constants.Z_SYNC_FLUSH,
      maxOutputLength: size + EXTRA_BYTES,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE')
      throw corrupt(`its image data holds far more than the ${size} bytes its size needs`);
    throw corrupt(`its image data does not inflate: ${(err as Error).message}`);
  }
  if (raw.length < size) throw corrupt(`its image data holds ${raw.length} of the ${size} bytes its size needs`);
  let at = 0;
  for (const [h, b] of rows)
    for (let r = 0; r < h; r++, at += b)
      if (raw[at] > 4) throw corrupt(`a row of its image data has filter type ${raw[at]} (types 0-4 exist)`);
}
