// Optimizers with sharded state (src/optim/, Note [sharded optimizer state] in
// src/simd/arena.ts):
//   - our kernels, run slice by slice as the ranks run them, against tfjs's own
//     tf.train.* optimizers (cpu backend) on the same random gradients: the
//     parameters and every state vector agree to the bit after 30 steps;
//   - a rank's update touches its slice of the parameters and of every state
//     vector and nothing else, and the slices tile [0, P);
//   - optimizerFromTfjs reads tfjs's optimizers, refuses the others in one line;
//   - the Trainer with Adam gives the same parameters for 1, 2 and 3 workers.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocateArena, paramsAt, stateAt } from '../dist/src/simd/arena.js';
import { kernelsFor } from '../dist/src/simd/kernels.js';
import { betaPowers, float32Power } from '../dist/src/optim/adam.js';
import {
  initState,
  optimizerFromName,
  optimizerFromTfjs,
  stateVectors,
  type OptimizerSpec,
} from '../dist/src/optim/spec.js';
import { optimizerStep } from '../dist/src/optim/step.js';
import { partition } from '../dist/src/partition.js';
import { Rng } from '../dist/src/rng.js';
import { OptionError, Trainer } from '../dist/src/index.js';
import { maxAbsDiff, subset } from './helpers.js';

const P = 103;
/** Three slices with arbitrary boundaries: lengths 37, 2 and 64 (a 1-4 element tail, a tail-only slice, whole vectors). */
const CUTS = [0, 37, 39, P];
const STEPS = 30;
const observed: string[] = [];

afterAll(() => console.log(`optim: observed max abs differences\n  ${observed.join('\n  ')}`));

/** A uniform number in +-[0.5, 1). */
function awayFromZero(rng: Rng): number {
  return (rng.next() < 0.5 ? -1 : 1) * (0.5 + 0.5 * rng.next());
}

/** Bit patterns, so that equality is exact (-0 vs 0 included). */
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.slice().buffer);

/** The tfjs optimizers of every kind and variant, with hyperparameters away from the defaults too. */
const VARIANTS: readonly [string, () => tf.Optimizer][] = [
  ['sgd(0.1)', () => tf.train.sgd(0.1)],
  ['momentum(0.05, 0.9)', () => tf.train.momentum(0.05, 0.9)],
  ['momentum(0.05, 0.8, nesterov)', () => tf.train.momentum(0.05, 0.8, true)],
  ['adam(0.01)', () => tf.train.adam(0.01)],
  ['adam(0.02, 0.8, 0.99, 1e-4)', () => tf.train.adam(0.02, 0.8, 0.99, 1e-4)],
  ['rmsprop(0.01)', () => tf.train.rmsprop(0.01)],
  ['rmsprop(0.01, 0.95, momentum 0.5)', () => tf.train.rmsprop(0.01, 0.95, 0.5)],
  ['rmsprop(0.01, centered)', () => tf.train.rmsprop(0.01, 0.9, 0, null as unknown as number, true)],
  ['rmsprop(0.005, 0.8, momentum 0.9, 1e-6, centered)', () => tf.train.rmsprop(0.005, 0.8, 0.9, 1e-6, true)],
  ['adagrad(0.1)', () => tf.train.adagrad(0.1)],
  ['adagrad(0.05, 0.5)', () => tf.train.adagrad(0.05, 0.5)],
];

beforeAll(async () => {
  expect(await tf.setBackend('cpu')).toBe(true);
});

