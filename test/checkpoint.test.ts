// Checkpoints (issues 4 and 5): written atomically with a checksum, refused when
// damaged with an error naming the file, and a resumed run ends with the same
// parameters as an uninterrupted one.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILE, CheckpointError, readCheckpoint } from '../dist/src/checkpoint.js';
import { OptionError } from '../dist/src/options.js';
import { Trainer, type EpochResult } from '../dist/src/trainer/trainer.js';
import { maxAbsDiff, subset } from './helpers.js';

const data = subset(600, 100); // batch 64: 10 steps per epoch, the last of 24 samples
const base = { workers: 2, batchSize: 64, lr: 0.05, seed: 11, epochs: 3, backend: 'wasm', data } as const;
let dir: string;
let uninterrupted: Float32Array;
let uninterruptedEpochs: EpochResult[];

async function fitAll(t: Trainer): Promise<EpochResult[]> {
  const epochs: EpochResult[] = [];
  for await (const e of t.fit()) epochs.push(e);
  return epochs;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wddp-ckpt-'));
  await using t = await Trainer.create(base);
  uninterruptedEpochs = await fitAll(t);
  uninterrupted = t.getParams();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resume', () => {
  it('interrupted after epoch 1, resumed: same final parameters and epoch losses as an uninterrupted run', async () => {
    const ck = join(dir, 'epoch');
    const first = await Trainer.create({ ...base, checkpointDir: ck });
    const it1 = first.fit();
    const e1 = await it1.next(); // epoch 1 done, checkpoint written
    expect(e1.done).toBe(false);
    await first.close(); // the "interruption"
    expect(readCheckpoint(ck).header.step).toBe(10);

    // Resume with only the folder: the recipe (seed, lr, batch, hidden, epochs) comes from the checkpoint.
    await using resumed = await Trainer.create({ workers: 2, backend: 'wasm', data, resume: ck, checkpointDir: ck });
    expect(resumed.stepsDone).toBe(10);
    const rest = await fitAll(resumed);
    expect(rest.map((e) => [e.epoch, e.samples])).toEqual([
      [2, 600],
      [3, 600],
    ]);
    expect(maxAbsDiff(resumed.getParams(), uninterrupted)).toBeLessThanOrEqual(1e-6);
    console.log(`resumed after epoch 1: max |Δparam| vs uninterrupted = ${maxAbsDiff(resumed.getParams(), uninterrupted)}`);
    expect(rest.map((e, i) => Math.abs(e.loss - uninterruptedEpochs[i + 1].loss))).toEqual([0, 0]);
    expect(readdirSync(ck)).toEqual([CHECKPOINT_FILE]); // no temporary file left behind
  });

  it("mid-epoch checkpoints (checkpointEvery 3), stopped, resumed with another worker count: the resumed epoch's loss and samples, parameters within 1e-6", async () => {
    const ck = join(dir, 'every');
    const first = await Trainer.create({ ...base, checkpointDir: ck, checkpointEvery: 3 });
    const stopAfter14 = (): void => {
      if (first.stepsDone >= 14) first.requestStop();
    };
    for await (const _ of first.fit({ chunkSteps: 1, onSteps: stopAfter14 })) void _;
    expect(first.stepsDone).toBeGreaterThanOrEqual(14);
    expect(first.stepsDone).toBeLessThan(20); // stopped mid-epoch 2
    await first.close();
    const step = readCheckpoint(ck).header.step;
    expect(step % 3 === 0 || step === 10).toBe(true);
    expect(step).toBeGreaterThanOrEqual(12);
    await using resumed = await Trainer.create({ workers: 3, backend: 'wasm', data, resume: ck });
    expect(resumed.stepsDone).toBe(step);
    const rest = await fitAll(resumed);
    // The rest of epoch 2, then epoch 3. The resumed epoch's loss is the mean over all its
    // steps, those before the checkpoint included (it carries their sum); its samples are
    // those this run trained (step 19 is the short batch of 24).
    expect(rest.map((e) => [e.epoch, e.samples])).toEqual([
      [2, 600 - (step - 10) * 64],
      [3, 600],
    ]);
    const lossDiffs = rest.map((e, i) => Math.abs(e.loss - uninterruptedEpochs[i + 1].loss));
    console.log(`resumed at step ${step} with 3 workers: |Δ epoch loss| = ${lossDiffs.join(', ')}`);
    expect(Math.max(...lossDiffs)).toBeLessThanOrEqual(1e-7);
    expect(rest.map((e) => e.test.count)).toEqual([100, 100]);
    expect(maxAbsDiff(resumed.getParams(), uninterrupted)).toBeLessThanOrEqual(1e-6);
  });

  it('refuses other data of the same size, naming the checkpoint file', async () => {
    const ck = join(dir, 'epoch');
    const other = subset(600, 100);
    other.train.labels.reverse(); // same sizes, other labels
    await expect(Trainer.create({ workers: 1, backend: 'wasm', data: other, resume: ck })).rejects.toThrow(
      `${join(ck, CHECKPOINT_FILE)}: trained on other data than ${other.dir} (its training labels differ)`,
    );
    await expect(Trainer.create({ workers: 1, backend: 'wasm', data: subset(500, 100), resume: ck })).rejects.toThrow(
      `${join(ck, CHECKPOINT_FILE)}: trained on 600 samples of 784 features and 10 classes, but the data has 500 of 784 and 10`,
    );
  });

  it('refuses a recipe that contradicts the checkpoint', async () => {
    const ck = join(dir, 'epoch');
    await expect(Trainer.create({ ...base, lr: 0.1, resume: ck })).rejects.toThrow(OptionError);
    await expect(Trainer.create({ ...base, lr: 0.1, resume: ck })).rejects.toThrow(
      `lr 0.1 differs from the checkpoint's 0.05 (${ck}); omit it to resume`,
    );
  });
});

