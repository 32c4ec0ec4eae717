import { getHeapSpaceStatistics } from 'node:v8';
import { exposedGc } from '../runtime.js';

/**
 * Scavenges together: the workers of a pool run V8's young-generation
 * collection (a scavenge) at the same step boundary, when any of them is about
 * to need one, instead of each in the middle of whatever step fills its own
 * young generation.
 *
 * Note [one pause, not two]: a scavenge stops only the thread it runs in, but
 * every step ends at a barrier, so a worker's scavenge stops its peers too.
 * Decision: a worker asks for a scavenge only when its young generation could
 * not take HEADROOM_STEPS more steps of its recent growth, and then every
 * worker runs one at the end of that step: N pauses become one, and a model
 * that leaves little garbage scavenges no more often than V8 would (a fixed
 * period cost the lean MLP). Invariant: a scavenge never changes what a step
 * computes, only when the pause falls. On 2 cores it is about even with
 * leaving scavenges to V8; it stays the default for machines with more cores.
 * Re-measure: `npm run bench:scaling -- --apart generic,convnet` (the
 * `-apart` rows); figures in docs/performance.md, "Garbage collection".
 *
 * Protocol, per global step g, one flag per step parity (slot = g & 1):
 *   before the barrier that ends step g (after the update): ask(g) sets
 *     cells[slot] when this rank's young generation is nearly full;
 *   after that barrier: run(g) scavenges in every rank if any rank asked;
 *   after the first barrier of step g + 1: clear(g + 1), by rank 0 only, resets
 *     cells[slot]. Every rank read it before arriving at that barrier, and none
 *     writes it again before the second barrier of step g + 2.
 * An instance belongs to a thread (its young generation), not to a rank: a
 * pool's tasks are not pinned to threads, so the caller says who clears.
 * A flag left set by a run that stopped between ask and clear costs one extra
 * scavenge later; a scavenge never changes what a step computes.
 */
export class Scavenges {
  /** Decay of the remembered per-step growth, per step: a growth spike is remembered for ~70 steps at half weight. */
  static readonly DECAY = 0.99;
  /** Ask for a scavenge when the young generation has room for fewer than this many steps. */
  static readonly HEADROOM_STEPS = 2;
  /** Young-generation bytes in use after the last ask or run. */
  private lastUsed: number;
  /** A decaying maximum of the young generation's growth between two asks, bytes. */
  private perStep = 0;

  constructor(
    /** Two shared cells (Scavenges.cells()), one per step parity. */
    private readonly cells: Int32Array,
    /** Runs one scavenge in this thread (minorGc()). */
    private readonly scavenge: () => void,
    /** Reads this thread's young generation (tests give a scripted one). */
    private readonly read: () => YoungGeneration = youngGeneration,
  ) {
    this.lastUsed = read().used;
  }

  /** A worker thread's Scavenges on the pool's cells (Session.scavenge), or undefined when off or where V8 gives no scavenge. */
  static forWorker(cells: Int32Array | undefined): Scavenges | undefined {
    const gc = cells === undefined ? undefined : minorGc();
    return cells === undefined || gc === undefined ? undefined : new Scavenges(cells, gc);
  }

  /** Shared cells for a pool's Scavenges. */
  static cells(): Int32Array {
    return new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  }

  /** This rank's step g is done: asks for a scavenge at its end if this rank's young generation is nearly full. */
  ask(g: number): void {
    const { used, available } = this.read();
    const grew = used - this.lastUsed; // negative when V8 scavenged on its own since
    this.perStep = Math.max(grew, this.perStep * Scavenges.DECAY);
    this.lastUsed = used;
    if (available < Scavenges.HEADROOM_STEPS * this.perStep) Atomics.store(this.cells, g & 1, 1);
  }

  /** After the barrier that ends step g: scavenges if any rank asked. Returns whether it did. */
  run(g: number): boolean {
    if (Atomics.load(this.cells, g & 1) === 0) return false;
    this.scavenge();
    this.lastUsed = this.read().used;
    return true;
  }

  /** After the first barrier of step g, in rank 0 only: resets step g - 1's flag (protocol above). */
  clear(g: number): void {
    Atomics.store(this.cells, (g - 1) & 1, 0);
  }
}

/** Bytes in use in V8's young generation (its current semi-space), and how many more fit before V8 must scavenge. */
export interface YoungGeneration {
  readonly used: number;
  readonly available: number;
}

/** This thread's YoungGeneration, from V8's heap space statistics (cheap enough to read every step). */
export function youngGeneration(): YoungGeneration {
  const s = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
  return { used: s?.space_used_size ?? 0, available: s?.space_available_size ?? Infinity };
}

/**
 * A function that runs one scavenge in the calling thread, or undefined where V8
 * does not give one: V8's `gc({ type: 'minor' })` (runtime.ts's exposedGc();
 * `--trace-gc` prints "Scavenge ... testing").
 */
export function minorGc(): (() => void) | undefined {
  const gc = exposedGc();
  return gc === undefined ? undefined : () => gc({ type: 'minor' });
}
