/**
 * npm run bench:oversubscription -- [--workers 2,4,8] [--pairs 3] [--epochs 3] [--hog]
 *   [--cli dist/src/cli/main.js] [--args "..."]
 *
 * More workers than cores, and a busy machine, as a user meets them: `npm run train`
 * (the CLI, child processes) with each worker count in turn, repeated `--pairs`
 * times in interleaved order (odd rounds backwards), each run's best epoch by
 * samples/s. Every count is compared with the first (`--workers 2` by default)
 * by the median over rounds of the per-round ratios, so the machine's drift
 * cancels. `--hog` adds, per round, a run of the first count beside a busy-loop
 * process that holds one core for the whole run, and reports it against the
 * unloaded run of the same round. The table ends with each count's epoch losses
 * (every round gives the same): run it once more with `--cli` pointing at another
 * build's CLI to check that a change kept them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './steady.js';

interface Run {
  readonly bestSamplesPerSecond: number;
  readonly losses: readonly number[];
}

function parse(): { workers: number[]; pairs: number; epochs: number; hog: boolean; cli: string; extra: string[] } {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string' },
      pairs: { type: 'string' },
      epochs: { type: 'string' },
      hog: { type: 'boolean' },
      cli: { type: 'string' },
      args: { type: 'string' },
    },
    strict: true,
  });
  const ints = (name: string, raw: string): number[] =>
    raw.split(',').map((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 256)
        throw new Error(`--${name} takes integers from 1 to 256, got ${JSON.stringify(v)}`);
      return n;
    });
  return {
    workers: ints('workers', values.workers ?? '2,4,8'),
    pairs: ints('pairs', values.pairs ?? '3')[0],
    epochs: ints('epochs', values.epochs ?? '3')[0],
    hog: values.hog === true,
    cli: values.cli ?? 'dist/src/cli/main.js',
    extra: (values.args ?? '').split(' ').filter((a) => a !== ''),
  };
}

/** One `npm run train` as a child process with --json: its best epoch and its epoch losses. */
function train(cli: string, workers: number, epochs: number, extra: readonly string[]): Run {
  const out = mkdtempSync(join(tmpdir(), 'worker-ddp-oversubscription-'));
  const r = spawnSync(
    process.execPath,
    [cli, '--workers', String(workers), '--epochs', String(epochs), '--json', '--out', out, ...extra],
    {
      encoding: 'utf8',
      timeout: 30 * 60_000,
    },
  );
  rmSync(out, { recursive: true, force: true });
  if (r.status !== 0)
    throw new Error(`--workers ${workers} exited ${String(r.status)}: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  const epochsJson = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { loss: number; samplesPerSecond: number });
  return {
    bestSamplesPerSecond: Math.max(...epochsJson.map((e) => e.samplesPerSecond)),
    losses: epochsJson.map((e) => e.loss),
  };
}

/** A process that keeps one core busy until killed. */
function hog(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' });
}

function main(): void {
  const a = parse();
  console.log(
    `oversubscription benchmark: ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}`,
  );
  console.log(
    `npm run train -- --workers ${a.workers.join('|')} --epochs ${a.epochs} ${a.extra.join(' ')}; ${a.pairs} interleaved rounds, best epoch of each run\n`,
  );
  const first = a.workers[0];
  const rows = new Map<string, Run[]>();
  const push = (id: string, r: Run): void => {
    const runs = rows.get(id) ?? [];
    runs.push(r);
    rows.set(id, runs);
  };
  for (let k = 0; k < a.pairs; k++) {
    const order = k % 2 === 0 ? a.workers : [...a.workers].reverse();
    for (const w of order) {
      const r = train(a.cli, w, a.epochs, a.extra);
      push(String(w), r);
      console.log(
        `  round ${k + 1}, --workers ${w}: best epoch ${Math.round(r.bestSamplesPerSecond)} samples/s, losses ${r.losses.map((l) => l.toFixed(4)).join(' ')}`,
      );
    }
    if (a.hog) {
      const h = hog();
      try {
        const r = train(a.cli, first, a.epochs, a.extra);
        push(`${first}+hog`, r);
        console.log(
          `  round ${k + 1}, --workers ${first} beside a busy core: best epoch ${Math.round(r.bestSamplesPerSecond)} samples/s`,
        );
      } finally {
        h.kill('SIGKILL');
      }
    }
  }
  const base = rows.get(String(first)) ?? [];
  console.log(
    `\n| run | samples/s (median of rounds) | x --workers ${first} (median of per-round ratios) | epoch losses |`,
  );
  console.log('|---|---|---|---|');
  for (const [id, runs] of rows) {
    const ratio = median(runs.map((r, k) => r.bestSamplesPerSecond / base[k].bestSamplesPerSecond));
    const losses = runs.every((r) => r.losses.join() === runs[0].losses.join())
      ? runs[0].losses.join(', ')
      : 'differ between rounds';
    console.log(
      `| --workers ${id} | ${Math.round(median(runs.map((r) => r.bestSamplesPerSecond)))} | ${ratio.toFixed(2)}x | ${losses} |`,
    );
  }
}

try {
  main();
} catch (err) {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
