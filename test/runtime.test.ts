// What this Node can do (src/runtime.ts, Note [tested Node lines]): the V8 flags the package
// sets at run time take effect on the Node that runs this file, and V8 lays out a worker's
// young generation as runtime.ts says. `.ci/run` runs it on every Node line `engines` names;
// a V8 that renames a flag (setFlagsFromString ignores unknown ones silently) fails here.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { exposedGc, largestSemiSpaceMb, startSemiSpacesAt, tierUpSooner } from '../dist/src/runtime.js';
import { newSpaceAtStart } from './helpers.js';

describe(`runtime on Node ${process.version} (V8 ${process.versions.v8})`, () => {
  it("exposedGc() gives V8's gc, the same function every call, and contexts made later see it too", () => {
    const gc = exposedGc();
    expect(gc).toBeTypeOf('function');
    expect(exposedGc()).toBe(gc);
    expect(runInNewContext('typeof gc')).toBe('function');
    // That it scavenges: test/scavenge.test.ts (minorGc()).
  });

  it('a young generation is three of largestSemiSpaceMb(); startSemiSpacesAt() starts later threads there, and never lowers it', async () => {
    // Asked to start above their largest, threads start at their largest: 4, 16 and 32 MB.
    startSemiSpacesAt(64);
    for (const youngMb of [12, 48, 96]) expect(await newSpaceAtStart(youngMb)).toBe(largestSemiSpaceMb(youngMb));
    startSemiSpacesAt(2); // process-wide: a smaller start changes nothing
    expect(await newSpaceAtStart(24)).toBe(largestSemiSpaceMb(24));
  });

  // V8 11 only (Note [tier up sooner]): a worker thread started after tierUpSooner() marks a
  // small hot function for optimisation after fewer calls than at V8's default budget (here 59
  // against 192). Marking is counted, not optimised code: the compile runs on a background thread
  // and a loaded machine delays it by thousands of calls.
  it.runIf(Number(process.versions.v8.split('.')[0]) === 11)(
    'tierUpSooner() makes worker threads started after it mark a hot function for optimisation sooner',
    async () => {
      const atDefault = await callsToMark();
      expect(tierUpSooner()).toBe(true);
      expect(tierUpSooner()).toBe(true);
      const sooner = await callsToMark();
      expect(atDefault).toBeGreaterThan(150);
      expect(sooner).toBeLessThan(atDefault / 2);
    },
  );

  it.runIf(Number(process.versions.v8.split('.')[0]) !== 11)(
    'tierUpSooner() leaves V8 12 and later as they are',
    () => {
      expect(tierUpSooner()).toBe(false);
    },
  );
});

/**
 * How many calls a small function in a new worker thread takes until V8 marks it for optimisation
 * or starts optimising it (%GetOptimizationStatus: optimised 1 << 4, marked 1 << 8, marked
 * concurrent 1 << 9, optimising concurrently 1 << 10). The count follows from the bytecode run, so
 * it is the same on every run.
 */
async function callsToMark(): Promise<number> {
  setFlagsFromString('--allow-natives-syntax');
  const source = `
    const { parentPort } = require('node:worker_threads');
    const status = new Function('f', 'return %GetOptimizationStatus(f)');
    function f(a) { let s = 0; for (let i = 0; i < 10; i++) s += a[i] * i; return s; }
    const a = new Float64Array(10);
    let n = 0;
    for (; n < 100000 && (status(f) & (16 | 256 | 512 | 1024)) === 0; n++) f(a);
    parentPort.postMessage(n);`;
  const worker = new Worker(source, { eval: true });
  try {
    return await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}
