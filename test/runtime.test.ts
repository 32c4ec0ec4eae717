// What this Node can do (src/runtime.ts, Note [tested Node lines]): the V8 flags the package
// sets at run time take effect on the Node that runs this file, and V8 lays out a worker's
// young generation as runtime.ts says. `.ci/run` runs it on every Node line `engines` names;
// a V8 that renames a flag (setFlagsFromString ignores unknown ones silently) fails here.
import { getHeapSpaceStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { exposedGc, largestSemiSpaceMb, startSemiSpacesAt, workerResourceLimits } from '../dist/src/runtime.js';

const MB = 1024 * 1024;

/** The size of V8's new space, MB, in a fresh thread with `workerResourceLimits(youngMb)`. */
function newSpaceAtStart(youngMb: number): Promise<number> {
  const code = `
    const { getHeapSpaceStatistics } = require('node:v8');
    const s = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
    require('node:worker_threads').parentPort.postMessage(s.space_size);`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, resourceLimits: workerResourceLimits(youngMb) });
    w.once('message', (bytes: number) => {
      resolve(bytes / MB);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

function newSpaceUsed(): number {
  return getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_used_size ?? 0;
}

describe(`runtime on Node ${process.version} (V8 ${process.versions.v8})`, () => {
  it('exposedGc() gives V8\'s gc, the same function every call, and later contexts see it too', () => {
    const gc = exposedGc();
    expect(gc).toBeTypeOf('function');
    expect(exposedGc()).toBe(gc);
    expect(runInNewContext('typeof gc')).toBe('function');
    let keep: object[] | null = [];
    for (let i = 0; i < 20_000; i++) keep.push({ i, s: `x${i}` });
    keep = null;
    const before = newSpaceUsed();
    gc?.({ type: 'minor' });
    expect(before).toBeGreaterThan(100_000);
    expect(newSpaceUsed()).toBeLessThan(before / 2);
  });

  it('a young generation is three of largestSemiSpaceMb(); startSemiSpacesAt() starts later threads there, and never lowers it', async () => {
    expect([12, 24, 48, 96].map(largestSemiSpaceMb)).toEqual([4, 8, 16, 32]);
    // Asked to start above their largest, threads start at their largest.
    startSemiSpacesAt(64);
    expect(await newSpaceAtStart(12)).toBe(4);
    expect(await newSpaceAtStart(48)).toBe(16);
    expect(await newSpaceAtStart(96)).toBe(32);
    startSemiSpacesAt(2); // process-wide: a smaller start changes nothing
    expect(await newSpaceAtStart(24)).toBe(8);
  });
});
