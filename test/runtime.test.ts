// What this Node can do (src/runtime.ts, Note [tested Node lines]): the V8 flags the package
// sets at run time take effect on the Node that runs this file, and V8 lays out a worker's
// young generation as runtime.ts says. `.ci/run` runs it on every Node line `engines` names;
// a V8 that renames a flag (setFlagsFromString ignores unknown ones silently) fails here.
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { exposedGc, largestSemiSpaceMb, startSemiSpacesAt } from '../dist/src/runtime.js';
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
});
