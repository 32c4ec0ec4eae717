// Checkpoints (issues 4 and 5): written atomically with a checksum, refused when
// damaged with an error naming the file, and a resumed run ends with the same
// parameters as an uninterrupted one; with Adam too, its sharded state gathered
// into the file and re-sharded for another worker count (model issue item 6).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILE, CheckpointError, readCheckpoint, writeCheckpoint } from '../dist/src/checkpoint.js';
import { OptionError } from '../dist/src/options.js';
import { Trainer, type EpochResult } from '../dist/src/trainer/trainer.js';
import { maxAbsDiff, rejection, subset } from './helpers.js';

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
    console.log(
      `resumed after epoch 1: max |Δparam| vs uninterrupted = ${maxAbsDiff(resumed.getParams(), uninterrupted)}`,
    );
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
    [
      'one bit flipped in the parameters',
      (b: Buffer) => flip(b, b.length - 5000),
      'checksum mismatch: the file is corrupt or truncated',
    ],
    [
      'one bit flipped in the header',
      (b: Buffer) => flip(b, 30),
      'checksum mismatch: the file is corrupt or truncated',
    ],
    [
      'not a checkpoint',
      () => Buffer.from('hello world, this is not a checkpoint at all, nope'),
      'not a worker-ddp checkpoint (bad magic)',
    ],
    ['empty', () => Buffer.alloc(0), 'truncated: 0 bytes'],
  ])('%s', async (name, mutate, detail) => {
    const f = damaged(name.replace(/\W+/g, '-'), mutate(good));
    expect(() => readCheckpoint(join(f, '..'))).toThrow(CheckpointError);
    expect(() => readCheckpoint(join(f, '..'))).toThrow(`${f}: ${detail}`);
    await expect(Trainer.create({ workers: 1, backend: 'wasm', data, resume: join(f, '..') })).rejects.toThrow(
      `${f}: ${detail}`,
    );
  });

  it('a folder with no checkpoint', () => {
    expect(() => readCheckpoint(join(dir, 'nothing'))).toThrow(
      `${join(dir, 'nothing', CHECKPOINT_FILE)}: no checkpoint here`,
    );
  });

  it('the intact file still loads', () => {
    expect(readCheckpoint(join(file, '..')).header.step).toBe(3);
  });
});