describe(`our kernels vs tfjs's optimizers: ${STEPS} steps of random gradients, 3 slices`, () => {
  it.each(VARIANTS)('%s: parameters and state equal to the bit', async (_name, make) => {
    const opt = make();
    const spec = optimizerFromTfjs(opt);
    const S = stateVectors(spec);
    const arena = allocateArena(P, 1, S);
    const k = kernelsFor(arena.memory);
    const rng = new Rng(7);
    const uniform = (): number => rng.next() * 2 - 1;
    for (let i = 0; i < P; i++) arena.params[0][i] = uniform();
    initState(spec, stateAt(arena, 0));
    const p0 = arena.params[0].slice();
    const variable = tf.variable(tf.tensor1d(p0));
    // Centered RMSProp needs every gradient's variance above epsilon (Note [tfjs centered RMSProp]: tested below).
    const centered = spec.kind === 'rmsprop' && spec.centered;
    for (let g = 0; g < STEPS; g++) {
      // Gradients of varying scale, some exactly 0, as a real run has.
      const scale = 10 ** ((g % 5) - 3);
      for (let i = 0; i < P; i++) {
        arena.reduced[i] = centered ? awayFromZero(rng) * 10 ** ((g % 3) - 1) : i % 17 === 0 ? 0 : uniform() * scale;
      }
      for (let r = 0; r < 3; r++) {
        const slice = { lo: CUTS[r], hi: CUTS[r + 1] };
        optimizerStep(k, spec, betaPowers(spec, g + 1), {
          params: paramsAt(arena, g),
          grad: arena.reduced,
          next: paramsAt(arena, g + 1),
          state: stateAt(arena, g),
          stateNext: stateAt(arena, g + 1),
          slice,
        });
      }
      tf.tidy(() => opt.applyGradients({ [variable.name]: tf.tensor1d(arena.reduced) }));
    }
    const ours = paramsAt(arena, STEPS);
    const theirs = variable.dataSync() as Float32Array;
    // tfjs's getWeights(): [iterations, ...state vectors in tfjs's order], ours is the same order.
    const weights = await opt.getWeights();
    const theirState = weights.slice(1).map((w) => w.tensor.dataSync() as Float32Array);
    expect(theirState).toHaveLength(S);
    const d = maxAbsDiff(ours, theirs);
    const ds = theirState.map((t, j) => maxAbsDiff(stateAt(arena, STEPS).subarray(j * P, (j + 1) * P), t));
    observed.push(
      `${_name}: params ${d}, state [${ds.join(', ')}] (params moved up to ${maxAbsDiff(ours, p0).toFixed(4)})`,
    );
    expect(ours.every(Number.isFinite)).toBe(true);
    expect(maxAbsDiff(ours, p0)).toBeGreaterThan(1e-3); // not vacuous
    expect(bits(ours)).toEqual(bits(theirs));
    theirState.forEach((t, j) =>
      expect(bits(stateAt(arena, STEPS).subarray(j * P, (j + 1) * P)), `state vector ${j}`).toEqual(bits(t)),
    );
    variable.dispose();
    weights.forEach((w) => w.tensor.dispose());
    opt.dispose();
  });
});

describe('sharding: a rank updates exactly its slice of the parameters and of every state vector', () => {
  const N = 3;
  const POISON = -7.25;
  it.each(VARIANTS)(
    '%s: each rank alone on a poisoned arena writes only partition(P, 3, rank); the slices together equal one whole-vector update',
    (_n, make) => {
      const spec = optimizerFromTfjs(make());
      const S = stateVectors(spec);
      const rng = new Rng(3);
      const arena = allocateArena(P, 1, S);
      const k = kernelsFor(arena.memory);
      for (let i = 0; i < P; i++) arena.params[0][i] = rng.next() - 0.5;
      for (let i = 0; i < P; i++) arena.reduced[i] = awayFromZero(rng);
      initState(spec, arena.state[0]);
      const step = (lo: number, hi: number): void => {
        optimizerStep(k, spec, betaPowers(spec, 5), {
          params: arena.params[0],
          grad: arena.reduced,
          next: arena.params[1],
          state: arena.state[0],
          stateNext: arena.state[1],
          slice: { lo, hi },
        });
      };
      const inputs = [arena.params[0], arena.reduced, arena.state[0]].map((a) => a.slice());
      step(0, P);
      const whole = [arena.params[1].slice(), arena.state[1].slice()];
      expect([...whole[0], ...whole[1]].every((v) => Number.isFinite(v) && v !== POISON)).toBe(true);
      const tiled = [new Float32Array(P), new Float32Array(S * P)];
      const covered = new Int32Array(P);
      for (let r = 0; r < N; r++) {
        const { lo, hi } = partition(P, N, r);
        arena.params[1].fill(POISON);
        arena.state[1].fill(POISON);
        step(lo, hi);
        for (let i = 0; i < P; i++) {
          const mine = i >= lo && i < hi;
          if (mine) covered[i]++;
          expect(arena.params[1][i] === POISON, `rank ${r}, param ${i}`).toBe(!mine);
          for (let j = 0; j < S; j++)
            expect(arena.state[1][j * P + i] === POISON, `rank ${r}, state ${j}[${i}]`).toBe(!mine);
          if (!mine) continue;
          tiled[0][i] = arena.params[1][i];
          for (let j = 0; j < S; j++) tiled[1][j * P + i] = arena.state[1][j * P + i];
        }
      }
      expect([...covered].every((c) => c === 1)).toBe(true); // the slices tile [0, P), no overlap
      expect(bits(tiled[0])).toEqual(bits(whole[0]));
      expect(bits(tiled[1])).toEqual(bits(whole[1]));
      [arena.params[0], arena.reduced, arena.state[0]].forEach((a, i) => expect(bits(a)).toEqual(bits(inputs[i]))); // inputs intact
    },
  );
});

