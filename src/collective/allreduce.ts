import type { Kernels } from '../simd/kernels.js';
import { partition } from '../partition.js';

/**
 * Reduce-scatter over shared memory, the all-reduce's parallel half.
 *
 * `rows` holds `parties` gradient rows of length `length` end to end (row r is
 * written by rank r). Rank r owns the slice partition(length, parties, r) and
 * writes, for each i in its slice,
 *     out[i] = scale * (rows[0][i] + rows[1][i] + … + rows[parties-1][i])
 * summed in rank order (float32, wasm SIMD: kernels.wat). The order is fixed, so
 * the result does not depend on which thread computes a slice, and a slice is
 * written by exactly one thread. No all-gather follows: `out` is itself shared,
 * so after the next barrier every rank sees the whole reduced vector.
 *
 * Returns the slice, which the optimizer then steps, and `probe`, the sum of
 * the slice's outputs: not finite iff a reduced gradient value is not finite.
 */
export function reduceScatter(
  k: Kernels,
  rows: Float32Array,
  parties: number,
  length: number,
  rank: number,
  scale: number,
  out: Float32Array,
): { lo: number; hi: number; probe: number } {
  const { lo, hi } = partition(length, parties, rank);
  return { lo, hi, probe: k.reduce(rows, parties, length, lo, hi, scale, out) };
}
