import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ResourceLimits } from 'node:worker_threads';

/**
 * What this Node can do: the one module that sets V8 flags at run time and
 * knows how V8 lays out a worker thread's memory. Whatever differs between the
 * Node lines package.json's `engines` names belongs here, and nowhere else.
 *
 * Note [tested Node lines]: `engines` names the lines `.ci/run` runs the whole
 * suite on: the machine's Node 20 and pinned Node 22 and 24 binaries (V8 11.3,
 * 12.4 and 13.6). On all three, each of the following holds, and
 * test/runtime.test.ts asserts it on the Node that runs it:
 * - `--expose-gc` set at run time gives contexts created after it a `gc` that
 *   takes `{ type: 'minor' }` (a scavenge);
 * - `--min-semi-space-size` set at run time is read by isolates started after
 *   it (worker threads);
 * - a young generation of Y MB (a worker's `maxYoungGenerationSizeMb`) is two
 *   semi-spaces and a large-object space of one semi-space each: Y / 3 MB apiece.
 * - on V8 11 only, `--interrupt-budget` set at run time is read by isolates
 *   started after it (Note [tier up sooner]).
 * `setFlagsFromString` ignores a flag this V8 does not know, silently: a
 * renamed flag shows only in those tests. The tfjs internals the package reads
 * (tfjs-kernels/heap.ts, tfjs-kernels/shared-saves.ts) follow the pinned tfjs
 * version, not Node's: the same on the three lines. Re-check on another Node:
 * PATH=<its bin>:$PATH npx vitest run test/runtime.test.ts test/young-generation.test.ts
 */

/** V8's `gc` global: `{ type: 'minor' }` runs a scavenge, no argument a full collection. */
export type V8Gc = (options?: { readonly type: 'minor' | 'major' }) => void;

let gc: V8Gc | null | undefined;

/**
 * V8's `gc` function, or undefined where this V8 gives none. Node has no public
 * call for it: `--expose-gc`, set at run time, makes `gc` a global of contexts
 * created after it. The flag is process-wide: contexts created later (vm) also
 * see a `gc`.
 */
export function exposedGc(): V8Gc | undefined {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    const found: unknown = runInNewContext('gc');
    gc = typeof found === 'function' ? (found as V8Gc) : null;
  }
  return gc ?? undefined;
}

/** The largest semi-space, MB, of a `youngGenerationMb` young generation (Note [tested Node lines]). */
export function largestSemiSpaceMb(youngGenerationMb: number): number {
  return Math.floor(youngGenerationMb / 3);
}

/** A worker thread's resource limits for a `youngGenerationMb` young generation (Piscina's and node:worker_threads' `resourceLimits`). */
export function workerResourceLimits(youngGenerationMb: number): ResourceLimits {
  return { maxYoungGenerationSizeMb: youngGenerationMb };
}

/** The start of the semi-spaces set so far, MB. */
let minSemiSpaceMb = 0;

/**
 * Isolates started from now on (worker threads) begin with semi-spaces of at
 * least `mb`, or their own largest if smaller (V8's `--min-semi-space-size`).
 * The flag is process-wide, so it is raised, never lowered: a smaller `mb`
 * than one set before changes nothing.
 */
export function startSemiSpacesAt(mb: number): void {
  if (mb <= minSemiSpaceMb) return;
  minSemiSpaceMb = mb;
  setFlagsFromString(`--min-semi-space-size=${mb}`);
}

/**
 * V8 11's interrupt budget, bytes of bytecode a function runs between two
 * tier-up checks (`--interrupt-budget`), as the pool sets it: an eighth of
 * V8's default (67584).
 */
export const INTERRUPT_BUDGET = 8192;

let tieredSooner = false;

/**
 * Note [tier up sooner]: decision: on V8 11 (Node 20) the pool lowers V8's
 * interrupt budget to INTERRUPT_BUDGET, process-wide, before its threads
 * start. A step's JavaScript is many small functions around wasm kernels
 * (tfjs's op wrappers, our kernels' entries), each called a few times per step:
 * at V8's default budget they reach optimised code only in the second and
 * third epoch, while the background compiler takes CPU from the workers.
 * V8 12 and 13 (Node 22, 24) tier up by invocation counts, with Maglev in
 * between, and are left as they are. A budget on node's own command line wins.
 * Invariant: the flag changes when code is optimised, never what it computes.
 * Returns whether it set the flag. Re-measure, interleaved:
 * `node [--interrupt-budget=67584] dist/src/cli/main.js --workers 2 --epochs 3 --json`.
 */
export function tierUpSooner(): boolean {
  if (tieredSooner) return true;
  const v8Major = Number(process.versions.v8.split('.')[0]);
  if (
    v8Major !== 11 ||
    process.execArgv.some((a) => a.startsWith('--interrupt-budget') || a.startsWith('--interrupt_budget'))
  )
    return false;
  setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
  tieredSooner = true;
  return true;
}
