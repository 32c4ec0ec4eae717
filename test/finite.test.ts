// firstNonFinite (src/simd/finite.ts, Note [finite check in wasm]) against the plain loop it
// replaces: the same index for NaN, +Infinity and -Infinity at every lane position and chunk
// boundary.
import { describe, expect, it } from 'vitest';
import { firstNonFinite } from '../dist/src/simd/finite.js';

const plain = (a: ArrayLike<number>): number => {
  let at = 0;
  while (at < a.length && Number.isFinite(a[at])) at++;
  return at;
};

describe('firstNonFinite', () => {
  it('finds the first NaN or ±Infinity of a Float32Array at every position of the SIMD turn and its tail', () => {
    for (const length of [0, 1, 7, 8, 9, 15, 16, 17, 100]) {
      const a = Float32Array.from({ length }, (_, i) => (i % 3) - 1 + i * 1e-3);
      expect(firstNonFinite(a)).toBe(length);
      for (let at = 0; at < length; at++) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          const b = a.slice();
          b[at] = bad;
          if (at + 2 < length) b[at + 2] = NaN; // a later one is not the first
          expect(firstNonFinite(b)).toBe(plain(b));
          expect(firstNonFinite(b)).toBe(at);
        }
      }
    }
  });

  it('takes subarrays at any offset, the largest finite floats and the subnormals as finite', () => {
    const a = new Float32Array(40).fill(3.4028234663852886e38);
    a[5] = -3.4028234663852886e38;
    a[6] = 1e-45;
    a[7] = -0;
    for (let lo = 0; lo < 8; lo++) expect(firstNonFinite(a.subarray(lo))).toBe(40 - lo);
    a[33] = NaN;
    for (let lo = 0; lo < 8; lo++) expect(firstNonFinite(a.subarray(lo, 37))).toBe(33 - lo);
  });

  it('finds it across the 65,536-float chunks the kernel checks in turn', () => {
    const a = new Float32Array(3 * 65536 + 5).fill(0.5);
    expect(firstNonFinite(a)).toBe(a.length);
    for (const at of [0, 65535, 65536, 65537, 2 * 65536 + 1, 3 * 65536 + 4]) {
      const b = a.slice();
      b[at] = -Infinity;
      expect(firstNonFinite(b)).toBe(at);
    }
  });
});