describe('optimizerFromTfjs / optimizerFromName', () => {
  it('reads every supported tfjs optimizer, defaults resolved as tfjs resolves them', () => {
    const cases: [tf.Optimizer, OptimizerSpec][] = [
      [tf.train.sgd(0.1), { kind: 'sgd', lr: 0.1 }],
      [tf.train.momentum(0.01, 0.9), { kind: 'momentum', lr: 0.01, momentum: 0.9, nesterov: false }],
      [tf.train.momentum(0.01, 0.5, true), { kind: 'momentum', lr: 0.01, momentum: 0.5, nesterov: true }],
      [tf.train.adam(), { kind: 'adam', lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }],
      [tf.train.adam(0.01, 0.8, 0.99, 1e-4), { kind: 'adam', lr: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-4 }],
      [tf.train.rmsprop(0.01), { kind: 'rmsprop', lr: 0.01, decay: 0.9, momentum: 0, epsilon: 1e-7, centered: false }],
      [
        tf.train.rmsprop(0.01, 0.8, 0.5, 1e-6, true),
        { kind: 'rmsprop', lr: 0.01, decay: 0.8, momentum: 0.5, epsilon: 1e-6, centered: true },
      ],
      [tf.train.adagrad(0.1), { kind: 'adagrad', lr: 0.1, initialAccumulator: 0.1, epsilon: 1e-7 }],
      [tf.train.adagrad(0.1, 0.5), { kind: 'adagrad', lr: 0.1, initialAccumulator: 0.5, epsilon: 1e-7 }],
    ];
    for (const [opt, want] of cases) expect(optimizerFromTfjs(opt), opt.getClassName()).toEqual(want);
    expect(tf.backend().epsilon()).toBe(1e-7); // what tfjs's Adagrad adds, and Adam / RMSProp default to, on float32
  });

  it('refuses the others in one line naming the optimizer', () => {
    for (const [opt, name] of [
      [tf.train.adadelta(), 'Adadelta'],
      [tf.train.adamax(), 'Adamax'],
    ] as const) {
      expect(() => optimizerFromTfjs(opt)).toThrow(OptionError);
      expect(() => optimizerFromTfjs(opt)).toThrow(
        `optimizer ${name} is not supported (supported: sgd, momentum, adam, rmsprop, adagrad)`,
      );
    }
  });

  it('refuses a tfjs optimizer whose hyperparameters cannot run', () => {
    expect(() => optimizerFromTfjs(tf.train.adam(0.01, 1))).toThrow(
      'tf.train.adam().beta1 must be a number in [0, 1), got 1',
    );
    expect(() => optimizerFromTfjs(tf.train.sgd(-1))).toThrow('tf.train.sgd().lr must be a finite number >= 0, got -1');
  });

  it('names give tfjs defaults; lr replaces the default rate', () => {
    expect(optimizerFromName('sgd')).toEqual({ kind: 'sgd', lr: 0.003 });
    expect(optimizerFromName('momentum')).toEqual({ kind: 'momentum', lr: 0.003, momentum: 0.9, nesterov: false });
    expect(optimizerFromName('adam')).toEqual(optimizerFromTfjs(tf.train.adam()));
    expect(optimizerFromName('rmsprop')).toEqual(optimizerFromTfjs(tf.train.rmsprop(0.001)));
    expect(optimizerFromName('adagrad')).toEqual(optimizerFromTfjs(tf.train.adagrad(0.01)));
    expect(optimizerFromName('adam', 0.05).lr).toBe(0.05);
  });
});

