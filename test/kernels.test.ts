// The wasm SIMD kernels (src/simd/): the committed bytes are those of kernels.wat,
// and reduce / sgd / the optimizers compute exactly what they claim, in float32, on the
// shared memory, over any slice [lo, hi) (the 4-wide SIMD body and the 0-3 element tail).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assembleKernels } from '../dist/scripts/wat.js';
import { allocateArena, type Arena } from '../dist/src/simd/arena.js';
import { KERNELS_WASM_BASE64 } from '../dist/src/simd/kernels-wasm.js';
import { kernelsFor } from '../dist/src/simd/kernels.js';
import { Rng } from '../dist/src/rng.js';

const WAT = fileURLToPath(new URL('../src/simd/kernels.wat', import.meta.url));
const f32 = Math.fround;

/** Deterministic uniforms in [0, 1): the project's own seeded generator (src/rng.ts). */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}
function fill(a: Float32Array, next: () => number): void {
  for (let i = 0; i < a.length; i++) a[i] = (next() * 2 - 1) * 10 ** Math.floor(next() * 6 - 3);
}

/** Bit patterns, so that equality is exact (-0 vs 0 included). */
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.slice().buffer);

/** Slices [lo, hi) of P = 103 elements: empty, 1-3 elements (tail only), odd offsets, 4k + r lengths, the whole. */
const P = 103;
const SLICES: readonly [number, number][] = [
  [0, P],
  [0, 0],
  [5, 5],
  [0, 1],
  [1, 3],
  [2, 5],
  [3, 7],
  [1, 8],
  [7, 100],
  [4, 103],
  [50, 53],
  [9, 102],
  [100, 103],
  [0, 4],
  [13, 77],
];

function emulateReduce(
  rows: Float32Array,
  parties: number,
  length: number,
  lo: number,
  hi: number,
  scale: number,
): { out: Float32Array; probe: number } {
  const out = new Float32Array(hi - lo);
  const lanes = [0, 0, 0, 0];
  let tail = 0;
  const end4 = lo + ((hi - lo) & ~3);
  const s = f32(scale);
  for (let i = lo; i < hi; i++) {
    let acc = rows[i];
    for (let r = 1; r < parties; r++) acc = f32(acc + rows[r * length + i]);
    acc = f32(acc * s);
    out[i - lo] = acc;
    if (i < end4) lanes[(i - lo) % 4] = f32(lanes[(i - lo) % 4] + acc);
    else tail = f32(tail + acc);
  }
  const probe = f32(tail + f32(f32(lanes[0] + lanes[1]) + f32(lanes[2] + lanes[3])));
  return { out, probe };
}

describe('kernels-wasm.ts is generated from kernels.wat', () => {
  it('assembling src/simd/kernels.wat gives the committed KERNELS_WASM_BASE64', async () => {
    const base64 = Buffer.from(await assembleKernels(readFileSync(WAT, 'utf8'))).toString('base64');
    expect(
      base64 === KERNELS_WASM_BASE64,
      'src/simd/kernels-wasm.ts is out of date with src/simd/kernels.wat: run `npm run build:wasm` and commit the result',
    ).toBe(true);
  });
});

/**
 * The update kernels' probe: the float32 sum of the outputs, 4 lanes over the
 * whole vectors, then the 0-3 element tail one by one (sgd) or as a last,
 * partial vector (the optimizers), then (l0 + l1) + (l2 + l3).
 */
function probeOf(out: Float32Array, tail: 'scalar tail' | 'vector tail'): number {
  const lanes = [0, 0, 0, 0];
  const end4 = tail === 'scalar tail' ? out.length & ~3 : out.length;
  let rest = 0;
  out.forEach((v, i) => {
    if (i < end4) lanes[i % 4] = f32(lanes[i % 4] + v);
    else rest = f32(rest + v);
  });
  return f32(rest + f32(f32(lanes[0] + lanes[1]) + f32(lanes[2] + lanes[3])));
}

