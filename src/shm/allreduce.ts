import { partition } from '../partition.js';

/**
 * Reduce-scatter over shared memory, the all-reduce's parallel half.
 *
 * `rows` holds `parties` gradient rows of length `length` end to end (row r is
 * written by rank r). Rank r owns the slice partition(length, parties, r) and
 * writes, for each i in its slice,
 *     out[i] = scale * (rows[0][i] + rows[1][i] + … + rows[parties-1][i])
 * summed in float64 in rank order. The order is fixed, so the result does not
 * depend on which thread computes a slice, and a slice is written by exactly
 * one thread. No all-gather follows: `out` is itself shared, so after the next
 * barrier every rank sees the whole reduced vector.
 *
 * Returns the sum of the slice's outputs, a cheap finiteness probe: any NaN or
 * Inf in the slice makes it non-finite.
 */
export function reduceScatter(rows: Float32Array, parties: number, length: number, rank: number, scale: number, out: Float32Array): number {
  const { lo, hi } = partition(length, parties, rank);
  let probe = 0;
  for (let i = lo; i < hi; i++) {
    let s = 0;
    for (let r = 0, k = i; r < parties; r++, k += length) s += rows[k];
    const v = s * scale;
    out[i] = v;
    probe += v;
  }
  return probe;
}
