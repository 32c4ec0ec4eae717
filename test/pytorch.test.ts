// The tutorial MLP against PyTorch: the same nn.Linear network (ReLU, ReLU, LogSoftmax,
// NLL, plain SGD) in float64 (test/fixtures/torch_mlp.py), from the Trainer's initial
// weights, on the Trainer's batches: 1 and 3 workers must give PyTorch's step losses and
// parameters, up to float32 rounding. The Trainer trains the MLP as a tf.Sequential
// (softmax + categorical cross-entropy, src/model/tutorial-mlp.ts), so this also holds
// that head to PyTorch's LogSoftmax + NLL.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { epochPermutation } from '../dist/src/data/shuffle.js';
import { Trainer } from '../dist/src/index.js';
import { maxAbsDiff, subset } from './helpers.js';
import { pythonOrReport } from './python.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/torch_mlp.py', import.meta.url));
const K = 375; // batch 64: 6 steps per epoch, the last of 55 samples
const B = 64;
const STEPS = 20; // across three epochs, each with its own permutation
const LR = 0.05;
const SEED = 3;
const HIDDEN = [128, 64];
/** Float32 training against float64: what 20 steps of rounding leave (observed about 1e-7). */
const TOL = 2e-6;

const python = pythonOrReport(['torch']);
const tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-torch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Torch {
  readonly torch: string;
  readonly losses: number[];
  readonly params: number[];
}

describe.skipIf(python === undefined)('the tutorial MLP against PyTorch (float64)', () => {
  const data = subset(K, 10);
  const batches: number[] = [];
  const order: number[] = [];
  for (let g = 0; g < STEPS; g++) {
    const S = Math.ceil(K / B);
    const e = Math.floor(g / S);
    const s = g % S;
    const idx = epochPermutation(K, SEED, e).slice(s * B, Math.min((s + 1) * B, K));
    batches.push(idx.length);
    order.push(...idx);
  }

  let oracle: Torch | undefined;
  /** PyTorch's run from p0, computed once (every worker count starts from the same p0). */
  function torchFrom(p0: Float32Array): Torch {
    if (oracle !== undefined) return oracle;
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify({ sizes: [784, ...HIDDEN, 10], lr: LR, batches }));
    writeFileSync(join(tmp, 'p0.bin'), p0);
    writeFileSync(join(tmp, 'x.bin'), data.train.images.slice(0, K * 784));
    writeFileSync(join(tmp, 'y.bin'), data.train.labels.slice(0, K));
    writeFileSync(join(tmp, 'order.bin'), Int32Array.from(order));
    const r = spawnSync(python as string, [SCRIPT, tmp], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`torch_mlp.py failed (${r.status}): ${r.stderr}`);
    oracle = JSON.parse(r.stdout) as Torch;
    return oracle;
  }

  it.each([1, 3])(`%i worker(s): ${STEPS} steps give PyTorch's losses and parameters`, async (workers) => {
    await using trainer = await Trainer.create({
      data,
      workers,
      threads: workers,
      backend: 'wasm',
      batchSize: B,
      lr: LR,
      seed: SEED,
      hidden: HIDDEN,
    });
    const p0 = trainer.getParams();
    const losses = await trainer.train(STEPS);
    const ref = torchFrom(p0);
    const dp = maxAbsDiff(trainer.getParams(), ref.params);
    const dl = maxAbsDiff(losses, ref.losses);
    const moved = maxAbsDiff(trainer.getParams(), p0);
    console.log(
      `pytorch ${ref.torch}, ${workers} worker(s): params max abs diff ${dp.toExponential(2)} (moved up to ${moved.toFixed(3)}), losses ${dl.toExponential(2)}`,
    );
    expect(moved).toBeGreaterThan(1000 * TOL); // not vacuous
    expect(dp).toBeLessThanOrEqual(TOL);
    expect(dl).toBeLessThanOrEqual(TOL);
  });
});
