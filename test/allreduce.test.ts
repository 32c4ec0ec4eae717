// The shared-memory collective: partition(), reduceScatter() against a float64
// reference (sequentially, rank by rank, and for real in 4 worker threads between
// Barrier crossings), and Barrier's timeout and abort.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partition } from '../dist/src/partition.js';
import * as allreduce from '../dist/src/collective/allreduce.js';
import { BARRIER_CELLS, Barrier, BarrierTimeout, PeerAborted } from '../dist/src/collective/barrier.js';
import { Rng } from '../dist/src/rng.js';

const U = 2 ** -24; // float32 unit roundoff
const distUrl = (rel: string): string => new URL(`../dist/src/${rel}`, import.meta.url).href;

/**
 * reduceScatter(rows, parties, length, rank, scale, out), whatever its current
 * signature: the original takes exactly that; the wasm-kernel version takes a
 * Kernels bound to the WebAssembly.Memory the arrays live in as first argument.
 * Every array below is a view into one shared WebAssembly.Memory, so both work.
 */
type ReduceScatter = (
  rows: Float32Array,
  parties: number,
  length: number,
  rank: number,
  scale: number,
  out: Float32Array,
) => unknown;
let kernelsFor: ((m: WebAssembly.Memory) => unknown) | undefined;
function reducer(memory: WebAssembly.Memory): ReduceScatter {
  const f = allreduce.reduceScatter as unknown as (...a: unknown[]) => unknown;
  if (f.length <= 6) return f as ReduceScatter;
  if (kernelsFor === undefined)
    throw new Error('reduceScatter takes kernels, but dist/src/simd/kernels.js did not load');
  const k = kernelsFor(memory);
  return (...a) => f(k, ...a);
}

