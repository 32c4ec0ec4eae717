// Scavenging together (src/collective/scavenge.ts, Note [one pause, not two]): when a
// worker asks, the protocol, in real threads between real barriers, and that a
// scavenge run through it is V8's (seen in --trace-gc) and changes no result.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Barrier } from '../dist/src/collective/barrier.js';
import { Scavenges, minorGc, youngGeneration, type YoungGeneration } from '../dist/src/collective/scavenge.js';
import { Trainer } from '../dist/src/trainer/trainer.js';
import type { LayersModel } from '@tensorflow/tfjs';
import { layersSource } from '../dist/src/fit/spec.js';
import { optimizerFromTfjs } from '../dist/src/optim/spec.js';
import { subset } from './helpers.js';

// The generic path's step leaves ~430 KB behind: V8's young generation (1-16 MB) fills within ~40 of them.
const STEPS = 100;
const { default: buildMlp } = (await import(new URL('../examples/mlp.js', import.meta.url).href)) as {
  default: () => LayersModel;
};

/** A scripted young generation: `used` bytes of `capacity`, moved by the test. */
function scripted(capacity: number): { gen: YoungGeneration & { used: number }; read: () => YoungGeneration } {
  const gen = {
    used: 0,
    get available() {
      return capacity - this.used;
    },
  };
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
    const s = new Scavenges(
      cells,
      () => {
        runs++;
        gen.used = 50; // what survived
      },
      read,
    );
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
    const keep: object[] = [];
    for (let i = 0; i < 20_000; i++) keep.push({ i, s: `x${i}` });
    keep.length = 0; // garbage now, young
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
    const asks = [
      [3, 4, 90],
      [4, 17, 18, 19],
      [50, 199],
    ];
    const results = await Promise.all(
      asks.map(
        (mine, rank) =>
          new Promise<{ ran: number[] }>((resolve, reject) => {
            const w = new Worker(script, {
              workerData: {
                urls: { barrier: distUrl('collective/barrier.js'), scavenge: distUrl('collective/scavenge.js') },
                barrierCells,
                cells,
                parties,
                rank,
                asks: mine,
                steps: 200,
              },
            });
            let msg: { ran: number[] } | undefined;
            w.on('message', (m: { ran: number[] }) => (msg = m));
            w.on('error', reject);
            w.on('exit', (code) =>
              code === 0 && msg !== undefined ? resolve(msg) : reject(new Error(`worker ${rank} exited with ${code}`)),
            );
          }),
      ),
    );
    const union = [...new Set(asks.flat())].sort((a, b) => a - b);
    for (const r of results) expect(r.ran).toEqual(union);
  });
});

describe('scavengeTogether', () => {
  it("changes no result: the generic path at 2 workers, on (in a child under --trace-gc) and off, the same parameters bit for bit; on, both workers ran V8's scavenges at its request, as many each", async () => {
    const data = subset(6400, 64);
    const model = buildMlp(); // one set of initial weights for both runs
    const source = layersSource(model, { targets: 'onehot' });
    const dir = mkdtempSync(join(tmpdir(), 'worker-ddp-scavenge-run-'));
    try {
      writeFileSync(join(dir, 'init.bin'), source.params);
      const child = runNode([
        '--trace-gc',
        fileURLToPath(new URL('./fixtures/scavenge-run.mjs', import.meta.url)),
        join(dir, 'init.bin'),
        join(dir, 'on.bin'),
        String(STEPS),
      ]);
      const off = await Trainer.create(
        {
          workers: 2,
          backend: 'wasm',
          data,
          seed: 3,
          scavengeTogether: false,
          youngGenerationMb: 8,
          optimizer: optimizerFromTfjs(model.optimizer),
        },
        source,
      );
      try {
        await off.train(STEPS);
        const { status, stdout, stderr } = await child;
        expect(status, stderr).toBe(0);
        expect(new Float32Array(readFileSync(join(dir, 'on.bin')).buffer.slice(0))).toEqual(off.getParams());
        // --trace-gc names each isolate (thread) on each line; "testing" is the reason V8 gives for
        // gc({ type: 'minor' }), which only Scavenges.run calls: a scavenge asked for, not one V8 chose.
        const asked = new Map<string, number>();
        for (const [, isolate] of stdout.matchAll(/^\[\d+:(0x[0-9a-f]+)\][^\n]* Scavenge [^\n]*\btesting;/gm))
          asked.set(isolate, (asked.get(isolate) ?? 0) + 1);
        const counts = [...asked.values()];
        expect(counts, 'scavenges asked for, per thread').toHaveLength(2);
        expect(counts[0]).toBeGreaterThan(0);
        expect(counts[1]).toBe(counts[0]);
      } finally {
        await off.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Runs `node ARGS...` without blocking; resolves with its exit status and output. */
function runNode(args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr });
    });
  });
}
