// Seeded fuzz test of the idx parsers: every input must either parse to a
// result consistent with its length or throw a DataFileError. Any other
// exception (RangeError from a lying header, TypeError, ...) is a crash.
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataFileError, parseIdxImages, parseIdxLabels } from '../dist/src/data/idx.js';
import { Rng } from '../dist/src/rng.js';

/** Deterministic uniforms in [0, 1): the project's own seeded generator (src/rng.ts). */
function mulberry32(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

const SEED = 0x1d3a5eed;
const ROUNDS = 3000; // one input per round, fed to both parsers

const rand = mulberry32(SEED);
const int = (n: number): number => Math.floor(rand() * n); // 0..n-1
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
const randomBytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(256));

/** A valid idx3 file: 3 images of 4x5. */
function validImages(): Uint8Array {
  const b = new Uint8Array(16 + 3 * 4 * 5);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x803);
  v.setUint32(4, 3);
  v.setUint32(8, 4);
  v.setUint32(12, 5);
  for (let i = 16; i < b.length; i++) b[i] = int(256);
  return b;
}

/** A valid idx1 file: 7 labels in 0..9. */
function validLabels(): Uint8Array {
  const b = new Uint8Array(8 + 7);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x801);
  v.setUint32(4, 7);
  for (let i = 8; i < b.length; i++) b[i] = int(10);
  return b;
}

/** A dimension value: small, boundary, or anything up to 2^32-1. */
function randomDim(): number {
  switch (int(4)) {
    case 0:
      return int(8);
    case 1:
      return pick([0, 1, 3, 7, 0x7fffffff, 0x80000000, 0xffffffff]);
    case 2:
      return int(256);
    default:
      return Math.floor(rand() * 0x100000000);
  }
}

function mutate(src: Uint8Array): Uint8Array {
  const b = Uint8Array.from(src);
  const v = new DataView(b.buffer);
  switch (int(7)) {
    case 0: {
      // bit flips anywhere
      for (let k = 1 + int(4); k > 0; k--) b[int(b.length)] ^= 1 << int(8);
      return b;
    }
    case 1: // truncation
      return b.subarray(0, int(b.length));
    case 2: {
      // random header fields
      for (let at = 0; at < 16 && at < b.length; at++) if (rand() < 0.3) b[at] = int(256);
      return b;
    }
    case 3: {
      // random dims / counts, up to 2^32-1
      for (let at = 4; at + 4 <= Math.min(16, b.length); at += 4) if (rand() < 0.6) v.setUint32(at, randomDim());
      return b;
    }
    case 4: {
      // trailing bytes
      const out = new Uint8Array(b.length + 1 + int(20));
      out.set(b);
      return out;
    }
    case 5: {
      // swap magic between kinds / odd dim counts
      b[2] = pick([0x08, 0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e]);
      b[3] = int(6);
      return b;
    }
    default: {
      // data bytes rewritten (labels may go out of range)
      for (let k = 1 + int(3); k > 0; k--) b[int(b.length)] = int(256);
      return b;
    }
  }
}

/** One fuzz input; gzip is applied after mutation, sometimes then corrupted. */
function nextInput(): Uint8Array {
  const r = int(10);
  if (r === 0) {
    // fully random bytes of random length
    const b = randomBytes(int(120));
    if (rand() < 0.5 && b.length >= 4) b.set([0, 0, 8, pick([1, 3])]); // get past the magic sometimes
    return b;
  }
  const base = rand() < 0.5 ? validImages() : validLabels();
  const plain = rand() < 0.15 ? base : mutate(base);
  if (r < 6) return plain;
  const gz = gzipSync(plain);
  switch (r) {
    case 6:
    case 7:
      return gz;
    case 8:
      return gz.subarray(0, int(gz.length)); // truncated gzip
    default: {
      // corrupted gzip
      const c = Uint8Array.from(gz);
      for (let k = 1 + int(3); k > 0; k--) c[2 + int(c.length - 2)] ^= 1 << int(8);
      return c;
    }
  }
}

/** The error paths the fuzzer must reach; a detail matching none is an unexpected message. */
const CATEGORIES = [
  'file is empty',
  'too short for an idx header',
  'bad magic',
  'unsupported data type',
  'zero-size dimension',
  'trailing byte',
  'but the file holds only',
  'label at index',
  'gzip stream is corrupt or truncated',
] as const;

const isGzip = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

describe('idx parsers under fuzzing', () => {
  it(`never crash on ${ROUNDS} seeded inputs (seed 0x${SEED.toString(16)})`, () => {
    let inputs = 0;
    let parsed = 0;
    let rejected = 0;
    const crashes: string[] = [];
    const details = new Map<string, number>(); // error category -> count

    const check = (input: Uint8Array, parse: () => void, what: string): void => {
      inputs++;
      try {
        parse();
        parsed++;
      } catch (err) {
        if (err instanceof DataFileError && err.file === 'fuzz' && err.message === `fuzz: ${err.detail}`) {
          rejected++;
          const category = CATEGORIES.find((c) => err.detail.includes(c)) ?? `other: ${err.detail}`;
          details.set(category, (details.get(category) ?? 0) + 1);
        } else {
          const e = err as Error;
          const hex = Buffer.from(input.subarray(0, 24)).toString('hex');
          crashes.push(`${what} len=${input.length} head=${hex}: ${e?.name}: ${e?.message}`);
        }
      }
    };

    for (let round = 0; round < ROUNDS; round++) {
      const input = nextInput();
      // what the parser sees after (possible) decompression; only needed on success
      const content = (): Uint8Array => (isGzip(input) ? gunzipSync(input) : input);

      check(
        input,
        () => {
          const r = parseIdxImages(input, 'fuzz');
          const n = r.count * r.rows * r.cols;
          if (!(r.count > 0 && r.rows > 0 && r.cols > 0))
            throw new Error(`zero dim parsed: ${r.count}x${r.rows}x${r.cols}`);
          if (r.pixels.length !== n) throw new Error(`pixels ${r.pixels.length} != ${n}`);
          if (16 + n !== content().length) throw new Error(`16 + ${n} != content length ${content().length}`);
        },
        'images',
      );

      check(
        input,
        () => {
          const r = parseIdxLabels(input, 'fuzz');
          if (r.labels.length !== r.count) throw new Error(`labels ${r.labels.length} != ${r.count}`);
          if (8 + r.count !== content().length) throw new Error(`8 + ${r.count} != content length ${content().length}`);
          for (const l of r.labels) if (l >= 10) throw new Error(`label ${l} out of range`);
        },
        'labels',
      );
    }

    expect(crashes.slice(0, 10)).toEqual([]);
    expect(crashes.length).toBe(0);
    console.log(
      `idx fuzz: ${inputs} parses, ${parsed} ok, ${rejected} DataFileError, 0 crashes;`,
      Object.fromEntries(details),
    );
    expect(inputs).toBeGreaterThanOrEqual(2000);
    expect(parsed + rejected).toBe(inputs);
    // the fuzzer must reach both outcomes and the interesting error paths
    expect(parsed).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(1000);
    expect([...details.keys()].sort()).toEqual([...CATEGORIES].sort());
  });
});