describe("Adam's beta^t: tfjs's float32 product (Note [float32 beta powers])", () => {
  const replay = (beta: number, t: number): number => {
    let v = Math.fround(beta);
    for (let i = 1; i < t; i++) v = Math.fround(v * Math.fround(beta));
    return v;
  };

  it('equals the replayed product at any t, in any order of t; differs from beta^t rounded once', () => {
    for (const t of [1, 2, 3, 1000, 999, 5, 1, 20_000, 20_001]) {
      expect(float32Power(0.999, t), `t ${t}`).toBe(replay(0.999, t));
      expect(float32Power(0.9, t), `t ${t}`).toBe(replay(0.9, t));
    }
    expect(float32Power(0.999, 1000)).not.toBe(Math.fround(0.999 ** 1000));
  });

  it("equals tfjs's own accBeta after 100 updates", () => {
    const opt = tf.train.adam(0.01, 0.9, 0.999);
    const v = tf.variable(tf.zeros([4]));
    for (let t = 0; t < 100; t++) tf.tidy(() => opt.applyGradients([{ name: v.name, tensor: tf.ones([4]) }]));
    const acc = opt as unknown as { accBeta1: tf.Tensor; accBeta2: tf.Tensor };
    // After 100 updates tfjs holds the power update 101 will use.
    expect(acc.accBeta1.dataSync()[0]).toBe(float32Power(0.9, 101));
    expect(acc.accBeta2.dataSync()[0]).toBe(float32Power(0.999, 101));
    v.dispose();
    opt.dispose();
  });
});

describe('the Trainer with Adam (ZeRO-1 state), 1 vs 2 vs 3 workers', () => {
  const data = subset(375, 100); // batch 37: 11 steps per epoch, the last of 5 samples
  const base = { backend: 'wasm', seed: 5, batchSize: 37, hidden: [64, 32], data, optimizer: 'adam' } as const;
  const runs = new Map<
    number,
    { params: Float32Array; state: Float32Array; p0: Float32Array; slices: readonly { lo: number; hi: number }[] }
  >();

  beforeAll(async () => {
    for (const workers of [1, 2, 3]) {
      await using t = await Trainer.create({ ...base, workers, threads: workers }); // a slice per worker
      const p0 = t.getParams();
      await t.train(20);
      runs.set(workers, { params: t.getParams(), state: t.getOptimizerState(), p0, slices: t.updatedSlices() });
    }
  });

  it.each([2, 3])('%i workers: params and Adam moments within 1e-6 of 1 worker after 20 steps', (N) => {
    const one = runs.get(1);
    const r = runs.get(N);
    if (one === undefined || r === undefined) throw new Error('a run failed');
    const P = one.params.length;
    const d = maxAbsDiff(r.params, one.params);
    const dm = maxAbsDiff(r.state.subarray(0, P), one.state.subarray(0, P));
    const dv = maxAbsDiff(r.state.subarray(P), one.state.subarray(P));
    observed.push(
      `Trainer adam N=${N} vs N=1 after 20 steps: params ${d.toExponential(2)}, m ${dm.toExponential(2)}, v ${dv.toExponential(2)}`,
    );
    expect(r.state).toHaveLength(2 * P);
    expect(maxAbsDiff(one.params, one.p0)).toBeGreaterThan(1e-3); // Adam moved the weights
    expect(d).toBeLessThanOrEqual(1e-6);
    expect(dm).toBeLessThanOrEqual(1e-6);
    expect(dv).toBeLessThanOrEqual(1e-6);
  });

  it.each([1, 2, 3])(
    '%i workers: worker r reported updating exactly partition(P, N, r); together they tile [0, P)',
    (N) => {
      const r = runs.get(N);
      if (r === undefined) throw new Error('a run failed');
      const P = r.params.length;
      expect(r.slices).toEqual(Array.from({ length: N }, (_, rank) => partition(P, N, rank)));
      expect(r.slices[0].lo).toBe(0);
      for (let rank = 1; rank < N; rank++) expect(r.slices[rank].lo).toBe(r.slices[rank - 1].hi);
      expect(r.slices[N - 1].hi).toBe(P);
    },
  );

  it('sgd keeps no state; a name with lr, and a spec, reach the workers', async () => {
    await using t = await Trainer.create({ ...base, workers: 2, optimizer: undefined, lr: 0.05 });
    expect(t.options.optimizer).toEqual({ kind: 'sgd', lr: 0.05 });
    expect(t.getOptimizerState()).toHaveLength(0);
    const spec = { kind: 'adagrad', lr: 0.02, initialAccumulator: 0.25, epsilon: 1e-7 } as const;
    await using a = await Trainer.create({ ...base, workers: 2, optimizer: spec });
    expect(a.options.optimizer).toEqual(spec);
    expect(a.options.lr).toBe(0.02);
    expect(a.getOptimizerState().every((v) => v === 0.25)).toBe(true); // Adagrad's accumulator starts at initialAccumulator
    await a.train(1);
    expect(a.getOptimizerState().some((v) => v > 0.25)).toBe(true);
  });
});

