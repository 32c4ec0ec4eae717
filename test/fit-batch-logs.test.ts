// Batch hooks that read only their logs (readsModelInBatchHooks = false) under fitParallel,
// which then trains chunks of steps and calls them after each chunk (Note [logs-only chunks]
// in src/fit/chunks.ts): against tfjs's own model.fit (wasm, one thread, shuffle off) from
// the same initial weights, the hooks see the same events, batches and logs, in the same
// order, and the weights end the same (sgd 1e-5), with 1, 2 and 3 workers; a stop set in a
// batch hook lands at its chunk's end; a callback that does not declare it keeps the live model.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { Callbacks, type BatchHooks } from '../dist/src/fit/callbacks.js';
import { StepChunks } from '../dist/src/fit/chunks.js';
import {
  OptionError,
  fitParallel,
  registerWasmTrainingKernels,
  tensorBoard,
  type Callback,
} from '../dist/src/index.js';
import { toyClassifier, toyData } from './toy-classifier.js';
import { flatWeights as flat, maxAbsDiff, rejection } from './helpers.js';

const WORKERS = [1, 2, 3];
const TOL = 1e-5;
/** 160 samples, a quarter held out: 120 to train, in batches of 16: 7 and a short one of 8. */
const ARGS = { batchSize: 16, epochs: 2, validationSplit: 0.25, shuffle: false } as const;
const BATCHES = 8;
/**
 * model.fit validates at an epoch's last batch only, so an epoch that a batch hook stops
 * early has no val_ logs there (fitParallel's has): the stop cases hold out nothing, and
 * train on all 160 samples, 10 batches.
 */
const STOP_ARGS = { ...ARGS, validationSplit: 0 } as const;
const STOP_BATCHES = 10;

/** A small classifier: 8 features, tanh, 3 classes, sgd. */
const model = (): tf.Sequential => toyClassifier(tf.train.sgd(0.5), [31, 32]);

let x: tf.Tensor2D;
let y: tf.Tensor2D;

beforeAll(async () => {
  registerWasmTrainingKernels(); // as every worker does: the reference runs the same kernels
  await tf.setBackend('wasm');
  ({ x, y } = toyData(160, 9));
});

/** One hook call: its name, its epoch or batch index, and its logs (none for onBatchBegin: model.fit fills them in later). */
type Event = [string, number, Record<string, number>?];

/**
 * A callback that records every event into `into` and declares its batch hooks read only
 * logs; `stopAt` [epoch, batch] sets model.stopTraining in that batch's onBatchEnd.
 */
function recorder(m: tf.LayersModel, into: Event[], stopAt?: readonly [number, number]): Callback {
  let epoch = -1;
  return {
    readsModelInBatchHooks: false,
    onEpochBegin: (e) => void ((epoch = e), into.push(['epochBegin', e])),
    onBatchBegin: (b) => void into.push(['batchBegin', b]),
    onBatchEnd: (b, logs) => {
      into.push(['batchEnd', b, { ...logs }]);
      if (stopAt !== undefined && epoch === stopAt[0] && b === stopAt[1]) m.stopTraining = true;
    },
    onEpochEnd: (e, logs) => void into.push(['epochEnd', e, { ...logs }]),
    onTrainEnd: () => void into.push(['trainEnd', 0]),
  };
}

/** Same names, indices and log keys, and log values within TOL (batch and size exactly). */
function expectSameEvents(ours: readonly Event[], theirs: readonly Event[]): void {
  expect(ours.map(([name, i, logs]) => [name, i, Object.keys(logs ?? {}).sort()])).toEqual(
    theirs.map(([name, i, logs]) => [name, i, Object.keys(logs ?? {}).sort()]),
  );
  ours.forEach(([name, i, logs], k) => {
    for (const [key, v] of Object.entries(logs ?? {})) {
      const ref = theirs[k][2]?.[key] as number;
      if (key === 'batch' || key === 'size') expect(v, `${name} ${i} ${key}`).toBe(ref);
      else expect(Math.abs(v - ref), `${name} ${i} ${key}`).toBeLessThanOrEqual(TOL);
    }
  });
}

/** Each run's events, and its model after it. */
interface Runs {
  readonly ours: tf.LayersModel;
  readonly theirs: tf.LayersModel;
  readonly seen: Event[];
  readonly ref: Event[];
}

