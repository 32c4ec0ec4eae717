// fitParallel keeps model.fit's contract where callbacks act on the model: each case runs
// under fitParallel with 1, 2 and 3 workers and under tfjs's own model.fit (wasm, one
// thread, shuffle off) from the same initial weights, and must end with the same weights
// (sgd 1e-5, Adam 1e-4) and the same History. Plus gradient accumulation against one
// larger batch, the per-step schedule against model.fit with a per-batch rate, and bad input.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCommand } from '../dist/src/cli/args.js';
import { asDataset, fitData } from '../dist/src/fit/data.js';
import { layersSource } from '../dist/src/fit/spec.js';
import { resolveSchedule, scheduledLr } from '../dist/src/optim/schedule.js';
import {
  OptionError,
  Trainer,
  fitParallel,
  learningRateScheduler,
  optimizerFromTfjs,
  reduceLROnPlateau,
  registerWasmTrainingKernels,
  type Callback,
  type FitParallelArgs,
} from '../dist/src/index.js';
import { maxAbsDiff, rejection } from './helpers.js';
import { toyClassifier, toyData } from './toy-classifier.js';

const WORKERS = [1, 2, 3];
const SGD_TOL = 1e-5;
const ADAM_TOL = 1e-4;

/** A small classifier: 8 features, tanh, 3 classes (test/toy-classifier.ts). */
const model = (optimizer: tf.Optimizer): tf.Sequential => toyClassifier(optimizer);

function flat(m: tf.LayersModel): Float32Array {
  return Float32Array.from(m.getWeights().flatMap((w) => Array.from(w.dataSync())));
}

let x: tf.Tensor2D;
let y: tf.Tensor2D;

beforeAll(async () => {
  registerWasmTrainingKernels(); // as every worker does: the reference runs the same kernels
  await tf.setBackend('wasm');
  ({ x, y } = toyData(160, 5));
});

/** Callbacks for one run on `m`, and what they observed (compared across runs). */
interface Case {
  readonly optimizer: () => tf.Optimizer;
  readonly tol: number;
  readonly args: { readonly batchSize: number; readonly epochs: number; readonly validationSplit?: number };
  readonly callbacks: (m: tf.LayersModel, seen: number[][]) => Callback[];
  /** Worker counts to run (default 1, 2 and 3; cases beyond the list take 2, for the suite's time). */
  readonly workers?: readonly number[];
}

/** model.fit's run of a case and fitParallel's with `workers`, from the same initial weights. */
async function compare(c: Case, workers: number): Promise<void> {
  const initial = model(c.optimizer()).getWeights();
  const ref = model(c.optimizer());
  ref.setWeights(initial);
  const refSeen: number[][] = [];
  const refHistory = await ref.fit(x, y, {
    ...c.args,
    shuffle: false,
    verbose: 0,
    callbacks: asTfjs(c.callbacks(ref, refSeen)),
  });
  const m = model(c.optimizer());
  m.setWeights(initial);
  const seen: number[][] = [];
  const args: FitParallelArgs = {
    ...c.args,
    shuffle: false,
    workers,
    backend: 'wasm',
    callbacks: asTfjs(c.callbacks(m, seen)),
  };
  const h = await fitParallel(m, x, y, args);
  expect(maxAbsDiff(flat(m), flat(ref))).toBeLessThanOrEqual(c.tol);
  expect(h.epoch).toEqual(refHistory.epoch);
  expect(Object.keys(h.history).sort()).toEqual(Object.keys(refHistory.history).sort());
  for (const [k, values] of Object.entries(refHistory.history)) {
    values.forEach((v, e) =>
      expect(Math.abs(h.history[k][e] - (v as number)), `${k} at epoch ${e}`).toBeLessThanOrEqual(c.tol),
    );
  }
  expect(seen.length).toBe(refSeen.length);
  seen.forEach((s, i) => expect(maxAbsDiff(s, refSeen[i]), `observation ${i}`).toBeLessThanOrEqual(c.tol));
}

/**
 * As a tfjs user passes a list with a tf.Callback in it to model.fit: objects of hooks
 * wrapped in tf.CustomCallback (tfjs takes a list of tf.Callbacks or of objects, not both).
 */
function asTfjs(list: Callback[]): (tf.Callback | tf.CustomCallback)[] {
  return list.map((c) => (c instanceof tf.Callback ? c : new tf.CustomCallback(c as tf.CustomCallbackArgs)));
}

