/**
 * The machine's ceiling for N workers, as a row of bench/scaling.ts: N
 * processes at once, each running one worker's step on its share of the batch
 * (baselines.ts: the MLP's lean step or the generic path's, with the optimizer
 * update of one slice of the parameters) and never waiting for the others. No barrier, no shared memory, no
 * common V8 isolate or thread pool: what is left is what the machine does to
 * two busy cores (caches, memory, the hypervisor) and each process's own V8
 * helper threads.
 *
 * Note [ceiling]: a trainer row of N workers over its ceiling row is what this
 * library's synchronisation costs; the ceiling row over the 1-worker row is
 * what the machine allows at all. Decision: every trainer row with N > 1 gets
 * a ceiling row in the same run, so a speed-up short of N is attributed to the
 * machine or to the barrier by measurement (on the 2-vCPU VM the targets lay
 * beyond the machine, not the barrier: docs/performance.md). Invariant: the
 * processes share nothing, no barrier, no memory, no V8 isolate.
 * Re-measure: `npm run bench:scaling` (the `ceiling` rows).
 *
 * One repetition sends `run n` to every process at once; its time is the
 * slowest process's, as a synchronised step waits for the slowest worker.
 * Each process gets the young generation a worker gets (Notes [young
 * generation] and [no shrinking] in src/trainer/pool.ts) through
 * `--max-semi-space-size` and `--min-semi-space-size` (semiSpacesMb()).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BackendRequest } from '../src/backend.js';
import { DEFAULT_YOUNG_GENERATION_MB } from '../src/options.js';
import { semiSpacesMb } from '../src/trainer/pool.js';
import type { Row } from './steady.js';

/** The error line of a Node process's stderr (Node ends it with the stack and its version), else its last line. */
function lastWords(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  return lines.find((l) => /^\w*Error\b/.test(l)) ?? lines.at(-1) ?? 'no output';
}

interface Child {
  request(line: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

function child(model: string, batch: number, parties: number, backend: BackendRequest): Child {
  const file = fileURLToPath(new URL('./ceiling-child.js', import.meta.url));
  const semi = semiSpacesMb(DEFAULT_YOUNG_GENERATION_MB);
  const flags = [`--max-semi-space-size=${semi.largest}`, `--min-semi-space-size=${semi.start}`];
  const p: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [...flags, file, model, String(batch), String(parties), backend],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const { value, done } = await lines.next();
      if (done === true) throw new Error(`ceiling-child.js ended: ${lastWords(stderr)}`);
      if ((value as string).startsWith('{')) return JSON.parse(value as string) as Record<string, unknown>;
    }
  };
  const ready = next();
  return {
    async request(line) {
      await ready;
      p.stdin.write(`${line}\n`);
      return next();
    },
    async close() {
      if (p.exitCode !== null) return;
      const exited = new Promise((resolve) => p.once('exit', resolve));
      p.stdin.end();
      await exited;
    },
  };
}

/**
 * `processes` processes, each stepping `model` ('mlp': the MLP's lean step; else
 * a file of examples/ on the generic path) on `shard` samples (the largest
 * share of the batch); a step of the row is one step of each, and counts
 * `samplesPerStep` samples (the batch, as in the trainer row it bounds); on `backend`.
 */
export function ceilingRow(
  model: string,
  processes: number,
  shard: number,
  samplesPerStep: number,
  backend: BackendRequest,
): Row {
  const children = Array.from({ length: processes }, () => child(model, shard, processes, backend));
  return {
    samplesPerStep,
    async run(steps) {
      const replies = await Promise.all(children.map((c) => c.request(`run ${steps}`)));
      return {
        seconds: Math.max(...replies.map((r) => r.seconds as number)),
        stepMs: replies.flatMap((r) => r.stepMs as number[]),
      };
    },
    async close() {
      await Promise.all(children.map((c) => c.close()));
    },
  };
}
