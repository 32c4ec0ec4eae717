// Scavenging together (src/shm/scavenge.ts, Note [one pause, not two]): when a
// worker asks, the protocol, in real threads between real barriers, and that a
// scavenge run through it is V8's and changes no result.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Barrier } from '../dist/src/shm/barrier.js';
import { Scavenges, minorGc, youngGeneration, type YoungGeneration } from '../dist/src/shm/scavenge.js';
import { Trainer } from '../dist/src/trainer/trainer.js';
import type { LayersModel } from '@tensorflow/tfjs';
import { layersSource } from '../dist/src/fit/spec.js';
import { optimizerFromTfjs } from '../dist/src/optim/spec.js';
import { subset } from './helpers.js';

// The generic path's step leaves ~430 KB behind: V8's young generation (1-16 MB) fills within ~40 of them.
const STEPS = 100;
const { default: buildMlp } = (await import(new URL('../examples/mlp.js', import.meta.url).href)) as { default: () => LayersModel };

/** A scripted young generation: `used` bytes of `capacity`, moved by the test. */
function scripted(capacity: number): { gen: YoungGeneration & { used: number }; read: () => YoungGeneration } {
  const gen = { used: 0, get available() { return capacity - this.used; } };
  return { gen, read: () => ({ used: gen.used, available: gen.available }) };
}

describe('Scavenges, one thread', () => {
  it('asks once the young generation cannot take HEADROOM_STEPS more steps of its growth', () => {
    const { gen, read } = scripted(1000);
    const cells = Scavenges.cells();
    let runs = 0;
    const s = new Scavenges(cells, () => runs++, read);
    const asked: number[] = [];
    for (let g = 0; g < 10; g++) {
      gen.used += 100; // 100 bytes a step
      s.ask(g);
      if (Atomics.load(cells, g & 1) === 1) asked.push(g);
      s.clear(g + 1);
    }
    // Room for fewer than 2 steps (available < 200) from used = 900 on: g = 8 and 9.
    expect(Scavenges.HEADROOM_STEPS).toBe(2);
    expect(asked).toEqual([8, 9]);
    expect(runs).toBe(0);
  });

  it('runs a scavenge after the barrier only when asked, and clear(g + 1) resets step g', () => {
    const { gen, read } = scripted(1000);
    const cells = Scavenges.cells();
    let runs = 0;
    const s = new Scavenges(cells, () => {
      runs++;
      gen.used = 50; // what survived
    }, read);
    gen.used = 100;
    s.ask(0);
    expect(s.run(0)).toBe(false);
    gen.used = 900; // grew by 800: room for 100 < 2 x 800
    s.ask(1);
    expect(Array.from(cells)).toEqual([0, 1]);
    expect(s.run(1)).toBe(true);
    expect(runs).toBe(1);
    s.clear(2);
    expect(Array.from(cells)).toEqual([0, 0]);
    // Growth is counted from what the scavenge left: 50 -> 150 is 100 a step, and the remembered 800 decays.
    gen.used = 150;
    s.ask(2);
    expect(Array.from(cells)).toEqual([1, 0]); // 850 left < 2 x 800 x DECAY
    s.clear(3);
    for (let g = 3; g < 400; g++) {
      gen.used = 150;
      s.ask(g); // no growth: the remembered growth decays
      s.clear(g + 1);
    }
    expect(Array.from(cells)).toEqual([0, 0]);
  });

  it('a fall in use (V8 scavenged on its own) is not growth', () => {
    const { gen, read } = scripted(10_000);
    const cells = Scavenges.cells();
    const s = new Scavenges(cells, () => {}, read);
    const asked: number[] = [];
    for (let g = 0; g < 150; g++) {
      gen.used = g === 60 ? 50 : gen.used + 100; // 100 bytes a step; at g = 60 V8 scavenged by itself
      s.ask(g);
      if (Atomics.load(cells, g & 1) === 1) asked.push(g);
      s.clear(g + 1);
    }
    // The fall (-5,950) did not count: growth stayed 100 a step, and 8,950 used at g = 149 leaves 1,050 > 200.
    expect(asked).toEqual([]);
    gen.used = 9_850;
    s.ask(150); // grew 900: 150 left < 2 x 900
    expect(Atomics.load(cells, 0)).toBe(1);
  });

  it("minorGc() is V8's scavenge: it empties the young generation", () => {
    const gc = minorGc();
    expect(gc).toBeTypeOf('function');
    let keep: object[] | null = [];
    for (let i = 0; i < 20_000; i++) keep.push({ i, s: `x${i}` });
    keep = null;
    const before = youngGeneration().used;
    gc?.();
    const after = youngGeneration().used;
    expect(before).toBeGreaterThan(100_000);
    expect(after).toBeLessThan(before / 2);
  });
});