/** A callback written for model.fit's tensor logs: batch and size are numbers, the rest tf.Scalars. */
class ScalarLogs extends tf.Callback {
  constructor(private readonly seen: number[][]) {
    super();
  }
  override async onBatchEnd(batch: number, logs?: tf.Logs): Promise<void> {
    const l = logs as unknown as { batch: number; size: number; loss: tf.Scalar };
    this.seen.push([batch, l.batch, l.size, (await l.loss.data())[0]]);
  }
  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    const l = logs as unknown as { loss: tf.Scalar; val_loss: tf.Scalar };
    this.seen.push([epoch, (await l.loss.data())[0], (await l.val_loss.data())[0]]);
  }
}

/** The optimizer's learning rate, as a callback would read it. */
const lrOf = (m: tf.LayersModel): number => m.optimizer.getConfig().learningRate as number;

const CASES: [string, Case][] = [
  [
    'a callback halving the sgd learning rate every epoch (setLearningRate)',
    {
      optimizer: () => tf.train.sgd(0.5),
      tol: SGD_TOL,
      args: { batchSize: 32, epochs: 3 },
      callbacks: (m, seen) => [
        {
          onEpochEnd: () => void (m.optimizer as tf.SGDOptimizer).setLearningRate(lrOf(m) / 2),
          onTrainEnd: () => void seen.push([lrOf(m)]),
        },
      ],
    },
  ],
  [
    'a callback halving the adam learning rate every epoch (optimizer.learningRate =)',
    {
      optimizer: () => tf.train.adam(0.05),
      tol: ADAM_TOL,
      args: { batchSize: 32, epochs: 3 },
      callbacks: (m) => [
        { onEpochEnd: () => void ((m.optimizer as unknown as { learningRate: number }).learningRate = lrOf(m) / 2) },
      ],
    },
  ],
  [
    "a callback changing Adam's beta1 and epsilon after the first epoch",
    {
      optimizer: () => tf.train.adam(0.05),
      tol: ADAM_TOL,
      workers: [2],
      args: { batchSize: 32, epochs: 3 },
      callbacks: (m) => [
        {
          onEpochEnd: (e: number) => {
            if (e !== 0) return;
            const o = m.optimizer as unknown as { beta1: number; epsilon: number };
            o.beta1 = 0.5;
            o.epsilon = 1e-3;
          },
        },
      ],
    },
  ],
  [
    'a callback reading model.getWeights() at every epoch and batch end, with tf.callbacks.earlyStopping',
    {
      optimizer: () => tf.train.adam(0.05),
      tol: ADAM_TOL,
      args: { batchSize: 32, epochs: 4, validationSplit: 0.2 },
      callbacks: (m, seen) => [
        {
          onEpochEnd: () => void seen.push(Array.from(flat(m))),
          onBatchEnd: (b: number) => void (b === 1 && seen.push(Array.from(flat(m)))),
        },
        tf.callbacks.earlyStopping({ monitor: 'val_loss', patience: 1 }),
      ],
    },
  ],
  [
    'a callback that freezes training with learningRate = 0',
    {
      optimizer: () => tf.train.adam(0.05),
      tol: ADAM_TOL,
      workers: [2],
      args: { batchSize: 32, epochs: 3 },
      callbacks: (m, seen) => [
        {
          onEpochEnd: (e: number) => {
            seen.push(Array.from(flat(m)));
            if (e === 0) (m.optimizer as unknown as { learningRate: number }).learningRate = 0;
          },
        },
      ],
    },
  ],
  [
    "a callback restoring the first epoch's weights with model.setWeights, training going on from them",
    {
      optimizer: () => tf.train.adam(0.05),
      tol: ADAM_TOL,
      args: { batchSize: 32, epochs: 3 },
      callbacks: (m) => {
        let saved: tf.Tensor[] = [];
        return [
          {
            onEpochEnd: (e: number) => {
              if (e === 0) saved = m.getWeights().map((w) => w.clone());
              if (e === 1) m.setWeights(saved);
            },
          },
        ];
      },
    },
  ],
  [
    'learningRateScheduler',
    {
      optimizer: () => tf.train.adam(0.05),
      tol: ADAM_TOL,
      args: { batchSize: 32, epochs: 3 },
      callbacks: (m, seen) => [
        learningRateScheduler((epoch, lr) => (epoch === 0 ? lr : lr * 0.3)),
        { onEpochEnd: () => void seen.push([lrOf(m)]) },
      ],
    },
  ],
  [
    'a tf.Callback subclass reading its logs as tf.Scalars (await logs.loss.data())',
    {
      optimizer: () => tf.train.sgd(0.3),
      tol: SGD_TOL,
      workers: [2],
      args: { batchSize: 32, epochs: 2, validationSplit: 0.2 },
      callbacks: (_, seen) => [new ScalarLogs(seen)],
    },
  ],
  [
    'reduceLROnPlateau on a plateauing run (sgd)',
    {
      optimizer: () => tf.train.sgd(0.2),
      tol: SGD_TOL,
      args: { batchSize: 32, epochs: 6 },
      // minDelta 10: no epoch improves on the first, so the rate drops every patience + cooldown epochs.
      callbacks: (m, seen) => [
        reduceLROnPlateau({ monitor: 'loss', factor: 0.5, patience: 1, cooldown: 2, minDelta: 10, minLr: 0.03 }),
        { onEpochEnd: () => void seen.push([lrOf(m)]) },
      ],
    },
  ],
];

