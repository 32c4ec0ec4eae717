// Real MNIST digits written as the files the CSV and image-folder readers take: PNG files in
// torchvision's ImageFolder layout, and a CSV of label + 784 pixels; and a model that trains on them.
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { Split } from '../dist/src/data/dataset.js';

export { digitPng, writeDigitFolder } from '../dist/bench/digit-files.js';

/** Digit k's class folder name when the folders are named (sorted: eight, five, four, nine, one, ...). */
export const DIGIT_NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** Samples [from, from + count) of `split` as a CSV: a header `label,px0,...,px783`, then label and pixels per row. Returns file. */
export function writeDigitCsv(file: string, split: Split, from: number, count: number): string {
  const f = split.features;
  const lines = [['label', ...Array.from({ length: f }, (_, p) => `px${p}`)].join(',')];
  for (let i = from; i < from + count; i++)
    lines.push([split.labels[i], ...Array.from(split.images.subarray(i * f, (i + 1) * f), String)].join(','));
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** A softmax regression on [28, 28, 1] digits from seeded weights: SGD 0.5, categorical cross-entropy, accuracy. */
export function digitSoftmax(): tf.Sequential {
  const m = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({
        units: 10,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
    ],
  });
  m.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy', metrics: ['acc'] });
  return m;
}
