// Writes the 3000 training digits (MNIST train 0..2999) and the 1000 held-out digits (MNIST test
// 0..999) of test/cli-files.test.ts as raw float32 pixels and uint8 labels, for sweep.py.
// Run from the repository root after `npx tsc -p tsconfig.json`: node dev/convnet-3000-digits/dump.mjs OUT_DIR
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../../dist/src/data/dataset.js';

const out = process.argv[2] ?? '/tmp/convnet-3000-digits';
mkdirSync(out, { recursive: true });
const { train, test } = loadDataset();
const write = (name, array) =>
  writeFileSync(join(out, name), Buffer.from(array.buffer, array.byteOffset, array.byteLength));
write('train-x.bin', train.images.subarray(0, 3000 * 784));
write('train-y.bin', train.labels.subarray(0, 3000));
write('test-x.bin', test.images.subarray(0, 1000 * 784));
write('test-y.bin', test.labels.subarray(0, 1000));
console.log(`wrote ${out}`);
