/**
 * A reusable barrier for `parties` threads over a SharedArrayBuffer, with a
 * deadline and an abort flag.
 *
 * Contract: wait() returns in every party only after all parties have called
 * it for the same generation; every write a party made before wait() is then
 * visible to all others (Atomics give the happens-before edge). It throws
 * BarrierTimeout after `timeoutMs` and PeerAborted once any party called
 * abort(), so a dead or failing peer never leaves the others waiting forever.
 *
 * Cells (Int32): see BARRIER_CELLS below. Waiters sleep on WAKE, which both a
 * completion and an abort change, so neither can slip in between a waiter's
 * last check and its Atomics.wait; DONE tells which of the two happened.
 *
 * Note [spin then sleep]: decision: a waiter spins before it sleeps on
 * Atomics.wait, because a crossing that ends in the spin costs a small fraction
 * of one that pays a futex wake-up on the critical path. Invariant: spinning
 * is only enabled when every party has a core of its own, else a spinning
 * thread steals the core of the very peer it waits for (Note [busy machine]).
 * How long to spin: Note [adaptive spin]. Re-measure: `npm run bench` (the
 * barrier against a Piscina round trip) and `npm run bench:scaling -- --spin 0`.
 */
export const BARRIER_CELLS = 4;
const ARRIVED = 0; // arrivals in the current generation
const DONE = 1; // generations completed
const ABORTED = 2; // 1 once any party aborted
const WAKE = 3; // bumped by every completion and abort: the cell waiters sleep on

/** Message of the error a party throws when a peer failed first: an echo, never the root cause. */
export const PEER_ABORTED = 'another worker failed';

export class BarrierTimeout extends Error {
  override readonly name = 'BarrierTimeout';
}

export class PeerAborted extends Error {
  override readonly name = 'PeerAborted';
}

/**
 * Note [adaptive spin]: decision: each party spins up to FACTOR times the
 * EWMA of its own recent waits (arrival to release, sleeps included), never
 * more than the cap. A fixed spin count ended before the peer arrived in
 * nearly every crossing of a 2-worker run, so nearly every crossing paid the
 * sleeper's wake-up; how long a peer keeps us waiting depends on the model,
 * the shard size and the machine, so it is learnt. A wait like the recent ones
 * ends in the spin; an unusually long one (a scavenge in the peer, a
 * descheduled peer) sleeps after the budget, so a stall burns at most the cap.
 * Invariant: waits are clipped to the cap before averaging, so one long stall
 * does not raise the budget for long. Re-measure: `npm run bench:scaling --
 * --spin 0,2` (2-worker rows with other caps; docs/performance.md).
 */
export class SpinBudget {
  static readonly FACTOR = 2;
  /** EWMA weight of the newest wait: about the last 8 waits count. */
  static readonly WEIGHT = 1 / 8;
  private mean: number;

  /** Starts at the cap, then learns: early waits (JIT warm-up) are long anyway. */
  constructor(private capMs: number) {
    this.mean = capMs / SpinBudget.FACTOR;
  }

  /** Changes the cap (spinCapFor); what was learnt is kept. */
  set cap(ms: number) {
    this.capMs = ms;
  }

  /** How long the next wait may spin before it sleeps, ms. */
  get ms(): number {
    return Math.min(this.capMs, SpinBudget.FACTOR * this.mean);
  }

  /** Reports how long a wait that was not the last arrival took, ms. */
  record(waitedMs: number): void {
    this.mean += SpinBudget.WEIGHT * (Math.min(waitedMs, this.capMs) - this.mean);
  }
}

/**
 * Note [busy machine]: spinning only pays while each party has a core to
 * itself; when other processes want the cores too, a spinning party takes CPU
 * time from its own peer, and on a loaded machine any spin cap was far slower
 * than never spinning. Decision: a party spins only while the 1-minute load
 * average, which counts our own running workers, is at most the number of
 * cores plus LOAD_SLACK; workers re-check it at every task (chunk of steps).
 * Re-measure: `npm run bench:scaling -- --spin 0,2` on a loaded machine.
 */
export const LOAD_SLACK = 0.5;