describe.each(CASES)('%s', (_, c) => {
  it.each(c.workers ?? WORKERS)(
    '%i workers: the weights, History and observations of tfjs model.fit',
    async (workers) => {
      await compare(c, workers);
    },
  );
});

describe('the schedule callbacks under model.fit', () => {
  it('reduceLROnPlateau drops the rate as Keras does: after patience epochs, then after cooldown + patience, not below minLr', async () => {
    const m = model(tf.train.sgd(0.2));
    const lrs: number[] = [];
    await m.fit(x, y, {
      batchSize: 32,
      epochs: 6,
      shuffle: false,
      verbose: 0,
      callbacks: asTfjs([
        reduceLROnPlateau({ monitor: 'loss', factor: 0.5, patience: 1, cooldown: 2, minDelta: 10, minLr: 0.03 }),
        { onEpochEnd: () => void lrs.push(lrOf(m)) },
      ]),
    });
    // epoch 0 sets best; 1: wait 1 -> 0.1, cooldown 2; 2: cooldown; 3: cooldown ends (Keras counts down first), wait 1 -> 0.05; 4: cooldown; 5: -> max(0.025, 0.03)
    expect(lrs).toEqual([0.2, 0.1, 0.1, 0.05, 0.05, 0.03]);
  });
});

describe('gradient accumulation', () => {
  // 160 samples: batches of 16 in steps of 4 are 64, 64 and 32 samples, as batches of 64.
  it.each(WORKERS)(
    '%i workers, accumulateSteps 4 at batch 16: the weights and epoch logs of model.fit at batch 64 (sgd)',
    async (workers) => {
      const ref = model(tf.train.sgd(0.5));
      const m = model(tf.train.sgd(0.5));
      m.setWeights(ref.getWeights());
      const refHistory = await ref.fit(x, y, { batchSize: 64, epochs: 2, shuffle: false, verbose: 0 });
      const batches: [number, number][] = [];
      const h = await fitParallel(m, x, y, {
        batchSize: 16,
        accumulateSteps: 4,
        epochs: 2,
        shuffle: false,
        workers,
        backend: 'wasm',
        callbacks: { onBatchEnd: (b, logs) => void batches.push([b, logs?.size ?? -1]) },
      });
      expect(maxAbsDiff(flat(m), flat(ref))).toBeLessThanOrEqual(SGD_TOL);
      for (const k of ['loss', 'acc']) {
        (refHistory.history[k] as number[]).forEach((v, e) =>
          expect(Math.abs(h.history[k][e] - v), `${k} ${e}`).toBeLessThanOrEqual(SGD_TOL),
        );
      }
      // Each batch of 16 is a batch for the callbacks.
      const epoch = Array.from({ length: 10 }, (_, b): [number, number] => [b, 16]);
      expect(batches).toEqual([...epoch, ...epoch]);
      expect(h.params.steps).toBe(10);
    },
  );

  it('with Adam, 2 workers: model.fit at batch 64 (1e-4)', async () => {
    const ref = model(tf.train.adam(0.02));
    const m = model(tf.train.adam(0.02));
    m.setWeights(ref.getWeights());
    await ref.fit(x, y, { batchSize: 64, epochs: 2, shuffle: false, verbose: 0 });
    await fitParallel(m, x, y, {
      batchSize: 16,
      accumulateSteps: 4,
      epochs: 2,
      shuffle: false,
      workers: 2,
      backend: 'wasm',
    });
    expect(maxAbsDiff(flat(m), flat(ref))).toBeLessThanOrEqual(ADAM_TOL);
  });
});