/** One shared wasm memory holding `parties` rows of `length` floats and an output of `length`, each with guard cells around. */
interface Arena {
  readonly memory: WebAssembly.Memory;
  readonly rows: Float32Array;
  readonly out: Float32Array;
  /** The whole memory as floats, to check the guards. */
  readonly all: Float32Array;
  readonly outOffset: number;
}
const GUARD = 8; // floats of guard before and after each array
const SENTINEL = -12345.5;
function arena(parties: number, length: number, misalign = 0): Arena {
  const floats = 2 * GUARD + parties * length + 2 * GUARD + length + misalign + 4;
  const pages = Math.ceil((4 * floats) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const all = new Float32Array(memory.buffer);
  all.fill(SENTINEL);
  const rowsAt = GUARD + misalign; // misalign by whole floats: rows no longer 16-byte aligned
  const outAt = rowsAt + parties * length + 2 * GUARD;
  return {
    memory,
    rows: new Float32Array(memory.buffer, 4 * rowsAt, parties * length),
    out: new Float32Array(memory.buffer, 4 * outAt, length),
    all,
    outOffset: outAt,
  };
}

/** Fills the rows with float32 values of mixed sign and magnitude (1e-3 .. 1e3), optionally all positive. */
function fillRows(rows: Float32Array, seed: number, positive = false): void {
  const rng = new Rng(seed);
  for (let i = 0; i < rows.length; i++) {
    const mag = 10 ** rng.uniform(-3, 3);
    rows[i] = (positive || rng.next() < 0.5 ? 1 : -1) * mag;
  }
}

interface Check {
  /** max over elements of |got - f64 ref| / bound, where bound is the float32 rank-order error bound (must be <= 1). */
  readonly worstOfBound: number;
  /** max relative error vs the float64 reference (elements whose |ref| is not tiny). */
  readonly maxRel: number;
  /** true when every element equals fround(float64 rank-order sum * scale). */
  readonly exactF64: boolean;
  /** true when every element equals the float32 rank-order sum times fround(scale), all in float32. */
  readonly exactF32: boolean;
}

/** Compares out with the float64 reference scale * sum_r rows[r][i]. */
function check(rows: Float32Array, parties: number, length: number, scale: number, out: Float32Array): Check {
  let worstOfBound = 0;
  let maxRel = 0;
  let exactF64 = true;
  let exactF32 = true;
  const s32 = Math.fround(scale);
  for (let i = 0; i < length; i++) {
    let s = 0;
    let abs = 0;
    let acc = rows[i];
    for (let r = 0; r < parties; r++) {
      const x = rows[r * length + i];
      s += x;
      abs += Math.abs(x);
      if (r > 0) acc = Math.fround(acc + x);
    }
    const ref = s * scale;
    const got = out[i];
    // Rounding the result (and scale) to float32: 2u relative; summing in float32 in rank order: (parties-1) u sum|x|.
    const bound = 3 * U * Math.abs(ref) + (parties - 1) * U * abs * Math.abs(scale) * 1.01 + 1e-38;
    const err = Math.abs(got - ref);
    if (!(err <= bound)) worstOfBound = Math.max(worstOfBound, Number.isNaN(err) ? Infinity : err / bound);
    else worstOfBound = Math.max(worstOfBound, err / bound);
    if (Math.abs(ref) > 1e-30) maxRel = Math.max(maxRel, err / Math.abs(ref));
    if (got !== Math.fround(ref)) exactF64 = false;
    if (got !== Math.fround(acc * s32)) exactF32 = false;
  }
  return { worstOfBound, maxRel, exactF64, exactF32 };
}

const observations: string[] = [];

beforeAll(async () => {
  try {
    ({ kernelsFor } = (await import(distUrl('simd/kernels.js'))) as {
      kernelsFor: (m: WebAssembly.Memory) => unknown;
    });
  } catch {
    kernelsFor = undefined; // the plain-JS reduceScatter needs none
  }
});

afterAll(() => {
  if (observations.length > 0) console.log(`allreduce observations:\n  ${observations.join('\n  ')}`);
});

describe('partition', () => {
  it('64 over 3 is 22/21/21', () => {
    expect([0, 1, 2].map((r) => partition(64, 3, r))).toEqual([
      { lo: 0, hi: 22 },
      { lo: 22, hi: 43 },
      { lo: 43, hi: 64 },
    ]);
  });

  it('5 over 8 gives five parts of 1 and three empty parts at the end', () => {
    const sizes = Array.from({ length: 8 }, (_, r) => {
      const { lo, hi } = partition(5, 8, r);
      return hi - lo;
    });
    expect(sizes).toEqual([1, 1, 1, 1, 1, 0, 0, 0]);
  });

  it('parts are contiguous, cover [0, length), differ in size by at most one, larger first', () => {
    const lengths = [...Array.from({ length: 70 }, (_, i) => i), 109386, 60000, 1 << 20, 2 ** 31 - 1];
    for (const length of lengths) {
      for (let parts = 1; parts <= 17; parts++) {
        let next = 0;
        const sizes: number[] = [];
        for (let r = 0; r < parts; r++) {
          const { lo, hi } = partition(length, parts, r);
          expect(Number.isInteger(lo) && Number.isInteger(hi)).toBe(true);
          expect(lo).toBe(next);
          expect(hi).toBeGreaterThanOrEqual(lo);
          sizes.push(hi - lo);
          next = hi;
        }
        expect(next).toBe(length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        for (let r = 1; r < parts; r++) expect(sizes[r]).toBeLessThanOrEqual(sizes[r - 1]);
      }
    }
  });
});

describe('reduceScatter, every rank called in turn', () => {
  const lengths = [1, 2, 3, 4, 5, 7, 8, 9, 1001, 109386];
  const cases = lengths.flatMap((length) => Array.from({ length: 8 }, (_, i) => ({ length, parties: i + 1 })));

  it.each(cases)('length $length over $parties parties', ({ length, parties }) => {
    // Misaligned rows for odd lengths: the wasm kernel's v128 loads must cope with any offset.
    const a = arena(parties, length, length % 2);
    const reduce = reducer(a.memory);
    fillRows(a.rows, 1000 * length + parties);
    const rowsCopy = a.rows.slice();
    const scale = 1 / (parties * 3 + 2); // not a power of two: scale itself rounds in float32
    const written = new Uint8Array(length);
    for (let rank = 0; rank < parties; rank++) {
      // Which elements does this rank write? Start from NaN in its own pass and see.
      const before = a.out.slice();
      a.out.fill(Number.NaN);
      reduce(a.rows, parties, length, rank, scale, a.out);
      const { lo, hi } = partition(length, parties, rank);
      for (let i = 0; i < length; i++) {
        const wrote = !Number.isNaN(a.out[i]);
        if (wrote !== (i >= lo && i < hi))
          throw new Error(`rank ${rank}: element ${i} ${wrote ? 'written' : 'not written'}, slice [${lo}, ${hi})`);
        if (wrote) written[i]++;
        else a.out[i] = before[i];
      }
    }
    expect(written.every((w) => w === 1)).toBe(true); // every element exactly once
    let changed = 0;
    for (let i = 0; i < rowsCopy.length; i++) if (a.rows[i] !== rowsCopy[i]) changed++;
    expect(changed).toBe(0); // inputs untouched (toEqual on 10^6-element arrays is slow)
    for (let i = 0; i < GUARD; i++) {
      expect(a.all[a.outOffset - 1 - i]).toBe(SENTINEL); // nothing written around the output
      expect(a.all[a.outOffset + length + i]).toBe(SENTINEL);
    }
    const c = check(a.rows, parties, length, scale, a.out);
    if (length >= 1001) {
      observations.push(
        `length ${length} parties ${parties}: max rel err vs float64 ${c.maxRel.toExponential(2)}, ` +
          `worst err / f32 bound ${c.worstOfBound.toFixed(3)}, exact f64-sum ${c.exactF64}, exact f32 rank-order ${c.exactF32}`,
      );
    }
    expect(c.worstOfBound).toBeLessThanOrEqual(1);
    // A fixed rank order either way: the result is exactly one of the two documented algorithms.
    expect(c.exactF64 || c.exactF32).toBe(true);
  });

  it('positive values (no cancellation): within (parties + 2) u relative of the float64 sum', () => {
    for (const parties of [1, 2, 3, 8]) {
      const length = 4099;
      const a = arena(parties, length);
      const reduce = reducer(a.memory);
      fillRows(a.rows, parties, true);
      for (let r = 0; r < parties; r++) reduce(a.rows, parties, length, r, 1 / 37, a.out);
      const c = check(a.rows, parties, length, 1 / 37, a.out);
      observations.push(
        `positive, parties ${parties}: max rel err ${c.maxRel.toExponential(2)} (${(c.maxRel / U).toFixed(2)} u)`,
      );
      expect(c.maxRel).toBeLessThanOrEqual((parties + 2) * U);
    }
  });

  it('a NaN or Inf in one row reaches exactly its element of the output', () => {
    const parties = 3;
    const length = 11;
    const a = arena(parties, length);
    const reduce = reducer(a.memory);
    a.rows.fill(1);
    a.rows[1 * length + 4] = Number.NaN;
    a.rows[2 * length + 9] = Number.POSITIVE_INFINITY;
    for (let r = 0; r < parties; r++) reduce(a.rows, parties, length, r, 0.5, a.out);
    expect(Array.from(a.out)).toEqual([
      1.5,
      1.5,
      1.5,
      1.5,
      Number.NaN,
      1.5,
      1.5,
      1.5,
      1.5,
      Number.POSITIVE_INFINITY,
      1.5,
    ]);
  });
});

// A worker script: real threads, real barriers. Written to a temp dir as .mjs;
// it imports the compiled modules by absolute file URL.
const WORKER_SCRIPT = `
import { workerData, parentPort } from 'node:worker_threads';
const { urls, mode, memory, cells, parties, rank, length, rows: rowsAt, out: outAt, rounds, spinCapMs, counter } = workerData;
const { Barrier } = await import(urls.barrier);
const barrier = new Barrier(cells, parties, 20000, spinCapMs);
if (mode === 'stress') {
  // Each generation every party bumps the counter once; after the barrier all must see parties * (g + 1).
  let bad = 0;
  for (let g = 0; g < rounds; g++) {
    Atomics.add(counter, 0, 1);
    barrier.wait();
    if (Atomics.load(counter, 0) !== parties * (g + 1)) bad++;
    barrier.wait();
  }
  parentPort.postMessage({ bad });
} else {
  const { reduceScatter } = await import(urls.allreduce);
  const { partition } = await import(urls.partition);
  let reduce = reduceScatter;
  if (reduceScatter.length > 6) {
    const k = (await import(urls.kernels)).kernelsFor(memory);
    reduce = (...a) => reduceScatter(k, ...a);
  }
  const rows = new Float32Array(memory.buffer, rowsAt, parties * length);
  const out = new Float32Array(memory.buffer, outAt, length);
  const value = (round, r, i) => Math.fround(Math.sin(0.37 * i + 1.3 * r + 0.11 * round) * (1 + r) * (1 + (i % 13)));
  let bad = 0;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < length; i++) rows[rank * length + i] = value(round, rank, i);
    barrier.wait(); // all rows written
    reduce(rows, parties, length, rank, 1 / (round + 3), out);
    barrier.wait(); // all slices reduced: every rank now checks the WHOLE output
    for (let i = 0; i < length; i++) {
      let s = 0, abs = 0;
      for (let r = 0; r < parties; r++) { const x = value(round, r, i); s += x; abs += Math.abs(x); }
      const ref = s / (round + 3);
      if (!(Math.abs(out[i] - ref) <= 3 * 2 ** -24 * Math.abs(ref) + parties * 2 ** -24 * abs / (round + 3) * 1.01 + 1e-38)) bad++;
    }
    barrier.wait(); // nobody reduces the next round while a slow rank still reads this one
  }
  const { lo, hi } = partition(length, parties, rank);
  parentPort.postMessage({ bad, lo, hi });
}
`;

describe('in worker threads', () => {
  let dir: string;
  let script: string;
  const urls = {
    barrier: distUrl('collective/barrier.js'),
    allreduce: distUrl('collective/allreduce.js'),
    partition: distUrl('partition.js'),
    kernels: distUrl('simd/kernels.js'),
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'worker-ddp-allreduce-'));
    script = join(dir, 'worker.mjs');
    writeFileSync(script, WORKER_SCRIPT);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Starts one worker per rank and resolves with their messages; rejects on any worker error or non-zero exit. */
  function runWorkers<T>(parties: number, data: (rank: number) => object): Promise<T[]> {
    return Promise.all(
      Array.from(
        { length: parties },
        (_, rank) =>
          new Promise<T>((resolve, reject) => {
            const w = new Worker(script, { workerData: data(rank) });
            let msg: T | undefined;
            w.on('message', (m: T) => (msg = m));
            w.on('error', reject);
            w.on('exit', (code) =>
              code === 0 && msg !== undefined ? resolve(msg) : reject(new Error(`worker ${rank} exited with ${code}`)),
            );
          }),
      ),
    );
  }

  it.each([
    { spinCapMs: 0, length: 109386 },
    { spinCapMs: 2, length: 1001 },
  ])(
    '4 workers reduce-scatter $length floats for 4 rounds between barriers (spin cap $spinCapMs ms)',
    async ({ spinCapMs, length }) => {
      const parties = 4;
      const rounds = 4;
      const a = arena(parties, length);
      const cells = Barrier.cells();
      expect(cells.length).toBe(BARRIER_CELLS);
      const results = await runWorkers<{ bad: number; lo: number; hi: number }>(parties, (rank) => ({
        urls,
        mode: 'reduce',
        memory: a.memory,
        cells,
        parties,
        rank,
        length,
        rows: a.rows.byteOffset,
        out: a.out.byteOffset,
        rounds,
        spinCapMs,
      }));
      expect(results.map((r) => r.bad)).toEqual([0, 0, 0, 0]);
      // The main thread sees the last round too, against a float64 reference of the rows as left.
      const c = check(a.rows, parties, length, 1 / (rounds - 1 + 3), a.out);
      expect(c.worstOfBound).toBeLessThanOrEqual(1);
      expect(results.map((r) => r.hi - r.lo).reduce((x, y) => x + y)).toBe(length);
    },
  );

  it('3 workers cross one barrier 2000 times without a lost or early release', async () => {
    const cells = Barrier.cells();
    const counter = new Int32Array(new SharedArrayBuffer(4));
    // 3 threads on 2 cores: a short spin cap (~1,000 spins), or spinners would steal the cores of their peers.
    const results = await runWorkers<{ bad: number }>(3, (rank) => ({
      urls,
      mode: 'stress',
      cells,
      parties: 3,
      rank,
      rounds: 2000,
      spinCapMs: 0.02,
      counter,
    }));
    expect(results.map((r) => r.bad)).toEqual([0, 0, 0]);
    expect(counter[0]).toBe(6000);
  });

  it('abort() releases a party waiting in another thread with PeerAborted (sleeping and spinning)', async () => {
    for (const spinCapMs of [0, 60_000]) {
      const cells = Barrier.cells();
      const waiterScript = join(dir, `waiter-${spinCapMs}.mjs`);
      writeFileSync(
        waiterScript,
        `import { workerData, parentPort } from 'node:worker_threads';
const { Barrier } = await import(workerData.url);
const t0 = Date.now();
try { new Barrier(workerData.cells, 2, 30000, workerData.spinCapMs).wait(); parentPort.postMessage({ name: 'returned', ms: Date.now() - t0 }); }
catch (e) { parentPort.postMessage({ name: e.name, message: e.message, ms: Date.now() - t0 }); }`,
      );
      const w = new Worker(waiterScript, { workerData: { url: urls.barrier, cells, spinCapMs } });
      const reply = new Promise<{ name: string; message: string; ms: number }>((resolve, reject) => {
        w.on('message', resolve);
        w.on('error', reject);
      });
      // Wait until the waiter has arrived (cell 0 counts arrivals), then abort from here.
      const t0 = Date.now();
      while (Atomics.load(cells, 0) !== 1) {
        if (Date.now() - t0 > 20_000) throw new Error('waiter never arrived');
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, 50));
      new Barrier(cells, 2, 1000, 0).abort();
      const r = await reply;
      await w.terminate();
      expect(r.name).toBe('PeerAborted');
      expect(r.message).toBe('another worker failed');
      expect(r.ms).toBeLessThan(10_000); // released by abort, not by the 30 s deadline
    }
  });
});