describe('reduce: out[i] = scale * (rows[0][i] + ... + rows[parties-1][i]) in float32, in rank order', () => {
  for (let parties = 1; parties <= 8; parties++) {
    it(`${parties} ${parties === 1 ? 'party' : 'parties'}, every slice: exact, and nothing outside [lo, hi) written`, () => {
      const arena = allocateArena(P, parties);
      const k = kernelsFor(arena.memory);
      const next = rng(parties);
      fill(arena.grads, next);
      const rowsBefore = arena.grads.slice();
      for (const scale of [1, 1 / 64, 1 / 3, 0.1]) {
        for (const [lo, hi] of SLICES) {
          arena.reduced.fill(-7.25); // a sentinel outside the slice
          const want = emulateReduce(arena.grads, parties, P, lo, hi, scale);
          const probe = k.reduce(arena.grads, parties, P, lo, hi, scale, arena.reduced);
          const where = `parties ${parties}, [${lo}, ${hi}), scale ${scale}`;
          expect(bits(arena.reduced.subarray(lo, hi)), where).toEqual(bits(want.out));
          expect(
            arena.reduced.subarray(0, lo).every((v) => v === -7.25),
            where,
          ).toBe(true);
          expect(
            arena.reduced.subarray(hi).every((v) => v === -7.25),
            where,
          ).toBe(true);
          expect(probe, where).toBe(want.probe);
          expect(Number.isFinite(probe)).toBe(true);
        }
      }
      expect(bits(arena.grads)).toEqual(bits(rowsBefore)); // inputs untouched
    });
  }

  it('the probe: the float32 sum of the outputs, 0 for an empty slice', () => {
    const arena = allocateArena(P, 2);
    const k = kernelsFor(arena.memory);
    arena.grads.fill(0.5); // out[i] = 1 * (0.5 + 0.5)
    expect(k.reduce(arena.grads, 2, P, 0, P, 1, arena.reduced)).toBe(P);
    expect(k.reduce(arena.grads, 2, P, 3, 10, 1, arena.reduced)).toBe(7);
    expect(k.reduce(arena.grads, 2, P, 10, 10, 1, arena.reduced)).toBe(0);
  });

  it('the probe is NaN / Infinity when an input in the slice is, in the SIMD body and in the tail; inputs outside the slice are not read', () => {
    const cases: { value: number; at: 'body' | 'tail'; party: number; want: number }[] = [
      { value: NaN, at: 'body', party: 0, want: NaN },
      { value: NaN, at: 'tail', party: 2, want: NaN },
      { value: Infinity, at: 'body', party: 1, want: Infinity },
      { value: -Infinity, at: 'tail', party: 0, want: -Infinity },
      { value: Infinity, at: 'body', party: 2, want: Infinity },
    ];
    const [lo, hi] = [1, 8]; // body [1, 5), tail [5, 8)
    for (const { value, at, party, want } of cases) {
      for (const parties of [3, 4]) {
        const arena: Arena = allocateArena(P, parties);
        const k = kernelsFor(arena.memory);
        fill(arena.grads, rng(99));
        const i = at === 'body' ? 2 : 6;
        arena.grads[party * P + i] = value;
        const probe = k.reduce(arena.grads, parties, P, lo, hi, 1 / 64, arena.reduced);
        expect(probe, `${value} in the ${at}, party ${party} of ${parties}`).toBe(want);
        // The same value outside [lo, hi) is not read: a finite probe.
        expect(Number.isFinite(k.reduce(arena.grads, parties, P, 9, 40, 1 / 64, arena.reduced))).toBe(true);
      }
    }
    // Finite inputs whose float32 sum overflows: the probe says so too.
    const arena = allocateArena(P, 2);
    const k = kernelsFor(arena.memory);
    arena.grads.fill(3e38);
    expect(k.reduce(arena.grads, 2, P, 0, 8, 1, arena.reduced)).toBe(Infinity);
  });
});

