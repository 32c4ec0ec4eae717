// Real MNIST digits written as the files the CSV and image-folder readers take: PNG files in
// torchvision's ImageFolder layout, and a CSV of label + 784 pixels.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCanvas } from '@napi-rs/canvas';
import type { Split } from '../dist/src/data/dataset.js';

/** Digit k's class folder name when the folders are named (sorted: eight, five, four, nine, one, ...). */
export const DIGIT_NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

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

/** Samples [from, from + count) of `split` as a CSV: a header `label,px0,...,px783`, then label and pixels per row. Returns file. */
export function writeDigitCsv(file: string, split: Split, from: number, count: number): string {
  const f = split.features;
  const lines = [['label', ...Array.from({ length: f }, (_, p) => `px${p}`)].join(',')];
  for (let i = from; i < from + count; i++)
    lines.push([split.labels[i], ...Array.from(split.images.subarray(i * f, (i + 1) * f), String)].join(','));
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}