describe('Adam: the sharded optimizer state is checkpointed and resumed exactly', () => {
  const adam = { ...base, lr: undefined, optimizer: 'adam' } as const; // tfjs's defaults: lr 0.001
  let adamParams: Float32Array;
  let adamState: Float32Array;
  let adamDir: string;

  beforeAll(async () => {
    adamDir = join(dir, 'adam');
    await using t = await Trainer.create(adam);
    await fitAll(t);
    adamParams = t.getParams();
    adamState = t.getOptimizerState();
  });

  it('stopped mid-epoch with 2 workers (checkpointEvery 3), resumed with 3: params and moments within 1e-6 of the uninterrupted run', async () => {
    const first = await Trainer.create({ ...adam, checkpointDir: adamDir, checkpointEvery: 3 });
    const stopAfter14 = (): void => {
      if (first.stepsDone >= 14) first.requestStop();
    };
    for await (const _ of first.fit({ chunkSteps: 1, onSteps: stopAfter14 })) void _;
    await first.close();
    const ck = readCheckpoint(adamDir);
    expect(ck.header.step % 3 === 0 || ck.header.step === 10).toBe(true);
    expect(ck.header.step).toBeGreaterThanOrEqual(12);
    expect(ck.header.step % 10).not.toBe(0); // mid-epoch: Adam's t and the epoch's shuffle both continue
    expect(ck.header.recipe.optimizer).toEqual({ kind: 'adam', lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    expect(ck.state).toHaveLength(2 * ck.params.length);

    // Only the folder: the optimizer comes from the checkpoint's recipe.
    await using resumed = await Trainer.create({ workers: 3, backend: 'wasm', data, resume: adamDir });
    expect(resumed.options.optimizer).toEqual(ck.header.recipe.optimizer);
    expect(bits(resumed.getOptimizerState())).toEqual(bits(ck.state)); // loaded into the state before step `step`
    await fitAll(resumed);
    const P = adamParams.length;
    const d = maxAbsDiff(resumed.getParams(), adamParams);
    const ds = [0, 1].map((j) =>
      maxAbsDiff(resumed.getOptimizerState().subarray(j * P, (j + 1) * P), adamState.subarray(j * P, (j + 1) * P)),
    );
    console.log(
      `adam, resumed at step ${ck.header.step} with 3 workers instead of 2: max |Δparam| ${d}, |Δm| ${ds[0]}, |Δv| ${ds[1]}`,
    );
    expect(d).toBeLessThanOrEqual(1e-6);
    expect(ds[0]).toBeLessThanOrEqual(1e-6);
    expect(ds[1]).toBeLessThanOrEqual(1e-6);
  });

  it('resumed with the same 2 workers: the uninterrupted run to the bit (what differs above is the 3-worker summation order)', async () => {
    await using resumed = await Trainer.create({ workers: 2, backend: 'wasm', data, resume: adamDir });
    await fitAll(resumed);
    expect(bits(resumed.getParams())).toEqual(bits(adamParams));
    expect(bits(resumed.getOptimizerState())).toEqual(bits(adamState));
  });

  it('without its state the same resume lands elsewhere: the comparison above is not vacuous', async () => {
    const ck = readCheckpoint(adamDir);
    const zeroed = join(dir, 'adam-zeroed');
    writeCheckpoint(zeroed, ck.header, ck.params, new Float32Array(ck.state.length));
    await using resumed = await Trainer.create({ workers: 3, backend: 'wasm', data, resume: zeroed });
    await fitAll(resumed);
    expect(maxAbsDiff(resumed.getParams(), adamParams)).toBeGreaterThan(1e-4);
  });

  it('refuses an explicitly given optimizer that differs, naming the file; the same name is fine', async () => {
    const file = join(adamDir, CHECKPOINT_FILE);
    const err = await rejection(
      Trainer.create({ workers: 1, backend: 'wasm', data, resume: adamDir, optimizer: 'sgd' }),
    );
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toBe(
      `${file}: trained with optimizer adam (lr 0.001, beta1 0.9, beta2 0.999, epsilon 1e-7), not sgd; omit the optimizer to resume`,
    );
    const spec = { kind: 'adam', lr: 0.001, beta1: 0.8, beta2: 0.999, epsilon: 1e-7 } as const;
    await expect(
      Trainer.create({ workers: 1, backend: 'wasm', data, resume: adamDir, optimizer: spec }),
    ).rejects.toThrow(
      `${file}: trained with optimizer adam (lr 0.001, beta1 0.9, beta2 0.999, epsilon 1e-7), not adam (lr 0.001, beta1 0.8, beta2 0.999, epsilon 1e-7); omit the optimizer to resume`,
    );
    await using same = await Trainer.create({ workers: 1, backend: 'wasm', data, resume: adamDir, optimizer: 'adam' });
    expect(same.options.optimizer.kind).toBe('adam');
  });
});

describe('checkpoint format: version 2 round trip, version 1 still read, damaged state refused', () => {
  let v2File: string;
  let saved: { params: Float32Array; state: Float32Array; step: number };
  beforeAll(async () => {
    const ck = join(dir, 'v2');
    await using t = await Trainer.create({ ...base, optimizer: 'rmsprop', checkpointDir: ck });
    await t.train(3);
    v2File = t.saveCheckpoint(ck);
    saved = { params: t.getParams(), state: t.getOptimizerState(), step: t.stepsDone };
  });

  it('version 2: the recipe names the optimizer; params and the gathered state read back to the bit', () => {
    const buf = readFileSync(v2File);
    expect(buf.readUInt32LE(8)).toBe(2);
    const ck = readCheckpoint(join(v2File, '..'));
    expect(ck.header.step).toBe(saved.step);
    expect(ck.header.recipe.optimizer).toEqual({
      kind: 'rmsprop',
      lr: 0.05,
      decay: 0.9,
      momentum: 0,
      epsilon: 1e-7,
      centered: false,
    });
    expect(bits(ck.params)).toEqual(bits(saved.params));
    expect(ck.state).toHaveLength(2 * ck.params.length); // mean square, moment
    expect(bits(ck.state)).toEqual(bits(saved.state));
    expect(ck.state.some((v) => v !== 0)).toBe(true);
  });

  it('version 1 (plain SGD, no state) reads as sgd at its lr with an empty state, and resumes to the uninterrupted parameters', async () => {
    const sgdDir = join(dir, 'sgd-epoch');
    {
      await using t = await Trainer.create(base);
      await t.train(10);
      t.saveCheckpoint(sgdDir);
    }
    const v2 = readCheckpoint(sgdDir);
    const { optimizer: _, ...recipe } = v2.header.recipe;
    void _;
    const v1Dir = join(dir, 'v1');
    rawCheckpoint(v1Dir, 1, { ...v2.header, recipe }, v2.params);
    const v1 = readCheckpoint(v1Dir);
    expect(v1.header.recipe.optimizer).toEqual({ kind: 'sgd', lr: 0.05 });
    expect(v1.state).toHaveLength(0);
    expect(bits(v1.params)).toEqual(bits(v2.params));
    await using resumed = await Trainer.create({ workers: 2, backend: 'wasm', data, resume: v1Dir });
    await fitAll(resumed);
    expect(maxAbsDiff(resumed.getParams(), uninterrupted)).toBeLessThanOrEqual(1e-6);
  });

  it('a bit flipped in the state: checksum mismatch', () => {
    const d = join(dir, 'state-flipped');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, CHECKPOINT_FILE), flip(readFileSync(v2File), readFileSync(v2File).length - 40));
    expect(() => readCheckpoint(d)).toThrow(
      `${join(d, CHECKPOINT_FILE)}: checksum mismatch: the file is corrupt or truncated`,
    );
  });

  it('a file whose state is missing or whose optimizer is unknown, checksum intact: refused, naming what is wrong', () => {
    const ck = readCheckpoint(join(v2File, '..'));
    const P = ck.params.length;
    const noState = join(dir, 'no-state');
    rawCheckpoint(noState, 2, ck.header, ck.params);
    expect(() => readCheckpoint(noState)).toThrow(
      `${join(noState, CHECKPOINT_FILE)}: header says ${P} parameters and 2 optimizer state vectors (rmsprop), ${3 * P} values, but the file holds ${P}`,
    );
    const unknown = join(dir, 'unknown-optimizer');
    rawCheckpoint(
      unknown,
      2,
      { ...ck.header, recipe: { ...ck.header.recipe, optimizer: { kind: 'adamw', lr: 0.001 } } },
      ck.params,
    );
    expect(() => readCheckpoint(unknown)).toThrow(
      `${join(unknown, CHECKPOINT_FILE)}: header: recipe.optimizer.kind must be one of sgd, momentum, adam, rmsprop, adagrad, got "adamw"`,
    );
  });
});

/** Bit patterns, so that equality is exact. */
function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.slice().buffer);
}

/** A checkpoint file of any version and header, with a valid checksum (the format of src/checkpoint.ts). */
function rawCheckpoint(d: string, version: number, header: object, floats: Float32Array): void {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.alloc(16 + json.length + ((4 - ((16 + json.length) % 4)) % 4));
  head.write('WDDPCKPT', 0, 'latin1');
  head.writeUInt32LE(version, 8);
  head.writeUInt32LE(json.length, 12);
  json.copy(head, 16);
  const body = Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength);
  const hash = createHash('sha256').update(head).update(body).digest();
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, CHECKPOINT_FILE), Buffer.concat([head, body, hash]));
}

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at] ^= 0x10;
  return c;
}