describe('sgd: next[i] = params[i] - lr * grad[i] in float32', () => {
  it('exact against Math.fround, every slice; writes only [lo, hi) of next and nothing of params or grad', () => {
    const arena = allocateArena(P, 1);
    const k = kernelsFor(arena.memory);
    const [params, next] = arena.params;
    const grad = arena.reduced;
    const r = rng(7);
    fill(params, r);
    fill(grad, r);
    const paramsBefore = params.slice();
    const gradBefore = grad.slice();
    for (const lr of [0.003, 0.05, 1, 1e-7, 1 / 3]) {
      const lr32 = f32(lr);
      for (const [lo, hi] of SLICES) {
        next.fill(-7.25);
        const probe = k.sgd(params, grad, next, lo, hi, lr);
        const want = new Float32Array(hi - lo);
        for (let i = lo; i < hi; i++) want[i - lo] = f32(params[i] - f32(lr32 * grad[i]));
        const where = `lr ${lr}, [${lo}, ${hi})`;
        expect(bits(next.subarray(lo, hi)), where).toEqual(bits(want));
        expect(probe, where).toBe(probeOf(want, 'scalar tail'));
        expect(
          next.subarray(0, lo).every((v) => v === -7.25),
          where,
        ).toBe(true);
        expect(
          next.subarray(hi).every((v) => v === -7.25),
          where,
        ).toBe(true);
      }
    }
    expect(bits(params)).toEqual(bits(paramsBefore));
    expect(bits(grad)).toEqual(bits(gradBefore));
  });

  it('refuses an array that is not a view of its memory', () => {
    const arena = allocateArena(P, 1);
    const k = kernelsFor(arena.memory);
    expect(() => k.sgd(new Float32Array(P), arena.reduced, arena.params[1], 0, P, 0.1)).toThrow(
      'kernel argument is not a view of the kernels memory',
    );
  });
});