describe('the per-step schedule (Trainer lrSchedule)', () => {
  it.each([
    ['cosine', { kind: 'cosine', warmupSteps: 3 }],
    ['step', { kind: 'step', warmupSteps: 2, every: 4, factor: 0.5 }],
  ] as const)('%s with warm-up, 2 workers: model.fit with the same rate set before each batch', async (_, schedule) => {
    const epochs = 2;
    const ref = model(tf.train.sgd(0.5));
    const m = model(tf.train.sgd(0.5));
    m.setWeights(ref.getWeights());
    const steps = 5; // 160 / 32
    const resolved = resolveSchedule(schedule, epochs * steps, steps);
    let g = 0;
    await ref.fit(x, y, {
      batchSize: 32,
      epochs,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onBatchBegin: () => void (ref.optimizer as tf.SGDOptimizer).setLearningRate(scheduledLr(resolved, 0.5, g++)),
      },
    });
    const source = layersSource(m);
    const data = fitData(source.spec, x, y, {});
    await using trainer = await Trainer.create(
      {
        workers: 2,
        epochs,
        batchSize: 32,
        shuffle: false,
        backend: 'wasm',
        data: asDataset(data, source.spec),
        optimizer: optimizerFromTfjs(m.optimizer),
        lrSchedule: schedule,
      },
      source,
    );
    await trainer.train(epochs * steps);
    expect(maxAbsDiff(trainer.getParams(), flat(ref))).toBeLessThanOrEqual(SGD_TOL);
  });

  it('rates: linear warm-up, then cosine to 0 at the last step, or step decay', () => {
    const cos = resolveSchedule({ kind: 'cosine', warmupSteps: 2 }, 10, 5);
    expect([0, 1, 2, 6, 10].map((s) => scheduledLr(cos, 1, s))).toEqual([0.5, 1, 1, 0.5, 0]);
    const step = resolveSchedule({ kind: 'step' }, 20, 5);
    expect([0, 4, 5, 10].map((s) => scheduledLr(step, 1, s))).toEqual([1, 1, 0.5, 0.25]);
    expect(scheduledLr(resolveSchedule({ kind: 'constant' }, 10, 5), 0.1, 7)).toBe(0.1);
  });
});

describe('one fit of a model at a time, as model.fit', () => {
  it('a second fit while the first runs is refused, ours or tfjs’s; after it ends, the model trains again', async () => {
    const m = model(tf.train.sgd(0.1));
    const first = fitParallel(m, x, y, { workers: 1, epochs: 2 });
    const again = await rejection(fitParallel(m, x, y, { workers: 1 }));
    expect(again).toBeInstanceOf(OptionError);
    expect((again as Error).message).toBe(
      'the model is training already: another fit of it has not ended (one fit at a time, as model.fit)',
    );
    // tfjs's fit reads the same mark (Note in src/fit/claim.ts): this fails if tfjs stops reading it.
    const tfjs = await rejection(m.fit(x, y, { epochs: 1, verbose: 0 }));
    expect((tfjs as Error).message).toBe('Cannot start training because another fit() call is ongoing.');
    await first;
    expect(await rejection(fitParallel(m, x, x, { workers: 1 }))).toBeInstanceOf(OptionError); // fails, and lets go
    expect((await fitParallel(m, x, y, { workers: 1 })).epoch).toEqual([0]);
    expect((await m.fit(x, y, { epochs: 1, verbose: 0 })).epoch).toEqual([0]);
  });
});

