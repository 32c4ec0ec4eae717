/** Half-open range [lo, hi). */
export interface Range {
  readonly lo: number;
  readonly hi: number;
}

/**
 * Part `rank` of `parts` contiguous parts of [0, length) whose sizes differ by at
 * most one, larger parts first: 64 over 3 gives 22/21/21. Used both to shard a
 * batch across workers and to split the parameter vector for the reduce-scatter.
 * A part may be empty when parts > length.
 */
export function partition(length: number, parts: number, rank: number): Range {
  const base = Math.floor(length / parts);
  const extra = length % parts;
  const lo = rank * base + Math.min(rank, extra);
  return { lo, hi: lo + base + (rank < extra ? 1 : 0) };
}
