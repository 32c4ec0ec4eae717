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
 * Note [spin then sleep]: a crossing costs ~14 µs with Atomics.wait/notify
 * alone but ~0.3 µs when the waiter spins first (tfjs-wasm-probe.md, Q5b).
 * Spinning burns the core it runs on, so it is only enabled when every party
 * has a core of its own; otherwise a spinning thread would steal the core of the
 * very peer it waits for.
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

export class Barrier {
  constructor(
    private readonly cells: Int32Array,
    private readonly parties: number,
    private readonly timeoutMs: number,
    private readonly spins: number,
  ) {}

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
    for (let i = 0; i < this.spins; i++) if (this.released(gen)) return;
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const wake = Atomics.load(c, WAKE);
      if (this.released(gen)) return;
      const left = deadline - Date.now();
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
   */
  private released(gen: number): boolean {
    if (Atomics.load(this.cells, DONE) !== gen) return true;
    this.throwIfAborted();
    return false;
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

  private throwIfAborted(): void {
    if (this.aborted) throw new PeerAborted(PEER_ABORTED);
  }
}
