/**
 * The PyTorch references (bench/reference/*.py) as rows of bench/scaling.ts:
 * each runs in its own python process in `--serve` mode, so it is warmed up,
 * timed and interleaved under the same protocol as this library's rows
 * (bench/steady.ts), and "x PyTorch" is a ratio measured in the same run.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { OptionError } from '../src/options.js';
import type { Row } from './steady.js';

/** The interpreters tried, in order: the first that can import torch wins (pyenv's python3 often cannot; Debian's python3-torch is for /usr/bin/python3). */
const PYTHONS = ['python3', '/usr/bin/python3'];

export type Found = { readonly python: string } | { readonly skipped: string };

/** The interpreter for the PyTorch rows: `python` if given (`--python`; it must import torch), else the first of PYTHONS that can. */
export function findTorchPython(python?: string): Found {
  for (const p of python === undefined ? PYTHONS : [python]) {
    const r = spawnSync(p, ['-c', 'import torch, numpy'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { python: p };
    if (python !== undefined) {
      const why = r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit ${r.status}`);
      throw new OptionError(`--python ${python}: cannot import torch and numpy (${why})`);
    }
  }
  return {
    skipped: `no python that can import torch and numpy (tried ${PYTHONS.join(', ')}; e.g. apt-get install -y python3-torch libopenblas0-pthread, or name one with --python)`,
  };
}

export interface TorchInfo {
  readonly name: string;
  readonly torch: string;
  readonly threads: number;
  readonly blas: string;
}

/** A running reference script; the row's steps are its SGD steps at batch 64. */
export async function torchRow(python: string, script: 'mlp' | 'convnet'): Promise<Row & { readonly info: TorchInfo }> {
  const file = fileURLToPath(new URL(`../../bench/reference/${script}.py`, import.meta.url));
  const child: ChildProcessWithoutNullStreams = spawn(python, [file, '--serve'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const { value, done } = await lines.next();
    if (done === true) throw new Error(`${script}.py ended: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return JSON.parse(value as string) as Record<string, unknown>;
  };
  const info = (await next()) as unknown as TorchInfo;
  return {
    info,
    samplesPerStep: 64,
    async run(steps) {
      child.stdin.write(`run ${steps}\n`);
      const r = await next();
      return { seconds: r.seconds as number, stepMs: r.stepMs as number[] };
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      await exited;
    },
  };
}
