// Fashion-MNIST from Debian's dataset-fashion-mnist package (gzip idx files in
// /usr/share/datasets/fashion-mnist; .ci/run installs it): the same format as
// MNIST, so the loader reads it and one epoch learns it. Where the package is
// not installed: a failure under CI=true (CI is meant to have it, and a skip
// there would go unnoticed), elsewhere a skip saying why.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../dist/src/data/dataset.js';
import { TRAIN, runCli } from './predict-fixtures.js';

const DIR = '/usr/share/datasets/fashion-mnist';
const present = existsSync(DIR);

const missing = `Debian package dataset-fashion-mnist not installed (no ${DIR}; apt-get install dataset-fashion-mnist)`;
if (!present && process.env.CI === 'true') {
  it('the dataset is installed (CI=true: .ci/run installs it)', () => {
    expect(present, missing).toBe(true);
  });
} else if (!present) it.skip(`skipped: ${missing}`, () => {});

describe.skipIf(!present)(`Fashion-MNIST in ${DIR}`, () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'wddp-fashion-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('loadDataset reads 60000 + 10000 images of 28x28 with labels 0-9, 6000 / 1000 of each class', () => {
    const d = loadDataset(DIR);
    expect(d.numClasses).toBe(10);
    for (const [split, count] of [
      [d.train, 60000],
      [d.test, 10000],
    ] as const) {
      expect(split.count).toBe(count);
      expect([split.rows, split.cols, split.features]).toEqual([28, 28, 784]);
      expect(split.images).toHaveLength(count * 784);
      expect(split.labels).toHaveLength(count);
      const perClass = new Array<number>(10).fill(0);
      for (const y of split.labels) perClass[y]++; // a label >= 10 would add a NaN slot
      expect(perClass).toEqual(new Array<number>(10).fill(count / 10)); // Fashion-MNIST is balanced
      let min = Infinity;
      let max = -Infinity;
      for (const v of split.images) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      expect([min, max]).toEqual([0, 1]);
    }
  });

  it('one epoch with 2 workers (lr 0.05) reaches a test accuracy above 50%', () => {
    const t0 = Date.now();
    const r = runCli(
      TRAIN,
      [
        '--data',
        DIR,
        '--workers',
        '2',
        '--epochs',
        '1',
        '--lr',
        '0.05',
        '--backend',
        'wasm',
        '--out',
        join(tmp, 'run'),
      ],
      tmp,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const m = /^test accuracy (\d+\.\d+)% \((\d+)\/10000\), test loss (\d+\.\d+)$/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const accuracy = Number(m?.[1]);
    console.log(
      `Fashion-MNIST, 1 epoch, 2 workers, lr 0.05: test accuracy ${accuracy}% in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    expect(accuracy).toBeGreaterThan(50);
  });
});
