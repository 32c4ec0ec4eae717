/**
 * Step-phase timestamps, recorded by workers into shared memory.
 *
 * For step s of the current chunk and rank r, slot (s, r) of the trace buffer
 * holds MARKS.length absolute times in ms (performance.timeOrigin + now(), the
 * same clock in every thread). Consecutive marks bound the phases below. A
 * recorder costs one branch per mark when profiling is off.
 */
export const MARKS = [
  'start',
  'uploaded',
  'computed',
  'exported',
  'grads synced',
  'reduced',
  'stepped',
  'params synced',
  'scavenged',
] as const;
export type Mark = (typeof MARKS)[number];

/** Phase k runs from MARKS[k] to MARKS[k + 1]. */
export const PHASES = [
  'upload',
  'forward/backward',
  'gradient export',
  'barrier wait (grads)',
  'reduce',
  'optimizer',
  'barrier wait (params)',
  'scavenge',
] as const;

/** Called by a replica at the end of its upload and compute phases. */
export type Clock = (mark: Mark) => void;

const MARK_INDEX: Readonly<Record<Mark, number>> = Object.fromEntries(MARKS.map((m, i) => [m, i])) as Record<
  Mark,
  number
>;

/** Returns a clock writing slot `slot` of `buffer`, or undefined when there is no buffer (profiling off). */
export function slotClock(buffer: Float64Array | undefined, slot: number): Clock | undefined {
  if (buffer === undefined) return undefined;
  const base = slot * MARKS.length;
  const origin = performance.timeOrigin;
  return (mark) => {
    buffer[base + MARK_INDEX[mark]] = origin + performance.now();
  };
}
