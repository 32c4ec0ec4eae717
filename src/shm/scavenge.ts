import { getHeapSpaceStatistics } from 'node:v8';
import { exposedGc } from '../runtime.js';

/**
 * Scavenges together: the workers of a pool run V8's young-generation
 * collection (a scavenge) at the same step boundary, when any of them is about
 * to need one, instead of each in the middle of whatever step fills its own
 * young generation.
 *
 * Note [one pause, not two]: a scavenge stops only the thread it runs in, but
 * every step ends at a barrier, so a worker's scavenge stops its peers too:
 * they wait for it. Two workers scavenging at different steps make two such
 * pauses; scavenging at the same step makes one. The generic path's step
 * leaves ~430 KB of tfjs's JavaScript objects behind, a 1.7-4.7 ms scavenge
 * every ~35 steps of ~0.8 ms (`--trace-gc`). Measured (scratch A/B, 2026-11-29:
 * two Trainers in one process, 16 interleaved pairs of 800 steps, paired
 * ratios): examples/mlp.js at 2 workers with a scavenge forced in both every 8,
 * 16 or 32 steps: 1.12x, 1.08x, 1.085x the samples/s of leaving it to V8,
 * forward/backward p99 4.0 -> 1.3-1.9 ms (p50 0.80-0.83); at 1 worker 1.00x
 * (nobody waits, the work is only moved). The hand-written MLP, which leaves
 * ~85 KB a step, lost with a fixed period (16 steps: 0.95x, scavenges 12 times
 * as often as it needs), hence this policy: a worker asks for a scavenge only
 * when its young generation could not take two more steps of its recent
 * growth, and every worker then runs one at the end of that step. This policy
 * against leaving it to V8, same A/B: the generic MLP 1.115x (middle half of
 * the pairs 1.01-1.14; forward/backward p99 4.97 -> 2.22 ms, p50 1.08 -> 1.03),
 * the convnet 1.097x (1.08-1.16), the hand-written MLP 1.011x (0.99-1.08); the
 * generic MLP at 1 worker 1.012x. `npm run bench:scaling` repeats it (--apart):
 * the generic path 1.18x and 1.19x, the convnet 0.95x and 1.09x; since the
 * 96 MB young generation (Note [young generation] in trainer/pool.ts) made
 * each scavenge cheaper, 1.14x and 1.02x, and 0.93x and 1.09x. Since the
 * sequential replica left fewer objects a step (five paired runs of the
 * 2-worker rows, 2026-11-29): the hand-written MLP 0.93-1.00x, weak 0.94-1.01x,
 * the generic path 0.98-1.03x, the convnet 0.97-1.02x: on 2 cores two
 * scavenges at once share the cores V8's parallel scavenger would use (one
 * took 2-6 ms where alone ~1). Kept as the default for machines with more
 * cores, where N pauses become one: unmeasured (README, Performance).
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

/** This thread's YoungGeneration, from V8's heap space statistics (~0.4 µs). */
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