/**
 * fitParallel's run with `callbacks(model, events)` and model.fit's with the same
 * callbacks made for its own model (objects of hooks wrapped as tfjs wraps them), from
 * the same initial weights.
 */
async function both(
  callbacks: (m: tf.LayersModel, into: Event[]) => Callback[],
  workers: number,
  args: typeof ARGS | typeof STOP_ARGS = ARGS,
): Promise<Runs> {
  const theirs = model();
  const ours = model();
  ours.setWeights(theirs.getWeights());
  const seen: Event[] = [];
  const ref: Event[] = [];
  await fitParallel(ours, x, y, { ...args, workers, backend: 'wasm', callbacks: callbacks(ours, seen) });
  const list = callbacks(theirs, ref).map((c) => new tf.CustomCallback(c as tf.CustomCallbackArgs));
  await theirs.fit(x, y, { ...args, verbose: 0, callbacks: list });
  return { ours, theirs, seen, ref };
}

const ends = (events: readonly Event[]): Event[] => events.filter(([name]) => name === 'batchEnd');

describe('a callback whose batch hooks read only logs', () => {
  it.each(WORKERS)(
    '%i workers: the events, batches and logs of model.fit, in its order; its weights (sgd 1e-5)',
    async (workers) => {
      const { ours, theirs, seen, ref } = await both((m, into) => [recorder(m, into)], workers);
      expect(ends(seen)).toHaveLength(ARGS.epochs * BATCHES);
      expect(seen.slice(-2).map(([name, i]) => [name, i])).toEqual([
        ['epochEnd', 1],
        ['trainEnd', 0],
      ]);
      expectSameEvents(seen, ref);
      expect(maxAbsDiff(flat(ours), flat(theirs))).toBeLessThanOrEqual(TOL);
    },
  );

  it('gets { batch, size } in onBatchBegin, and finds the model unsynced: no weights are copied for it', async () => {
    const m = model();
    const initial = flat(m);
    const begins: string[] = [];
    const stale: number[] = [];
    await fitParallel(m, x, y, {
      ...ARGS,
      workers: 2,
      backend: 'wasm',
      callbacks: {
        readsModelInBatchHooks: false,
        onBatchBegin: (b, logs) => void begins.push(`${b} ${JSON.stringify(logs)}`),
        onBatchEnd: () => void stale.push(maxAbsDiff(flat(m), initial)),
      },
    });
    const one = Array.from({ length: BATCHES }, (_, b) => `${b} ${JSON.stringify({ batch: b, size: b < 7 ? 16 : 8 })}`);
    expect(begins).toEqual([...one, ...one]);
    expect(stale).toEqual(Array.from({ length: ARGS.epochs * BATCHES }, () => 0));
    expect(maxAbsDiff(flat(m), initial)).toBeGreaterThan(1e-2); // trained, and written back at the end
  });

  it("a stop in the fit's first batch: its first chunk is that step, so it stops there, as model.fit", async () => {
    const { ours, theirs, seen, ref } = await both((m, into) => [recorder(m, into, [0, 0])], 2, STOP_ARGS);
    expect(seen.map(([name, i]) => `${name} ${i}`)).toEqual([
      'epochBegin 0',
      'batchBegin 0',
      'batchEnd 0',
      'epochEnd 0',
      'trainEnd 0',
    ]);
    expectSameEvents(seen, ref);
    expect(maxAbsDiff(flat(ours), flat(theirs))).toBeLessThanOrEqual(TOL);
  });

  it("a later stop lands at its chunk's end: every trained batch gets its hooks, then onEpochEnd; model.fit stopped there agrees", async () => {
    const m = model();
    const ref = model();
    ref.setWeights(m.getWeights());
    const seen: Event[] = [];
    const args = { ...STOP_ARGS, epochs: 3 };
    await fitParallel(m, x, y, {
      ...args,
      workers: 2,
      backend: 'wasm',
      callbacks: recorder(m, seen, [1, 2]),
    });
    const last = ends(seen).at(-1) ?? ['none', -1];
    expect(seen.slice(-2).map(([name, i]) => [name, i])).toEqual([
      ['epochEnd', 1],
      ['trainEnd', 0],
    ]);
    expect(ends(seen)).toHaveLength(STOP_BATCHES + last[1] + 1);
    expect(last[1]).toBeGreaterThanOrEqual(2);
    const refSeen: Event[] = [];
    await ref.fit(x, y, {
      ...args,
      verbose: 0,
      callbacks: new tf.CustomCallback(recorder(ref, refSeen, [1, last[1]]) as tf.CustomCallbackArgs),
    });
    expectSameEvents(seen, refSeen);
    expect(maxAbsDiff(flat(m), flat(ref))).toBeLessThanOrEqual(TOL);
  });

  it('beside a callback that reads the model in onBatchEnd: a step per task, both see what model.fit shows them', async () => {
    const { ours, theirs, seen, ref } = await both(
      (m, into) => [
        recorder(m, into),
        { onBatchEnd: (b) => void (b === 1 && into.push(['weights', b, Object.fromEntries(flat(m).entries())])) },
      ],
      2,
    );
    expect(seen.filter(([name]) => name === 'weights')).toHaveLength(ARGS.epochs);
    expectSameEvents(seen, ref);
    expect(maxAbsDiff(flat(ours), flat(theirs))).toBeLessThanOrEqual(TOL);
  });
});

