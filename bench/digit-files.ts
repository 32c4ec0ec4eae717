/**
 * Real MNIST digits written as the files the image-folder readers take: PNG files in
 * torchvision's ImageFolder layout. For the benchmarks and the tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCanvas } from '@napi-rs/canvas';
import type { Split } from '../src/data/dataset.js';

/** A 28x28 sample (values in [0, 1]) as an 8-bit RGBA PNG, gray pixels. */
export function digitPng(pixels: ArrayLike<number>, side = 28): Buffer {
  const canvas = createCanvas(side, side);
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(side, side);
  for (let p = 0; p < side * side; p++) {
    const v = Math.round(pixels[p] * 255);
    img.data.set([v, v, v, 255], 4 * p);
  }
  ctx.putImageData(img, 0, 0);
  return canvas.toBuffer('image/png');
}

/**
 * Samples [from, from + count) of `split` as root/<class>/<index>.png, the class folder
 * named by `names` (default: the digit). Returns root.
 */
export function writeDigitFolder(
  root: string,
  split: Split,
  from: number,
  count: number,
  names?: readonly string[],
): string {
  const f = split.features;
  for (let i = from; i < from + count; i++) {
    const label = split.labels[i];
    const dir = join(root, names?.[label] ?? String(label));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${String(i).padStart(5, '0')}.png`), digitPng(split.images.subarray(i * f, (i + 1) * f)));
  }
  return root;
}