describe('Note [tfjs centered RMSProp]: epsilon subtracted, NaN where the variance is below it', () => {
  it('a zero gradient: NaN in tfjs and in our kernel alike, and the kernel probe says so', () => {
    const opt = tf.train.rmsprop(0.01, 0.9, 0, null as unknown as number, true);
    const spec = optimizerFromTfjs(opt);
    const arena = allocateArena(8, 1, stateVectors(spec));
    const k = kernelsFor(arena.memory);
    arena.params[0].set([1, 2, 3, 4, 5, 6, 7, 8]);
    arena.reduced.set([0.5, 0, -0.5, 1, 0, 2, 3, 0]);
    const v = tf.variable(tf.tensor1d(arena.params[0]));
    tf.tidy(() => opt.applyGradients([{ name: v.name, tensor: tf.tensor1d(arena.reduced) }]));
    const probe = optimizerStep(k, spec, betaPowers(spec, 1), {
      params: arena.params[0],
      grad: arena.reduced,
      next: arena.params[1],
      state: arena.state[0],
      stateNext: arena.state[1],
      slice: { lo: 0, hi: 8 },
    });
    const theirs = [...v.dataSync()];
    expect(theirs.map(Number.isNaN)).toEqual([...arena.reduced].map((g) => g === 0));
    expect([...arena.params[1]].map(Number.isNaN)).toEqual([...arena.reduced].map((g) => g === 0));
    expect(probe).toBeNaN();
    v.dispose();
    opt.dispose();
  });

  it('the Trainer stops at step 1 with a NonFiniteError that names the cause, parameters untouched', async () => {
    const spec = optimizerFromTfjs(tf.train.rmsprop(0.001, 0.9, 0, null as unknown as number, true));
    await using t = await Trainer.create({
      backend: 'wasm',
      workers: 2,
      batchSize: 32,
      data: subset(64, 10),
      optimizer: spec,
    });
    const p0 = t.getParams();
    const err = await t.train(2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('NonFiniteError');
    expect((err as Error).message).toBe(
      "step 1: non-finite update; tfjs's centered RMSProp takes sqrt(meanSquare - (meanGrad^2 + epsilon)), NaN wherever the gradient's variance is below epsilon (a weight whose gradient is always 0, say): use rmsprop uncentered",
    );
    expect(t.stepsDone).toBe(0);
    expect(bits(t.getParams())).toEqual(bits(p0));
  });
});