// Real threads, real barriers: each rank asks at its own scripted steps; every
// rank must scavenge at exactly the union of those steps, and only then.
const WORKER_SCRIPT = `
import { workerData, parentPort } from 'node:worker_threads';
const { urls, barrierCells, cells, parties, asks, steps } = workerData;
const { Barrier } = await import(urls.barrier);
const { Scavenges } = await import(urls.scavenge);
const barrier = new Barrier(barrierCells, parties, 20000, 0);
let used = 0;
const s = new Scavenges(cells, () => { used = 0; }, () => ({ used, available: asks.includes(step) ? 0 : 1e12 }));
const ran = [];
var step = 0;
for (step = 0; step < steps; step++) {
  used += 1;
  barrier.wait();               // gradients written
  if (workerData.rank === 0) s.clear(step);
  s.ask(step);
  barrier.wait();               // update done
  if (s.run(step)) ran.push(step);
}
parentPort.postMessage({ ran });
`;

describe('Scavenges, in worker threads', () => {
  let dir: string;
  let script: string;
  const distUrl = (rel: string): string => new URL(`../dist/src/${rel}`, import.meta.url).href;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'worker-ddp-scavenge-'));
    script = join(dir, 'worker.mjs');
    writeFileSync(script, WORKER_SCRIPT);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('3 ranks scavenge at the same steps: every step any of them asked at, no other', async () => {
    const parties = 3;
    const barrierCells = Barrier.cells();
    const cells = Scavenges.cells();
    const asks = [[3, 4, 90], [4, 17, 18, 19], [50, 199]];
    const results = await Promise.all(
      asks.map(
        (mine, rank) =>
          new Promise<{ ran: number[] }>((resolve, reject) => {
            const w = new Worker(script, { workerData: { urls: { barrier: distUrl('shm/barrier.js'), scavenge: distUrl('shm/scavenge.js') }, barrierCells, cells, parties, rank, asks: mine, steps: 200 } });
            let msg: { ran: number[] } | undefined;
            w.on('message', (m: { ran: number[] }) => (msg = m));
            w.on('error', reject);
            w.on('exit', (code) => (code === 0 && msg !== undefined ? resolve(msg) : reject(new Error(`worker ${rank} exited with ${code}`))));
          }),
      ),
    );
    const union = [...new Set(asks.flat())].sort((a, b) => a - b);
    for (const r of results) expect(r.ran).toEqual(union);
  });
});

describe('scavengeTogether', () => {
  it('changes no result: the generic path at 2 workers, on and off, the same parameters bit for bit', async () => {
    const data = subset(6400, 64);
    const params: Float32Array[] = [];
    let scavenged = 0;
    const model = buildMlp(); // one set of initial weights for both runs
    for (const scavengeTogether of [true, false]) {
      const t = await Trainer.create({ workers: 2, backend: 'wasm', data, seed: 3, profile: true, scavengeTogether, optimizer: optimizerFromTfjs(model.optimizer) }, layersSource(model, { targets: 'onehot' }));
      try {
        await t.train(STEPS);
        params.push(t.getParams());
        // Phase 'scavenge' per step, ranks interleaved: steps where both ranks spent > 50 µs in it (a scavenge; without one ~1 µs).
        const d = t.trace?.durations('scavenge') ?? [];
        if (scavengeTogether) for (let k = 0; k + 1 < d.length; k += 2) if (d[k] > 0.05 && d[k + 1] > 0.05) scavenged++;
      } finally {
        await t.close();
      }
    }
    expect(params[0]).toEqual(params[1]);
    expect(scavenged, 'steps at which both workers scavenged').toBeGreaterThan(0);
  });
});