describe('bad input: one line naming the cause', () => {
  const cases: [string, () => unknown, string][] = [
    [
      'accumulateSteps 0',
      () => fitParallel(model(tf.train.sgd(0.1)), x, y, { accumulateSteps: 0, workers: 1 }),
      'accumulateSteps must be an integer from 1 to 1048576, got 0',
    ],
    [
      'accumulateSteps 1.5',
      () => fitParallel(model(tf.train.sgd(0.1)), x, y, { accumulateSteps: 1.5, workers: 1 }),
      'accumulateSteps must be an integer from 1 to 1048576, got 1.5',
    ],
    [
      'accumulateSteps a tensor',
      () => fitParallel(model(tf.train.sgd(0.1)), x, y, { accumulateSteps: tf.zeros([2, 2]) as never, workers: 1 }),
      'accumulateSteps must be an integer from 1 to 1048576, got a float32 tensor of shape [2, 2]',
    ],
    [
      'accumulateSteps an object without a prototype',
      () => fitParallel(model(tf.train.sgd(0.1)), x, y, { accumulateSteps: Object.create(null) as never, workers: 1 }),
      'accumulateSteps must be an integer from 1 to 1048576, got an object',
    ],
    [
      'a schedule that is not a function',
      () => learningRateScheduler(0.1 as never),
      'learningRateScheduler needs a function (epoch, lr) => lr, got 0.1',
    ],
    [
      'a schedule returning NaN',
      () => fitParallel(model(tf.train.sgd(0.1)), x, y, { workers: 1, callbacks: [learningRateScheduler(() => NaN)] }),
      'learningRateScheduler: the schedule returned NaN for epoch 0; it must return a finite number >= 0',
    ],
    [
      'reduceLROnPlateau factor 1',
      () => reduceLROnPlateau({ factor: 1 }),
      'reduceLROnPlateau.factor must be a number in (0, 1), got 1',
    ],
    [
      'reduceLROnPlateau patience -1',
      () => reduceLROnPlateau({ patience: -1 }),
      'reduceLROnPlateau.patience must be an integer >= 0, got -1',
    ],
    [
      'reduceLROnPlateau mode',
      () => reduceLROnPlateau({ mode: 'up' as never }),
      'reduceLROnPlateau.mode must be one of auto, min, max, got "up"',
    ],
    [
      'reduceLROnPlateau unknown argument',
      () => reduceLROnPlateau({ verbose: 1 } as never),
      'reduceLROnPlateau has no argument "verbose" (it takes monitor, factor, patience, mode, minDelta, cooldown, minLr)',
    ],
    [
      'an unknown lrSchedule',
      () => Trainer.create({ lrSchedule: 'linear' as never }),
      'lrSchedule must be one of constant, cosine, step, got "linear"',
    ],
    [
      'a negative warm-up',
      () => Trainer.create({ lrSchedule: { kind: 'cosine', warmupSteps: -1 } }),
      'lrSchedule.warmupSteps must be an integer from 0 to 2147483647, got -1',
    ],
    [
      'every on cosine',
      () => Trainer.create({ lrSchedule: { kind: 'cosine', every: 3 } }),
      "lrSchedule: every and factor are for kind 'step', not 'cosine'",
    ],
    [
      'a step factor of 2',
      () => Trainer.create({ lrSchedule: { kind: 'step', factor: 2 } }),
      'lrSchedule.factor must be a number in (0, 1], got 2',
    ],
    [
      '--accumulate 0',
      () => parseCommand(['--accumulate', '0']),
      '--accumulate must be an integer from 1 to 1048576, got 0',
    ],
    [
      '--lr-schedule linear',
      () => parseCommand(['--lr-schedule', 'linear']),
      '--lr-schedule must be one of constant, cosine, step, got "linear"',
    ],
    [
      '--warmup-steps -2',
      () => parseCommand(['--warmup-steps', '-2']),
      '--warmup-steps must be an integer from 0 to 2147483647, got -2',
    ],
    [
      'a tensor where the options belong',
      () => fitParallel(model(tf.train.sgd(0.1)), x, y, { workers: 1, modules: x as never }),
      'modules must be an array of module paths or URLs, got a float32 tensor of shape [160, 8]',
    ],
    [
      'modules as one string',
      () => fitParallel(model(tf.train.sgd(0.1)), x, y, { workers: 1, modules: './layers.js' as never }),
      'modules must be an array of module paths or URLs, got "./layers.js"',
    ],
    [
      'a callback replacing the optimizer with another kind',
      () => {
        const m = model(tf.train.sgd(0.1));
        return fitParallel(m, x, y, {
          workers: 1,
          epochs: 2,
          callbacks: { onEpochEnd: () => void (m.optimizer = tf.train.adam(0.1)) },
        });
      },
      'the optimizer changed from sgd (lr 0.1) to adam (lr 0.1, beta1 0.9, beta2 0.999, epsilon 1e-7) during training; only its numeric hyperparameters may change',
    ],
  ];
  it.each(cases)('%s', async (_, call, message) => {
    const err = await rejection(Promise.resolve().then(call));
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toBe(message);
  });

  it('the CLI flags reach the Trainer options', () => {
    const cmd = parseCommand(['--lr-schedule', 'cosine', '--warmup-steps', '100', '--accumulate', '4']);
    expect(cmd.kind === 'train' && cmd.options).toEqual({
      lrSchedule: { kind: 'cosine', warmupSteps: 100 },
      accumulateSteps: 4,
    });
  });
});