describe('damaged checkpoints are refused, naming the file', () => {
  let good: Buffer;
  let file: string;
  beforeAll(async () => {
    const ck = join(dir, 'src');
    await using t = await Trainer.create({ ...base, checkpointDir: ck });
    await t.train(3);
    file = t.saveCheckpoint(ck);
    good = readFileSync(file);
  });

  const damaged = (name: string, bytes: Buffer): string => {
    const d = join(dir, name);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, CHECKPOINT_FILE), bytes);
    return join(d, CHECKPOINT_FILE);
  };

  it.each([
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 1000), 'checksum mismatch: the file is corrupt or truncated'],
    ['cut to a few bytes', (b: Buffer) => b.subarray(0, 20), 'truncated: 20 bytes'],
    ['one bit flipped in the parameters', (b: Buffer) => flip(b, b.length - 5000), 'checksum mismatch: the file is corrupt or truncated'],
    ['one bit flipped in the header', (b: Buffer) => flip(b, 30), 'checksum mismatch: the file is corrupt or truncated'],
    ['not a checkpoint', () => Buffer.from('hello world, this is not a checkpoint at all, nope'), 'not a worker-ddp checkpoint (bad magic)'],
    ['empty', () => Buffer.alloc(0), 'truncated: 0 bytes'],
  ])('%s', async (name, mutate, detail) => {
    const f = damaged(name.replace(/\W+/g, '-'), mutate(good));
    expect(() => readCheckpoint(join(f, '..'))).toThrow(CheckpointError);
    expect(() => readCheckpoint(join(f, '..'))).toThrow(`${f}: ${detail}`);
    await expect(Trainer.create({ workers: 1, backend: 'wasm', data, resume: join(f, '..') })).rejects.toThrow(`${f}: ${detail}`);
  });

  it('a folder with no checkpoint', () => {
    expect(() => readCheckpoint(join(dir, 'nothing'))).toThrow(`${join(dir, 'nothing', CHECKPOINT_FILE)}: no checkpoint here`);
  });

  it('the intact file still loads', () => {
    expect(readCheckpoint(join(file, '..')).header.step).toBe(3);
  });
});

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at] ^= 0x10;
  return c;
}