describe("fitParallel's batch mode by the callbacks", () => {
  const cases: [string, BatchHooks, Callback[]][] = [
    ['no callback', 'none', []],
    ['epoch hooks and tf.callbacks.earlyStopping', 'none', [{ onEpochEnd: () => 0 }, tf.callbacks.earlyStopping()]],
    ["tensorBoard('epoch')", 'none', [tensorBoard('unused')]],
    ["tensorBoard({ updateFreq: 'batch' })", 'logs', [tensorBoard('unused', { updateFreq: 'batch' })]],
    ['an object of hooks declaring it', 'logs', [{ onBatchEnd: () => 0, readsModelInBatchHooks: false }]],
    [
      'a tf.CustomCallback declaring it, and earlyStopping',
      'logs',
      [
        Object.assign(new tf.CustomCallback({ onBatchBegin: () => undefined }), { readsModelInBatchHooks: false }),
        tf.callbacks.earlyStopping(),
      ],
    ],
    ['a tf.CustomCallback with onBatchEnd', 'live', [new tf.CustomCallback({ onBatchEnd: () => undefined })]],
    ['readsModelInBatchHooks true', 'live', [{ onBatchEnd: () => 0, readsModelInBatchHooks: true }]],
    [
      'one declaring it and one not',
      'live',
      [tensorBoard('unused', { updateFreq: 10 }), { onBatchBegin: () => 0, onEpochEnd: () => 0 }],
    ],
  ];
  it.each(cases)('%s: %s', (_, mode, list) => {
    expect(new Callbacks(list, model()).batchHooks).toBe(mode);
  });

  it('readsModelInBatchHooks must be a boolean', async () => {
    const err = await rejection(
      fitParallel(model(), x, y, { callbacks: [{}, { readsModelInBatchHooks: 0 as unknown as boolean }] }),
    );
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toBe('callbacks[1].readsModelInBatchHooks must be a boolean');
  });
});

describe('StepChunks', () => {
  it("'none': the rest of the epoch; 'live': one step; 'logs': one, then about 100 ms of steps from the last chunk's speed", () => {
    expect(new StepChunks('none', true).next(37)).toBe(37);
    expect(new StepChunks('live', true).next(37)).toBe(1);
    const c = new StepChunks('logs', true);
    expect(c.next(37)).toBe(1);
    c.took(1, 10); // 10 ms a step: 10 steps
    expect(c.next(37)).toBe(10);
    c.took(10, 4); // 0.4 ms a step: 250, at most what the epoch has left
    expect(c.next(37)).toBe(37);
    c.took(37, 7400); // slower than a chunk: one step
    expect(c.next(37)).toBe(1);
  });

  it('in an MPI job (not paced): 16 steps whatever they take, so every process stops at the same step', () => {
    const c = new StepChunks('logs', false);
    expect(c.next(37)).toBe(16);
    c.took(16, 1);
    expect(c.next(37)).toBe(16);
    expect(c.next(5)).toBe(5);
  });
});