describe('Barrier in one thread', () => {
  it('a single party of two times out with BarrierTimeout, which also aborts the barrier', () => {
    for (const spinCapMs of [0, 1000]) {
      const cells = Barrier.cells(); // a cap beyond the deadline: the deadline still holds while spinning
      const b = new Barrier(cells, 2, 60, spinCapMs);
      const t0 = Date.now();
      let caught: unknown;
      try {
        b.wait();
      } catch (err) {
        caught = err;
      }
      const ms = Date.now() - t0;
      expect(caught).toBeInstanceOf(BarrierTimeout);
      expect((caught as Error).name).toBe('BarrierTimeout');
      expect((caught as Error).message).toMatch(/\b60 ms\b/); // the deadline it gave up after
      expect(ms).toBeGreaterThanOrEqual(55);
      expect(ms).toBeLessThan(5000);
      expect(b.aborted).toBe(true);
      // Everyone else (and this party's next wait) now fails fast with PeerAborted.
      expect(() => new Barrier(cells, 2, 60_000, 0).wait()).toThrow(PeerAborted);
    }
  });

  it('wait() after abort() throws PeerAborted at once; one party never waits', () => {
    const cells = Barrier.cells();
    const b = new Barrier(cells, 3, 60_000, 0);
    expect(b.aborted).toBe(false);
    b.abort();
    expect(b.aborted).toBe(true);
    const t0 = Date.now();
    expect(() => b.wait()).toThrow(PeerAborted);
    expect(Date.now() - t0).toBeLessThan(1000);
    const solo = new Barrier(Barrier.cells(), 1, 10, 0);
    for (let i = 0; i < 100; i++) solo.wait(); // a single party is never blocked
  });
});