// The optimizer kernels: each against its formula written out with Math.fround, one
// float32 operation per fround in the order kernels.wat documents (tfjs's order;
// test/optim.test.ts checks that against tfjs itself). Every slice of SLICES,
// body and tail; exact to the bit; only [lo, hi) of next and of each state vector
// written; params, grad and the input state untouched.
describe('optimizer kernels: exact against their float32 formulas, only [lo, hi) written', () => {
  /** One kernel: how many state vectors, the kernel call, and the reference for element i. */
  interface Case {
    readonly name: string;
    readonly vectors: number;
    /** A random value x made a valid one for state vector j (v >= 0; s well above a*a for centered RMSProp). */
    readonly init: (j: number, x: number) => number;
    /** Returns the kernel's probe. */
    readonly run: (k: ReturnType<typeof kernelsFor>, a: Arena, lo: number, hi: number) => number;
    /** Element i: [next param, ...next state] from [param, grad, ...state]. */
    readonly want: (p: number, g: number, s: number[]) => number[];
  }
  const vec = (s: Float32Array, j: number): Float32Array => s.subarray(j * P, (j + 1) * P);
  const [lr, m, b1, b2, eps, decay, mom] = [0.01, 0.9, 0.9, 0.999, 1e-7, 0.9, 0.5].map(f32);
  const [c1, c2, bc1, bc2, cd] = [1 - 0.9, 1 - 0.999, 1 - 0.9 ** 3, 1 - 0.999 ** 3, 1 - 0.9].map(f32);
  const cases: Case[] = [
    ...[false, true].map((nesterov): Case => ({
      name: `momentum${nesterov ? ' (nesterov)' : ''}`,
      vectors: 1,
      init: (_j, x) => x,
      run: (k, a, lo, hi) =>
        k.momentum(a.params[0], a.reduced, a.params[1], a.state[0], a.state[1], lo, hi, 0.01, 0.9, nesterov),
      want: (p, g, [acc]) => {
        const a2 = f32(f32(m * acc) + g);
        return [f32(p - f32(lr * (nesterov ? f32(g + f32(a2 * m)) : a2))), a2];
      },
    })),
    {
      name: 'adam',
      vectors: 2,
      init: (j, x) => (j === 1 ? Math.abs(x) : x),
      run: (k, a, lo, hi) =>
        k.adam(
          a.params[0],
          a.reduced,
          a.params[1],
          vec(a.state[0], 0),
          vec(a.state[0], 1),
          vec(a.state[1], 0),
          vec(a.state[1], 1),
          lo,
          hi,
          {
            lr: 0.01,
            beta1: 0.9,
            oneMinusBeta1: 1 - 0.9,
            beta2: 0.999,
            oneMinusBeta2: 1 - 0.999,
            biasCorrection1: 1 - 0.9 ** 3,
            biasCorrection2: 1 - 0.999 ** 3,
            epsilon: 1e-7,
          },
        ),
      want: (p, g, [mm, vv]) => {
        const m2 = f32(f32(mm * b1) + f32(g * c1));
        const v2 = f32(f32(vv * b2) + f32(f32(g * g) * c2));
        return [f32(p - f32(f32(f32(m2 / bc1) / f32(f32(Math.sqrt(f32(v2 / bc2))) + eps)) * lr)), m2, v2];
      },
    },
    ...[false, true].map((centered): Case => ({
      name: `rmsprop${centered ? ' (centered)' : ''}`,
      vectors: centered ? 3 : 2,
      // |g| < 100 and |a| <= 1 keep |a'| < 11, so s >= 1e6 keeps s' - (a'*a' + eps) > 0 when centered.
      init: (j, x) => (j === 0 ? Math.abs(x) + 1e6 : j === 2 ? Math.max(-1, Math.min(1, x)) : x),
      run: (k, a, lo, hi) =>
        k.rmsprop(
          a.params[0],
          a.reduced,
          a.params[1],
          vec(a.state[0], 0),
          vec(a.state[0], 1),
          centered ? vec(a.state[0], 2) : undefined,
          vec(a.state[1], 0),
          vec(a.state[1], 1),
          centered ? vec(a.state[1], 2) : undefined,
          lo,
          hi,
          { lr: 0.01, decay: 0.9, oneMinusDecay: 1 - 0.9, momentum: 0.5, epsilon: 1e-7 },
        ),
      want: (p, g, [s, o, ag]) => {
        const s2 = f32(f32(s * decay) + f32(f32(g * g) * cd));
        const a2 = centered ? f32(f32(ag * decay) + f32(g * cd)) : 0;
        const d = centered ? f32(s2 - f32(f32(a2 * a2) + eps)) : f32(s2 + eps);
        const o2 = f32(f32(o * mom) + f32(f32(g * lr) / f32(Math.sqrt(d))));
        return centered ? [f32(p - o2), s2, o2, a2] : [f32(p - o2), s2, o2];
      },
    })),
    {
      name: 'adagrad',
      vectors: 1,
      init: (_j, x) => Math.abs(x),
      run: (k, a, lo, hi) => k.adagrad(a.params[0], a.reduced, a.params[1], a.state[0], a.state[1], lo, hi, 0.01, 1e-7),
      want: (p, g, [acc]) => {
        const a2 = f32(acc + f32(g * g));
        return [f32(p - f32(f32(g / f32(Math.sqrt(f32(a2 + eps)))) * lr)), a2];
      },
    },
  ];

  it.each(cases)('$name', ({ vectors, init, run, want }) => {
    const arena = allocateArena(P, 1, vectors);
    const k = kernelsFor(arena.memory);
    const r = rng(vectors * 31 + 5);
    fill(arena.params[0], r);
    fill(arena.reduced, r);
    fill(arena.state[0], r);
    for (let j = 0; j < vectors; j++)
      for (let i = 0; i < P; i++) arena.state[0][j * P + i] = init(j, arena.state[0][j * P + i]);
    const before = [arena.params[0], arena.reduced, arena.state[0]].map((a) => a.slice());
    const expected = Array.from({ length: P }, (_, i) =>
      want(
        arena.params[0][i],
        arena.reduced[i],
        Array.from({ length: vectors }, (_, j) => arena.state[0][j * P + i]),
      ),
    );
    expect(expected.flat().every(Number.isFinite)).toBe(true); // the test data keeps the math real
    for (const [lo, hi] of SLICES) {
      arena.params[1].fill(-7.25);
      arena.state[1].fill(-7.25);
      const probe = run(k, arena, lo, hi);
      const where = `[${lo}, ${hi})`;
      const next = Float32Array.from({ length: hi - lo }, (_, i) => expected[lo + i][0]);
      expect(probe, `${where}: the probe, the float32 sum of the updated parameters`).toBe(
        probeOf(next, 'vector tail'),
      );
      const outs = [arena.params[1], ...Array.from({ length: vectors }, (_, j) => vec(arena.state[1], j))];
      outs.forEach((out, o) => {
        const w = Float32Array.from({ length: hi - lo }, (_, i) => expected[lo + i][o]);
        expect(bits(out.subarray(lo, hi)), `${where}, output ${o}`).toEqual(bits(w));
        expect(
          out.subarray(0, lo).every((v) => v === -7.25),
          `${where}, output ${o} below lo`,
        ).toBe(true);
        expect(
          out.subarray(hi).every((v) => v === -7.25),
          `${where}, output ${o} from hi`,
        ).toBe(true);
      });
    }
    [arena.params[0], arena.reduced, arena.state[0]].forEach((a, i) => expect(bits(a)).toEqual(bits(before[i])));
  });
});