/** The spin cap to use now: `capMs` on a machine with a core for every runnable thread, else 0 (Note [busy machine]). */
export function spinCapFor(capMs: number, loadAverage1m: number, cores: number): number {
  return loadAverage1m <= cores + LOAD_SLACK ? capMs : 0;
}

/** Spins between two reads of the clock: a read of performance.now() costs several times one spin. */
const SPINS_PER_CLOCK = 64;

export class Barrier {
  private readonly spin: SpinBudget;

  /** `spinCapMs`: the most a wait spins before sleeping (0: never spin); Note [adaptive spin]. */
  constructor(
    private readonly cells: Int32Array,
    private readonly parties: number,
    private readonly timeoutMs: number,
    spinCapMs: number,
  ) {
    this.spin = new SpinBudget(spinCapMs);
  }

  /** Sets the most a wait spins from now on, ms (spinCapFor). */
  set spinCapMs(ms: number) {
    this.spin.cap = ms;
  }

  static cells(): Int32Array {
    return new Int32Array(new SharedArrayBuffer(BARRIER_CELLS * 4));
  }

  wait(): void {
    const c = this.cells;
    const gen = Atomics.load(c, DONE);
    this.throwIfAborted();
    if (Atomics.add(c, ARRIVED, 1) === this.parties - 1) {
      // Last to arrive: reset before releasing, so an early next-generation arrival counts from 0.
      Atomics.store(c, ARRIVED, 0);
      Atomics.add(c, DONE, 1);
      Atomics.add(c, WAKE, 1);
      Atomics.notify(c, WAKE);
      return;
    }
    const t0 = performance.now();
    const deadline = t0 + this.timeoutMs;
    const budget = this.spin.ms;
    if (budget > 0) {
      const spinUntil = Math.min(deadline, t0 + budget);
      for (let i = 1; ; i++) {
        if (this.released(gen)) return this.spin.record(performance.now() - t0);
        if (i % SPINS_PER_CLOCK === 0 && performance.now() >= spinUntil) break;
      }
    }
    for (;;) {
      const wake = Atomics.load(c, WAKE);
      if (this.released(gen)) return this.spin.record(performance.now() - t0);
      const left = deadline - performance.now();
      if (left <= 0) {
        this.abort();
        throw new BarrierTimeout(`waited ${this.timeoutMs} ms at a barrier for the other workers`);
      }
      Atomics.wait(c, WAKE, wake, left);
    }
  }

  /**
   * True once generation `gen` has completed; throws PeerAborted if it was
   * aborted first. A completed crossing wins over a later abort: the abort
   * concerns a later step, and this party meets it at its next wait().
   *
   * Note [abort after completion]: the peer that completes a generation can
   * abort microseconds later (its next step throws at once). So the verdict
   * reads ABORTED once and, when set, re-reads DONE after it: seq-cst Atomics
   * make a completion that preceded the abort visible to that second read. An
   * earlier version read ABORTED a second time after the DONE checks; a waiter
   * descheduled between the reads then threw PeerAborted for a crossing that had
   * completed, and the fault test reported "step 2 failed" for a fault at step 3
   * (~1 run in 300 under load). test/allreduce.test.ts replays every
   * interleaving of the peer's action with the waiter's reads.
   */
  private released(gen: number): boolean {
    if (Atomics.load(this.cells, DONE) !== gen) return true;
    if (!this.aborted) return false;
    if (Atomics.load(this.cells, DONE) !== gen) return true;
    throw new PeerAborted(PEER_ABORTED);
  }

  /** Releases every waiter with PeerAborted, now and in all later waits. */
  abort(): void {
    Atomics.store(this.cells, ABORTED, 1);
    Atomics.add(this.cells, WAKE, 1);
    Atomics.notify(this.cells, WAKE);
  }

  /** Clears an abort so the barrier can be used again. Only while no party is inside wait(). */
  reset(): void {
    Atomics.store(this.cells, ARRIVED, 0);
    Atomics.store(this.cells, ABORTED, 0);
  }

  get aborted(): boolean {
    return Atomics.load(this.cells, ABORTED) !== 0;
  }

  /** Throws PeerAborted once the barrier was aborted. */
  throwIfAborted(): void {
    if (this.aborted) throw new PeerAborted(PEER_ABORTED);
  }
}