/**
 * Every interleaving of one waiting party's reads with its peer's last arrival
 * and abort: the peer's whole action runs just before the waiter's k-th
 * Atomics.load after it arrived, for every k through several spins. Atomics.load
 * and .add are wrapped for the test's duration; the peer is a second Barrier on
 * the same cells, its own reads unhooked.
 */
function interleaved(peer: (b: Barrier) => void, k: number): unknown {
  const cells = Barrier.cells();
  const waiter = new Barrier(cells, 2, 60_000, 60_000); // spins: every read is one the peer can slip before
  const other = new Barrier(cells, 2, 60_000, 0);
  const { load, add } = Atomics;
  let armed = false;
  let inPeer = false;
  let loads = 0;
  Atomics.add = ((a: Int32Array, i: number, v: number) => {
    const r = add(a, i, v);
    if (a === cells && !inPeer) armed = true; // the waiter's arrival: from here on the peer may act
    return r;
  }) as typeof Atomics.add;
  Atomics.load = ((a: Int32Array, i: number) => {
    if (a === cells && armed && !inPeer && loads++ === k) {
      inPeer = true;
      try {
        peer(other);
      } finally {
        inPeer = false;
      }
    }
    return load(a, i);
  }) as typeof Atomics.load;
  try {
    waiter.wait();
    return 'returned';
  } catch (err) {
    return err;
  } finally {
    Atomics.load = load;
    Atomics.add = add;
  }
}

describe('Barrier: a peer that completes a crossing and then aborts, at every point of the waiter', () => {
  const ks = Array.from({ length: 24 }, (_, k) => k);

  it('the completed crossing wins: wait() returns for every k, and the next wait() throws PeerAborted', () => {
    // The peer's action is what a rank does when it arrives last and its next step throws at once
    // (the fault test: rank 1 throws at the top of step 3 right after step 2's last barrier).
    const outcomes = ks.map((k) => interleaved((b) => (b.wait(), b.abort()), k));
    expect(outcomes.map((o, k) => `${k}:${o instanceof Error ? o.name : String(o)}`)).toEqual(
      ks.map((k) => `${k}:returned`),
    );
  });

  it('an abort before the peer arrives throws PeerAborted for every k', () => {
    const outcomes = ks.map((k) => interleaved((b) => b.abort(), k));
    expect(outcomes.every((o) => o instanceof PeerAborted)).toBe(true);
  });
});
