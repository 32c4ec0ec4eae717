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
 * Cells (Int32): [0] arrivals in this generation, [1] generation, [2] abort flag.
 *
 * Note [spin then sleep]: a crossing costs ~14 µs with Atomics.wait/notify
 * alone but ~0.3 µs when the waiter spins first (tfjs-wasm-probe.md, Q5b).
 * Spinning burns the core it runs on, so it is only enabled when every party
 * has a core of its own; otherwise a spinning thread would steal the core of the
 * very peer it waits for.
 */
export const BARRIER_CELLS = 3;
const ARRIVED = 0;
const GENERATION = 1;
const ABORTED = 2;

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
    const gen = Atomics.load(c, GENERATION);
    this.throwIfAborted();
    if (Atomics.add(c, ARRIVED, 1) === this.parties - 1) {
      // Last to arrive: reset before releasing, so an early next-generation arrival counts from 0.
      Atomics.store(c, ARRIVED, 0);
      Atomics.add(c, GENERATION, 1);
      Atomics.notify(c, GENERATION);
      return;
    }
    for (let i = 0; i < this.spins; i++) if (Atomics.load(c, GENERATION) !== gen) return this.throwIfAborted();
    const deadline = Date.now() + this.timeoutMs;
    while (Atomics.load(c, GENERATION) === gen) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.abort();
        throw new BarrierTimeout(`no progress from the other workers for ${this.timeoutMs} ms`);
      }
      Atomics.wait(c, GENERATION, gen, left);
    }
    this.throwIfAborted();
  }

  /** Releases every waiter with PeerAborted, now and in all later waits. */
  abort(): void {
    Atomics.store(this.cells, ABORTED, 1);
    Atomics.add(this.cells, GENERATION, 1);
    Atomics.notify(this.cells, GENERATION);
  }

  get aborted(): boolean {
    return Atomics.load(this.cells, ABORTED) !== 0;
  }

  private throwIfAborted(): void {
    if (this.aborted) throw new PeerAborted('another worker failed');
  }
}
