/**
 * A PNG file as model input. Defined as: any PNG (grayscale, RGB, palette,
 * with or without alpha) that is square and from `side` to MAX_SIDE pixels on
 * a side. It is scaled to side x side with smoothing and turned to luminance
 * in [0, 1]. The model was trained on MNIST, light digits on a dark
 * background: `invert` turns a dark digit on a light background into that.
 * Transparent pixels read as background either way.
 */
import { readFileSync, statSync } from 'node:fs';
import { createCanvas, loadImage, type Image } from '@napi-rs/canvas';
import { DataFileError } from '../data/idx.js';
import { checkWholePng } from '../data/image-decode.js';

export const MAX_SIDE = 4096;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** side*side luminances in [0, 1], row-major. Every problem is a DataFileError naming the file. */
export async function readDigitPng(file: string, side: number, invert: boolean): Promise<Float32Array> {
  let bytes: Buffer;
  try {
    if (statSync(file).size > 64 << 20) throw new DataFileError(file, 'is over 64 MiB; not a digit image');
    bytes = readFileSync(file);
  } catch (err) {
    if (err instanceof DataFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataFileError(file, code === 'ENOENT' ? 'not found' : `cannot be read (${code ?? String(err)})`);
  }
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b))
    throw new DataFileError(file, 'is not a PNG file (no PNG signature)');
  checkWholePng(file, bytes); // the decoder draws a truncated or corrupt PNG without a word
  let image: Image;
  try {
    image = await loadImage(bytes);
  } catch (err) {
    throw new DataFileError(file, `is not a readable PNG: ${err instanceof Error ? err.message : String(err)}`);
  }
  const { width, height } = image;
  if (width !== height || width < side || width > MAX_SIDE) {
    throw new DataFileError(
      file,
      `is ${width}x${height} pixels; it must be square, from ${side}x${side} to ${MAX_SIDE}x${MAX_SIDE}`,
    );
  }
  const canvas = createCanvas(side, side);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = invert ? '#ffffff' : '#000000';
  ctx.fillRect(0, 0, side, side);
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(image, 0, 0, side, side);
  const rgba = ctx.getImageData(0, 0, side, side).data;
  const out = new Float32Array(side * side);
  for (let i = 0; i < out.length; i++) {
    const y = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
    out[i] = invert ? 1 - y : y;
  }
  return out;
}
