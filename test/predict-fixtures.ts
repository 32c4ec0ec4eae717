// Shared by the predict, model-io, json, plots, cli-faults, trace and fashion tests: a small
// MNIST folder, the compiled CLIs run as a person runs them (or started and signalled), and PNG headers.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const TRAIN = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
export const PREDICT = fileURLToPath(new URL('../dist/src/cli/predict.js', import.meta.url));

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The child's environment: this one, NO_COLOR, no fault injection unless `extra` asks for it. */
function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
  if (extra.WORKER_DDP_FAULTS === undefined) delete env.WORKER_DDP_FAULTS;
  return env;
}

/**
 * Runs a compiled CLI with `cwd` as the current folder (default output folders land there); stdout is a pipe, not a terminal.
 * `env` adds variables (e.g. WORKER_DDP_FAULTS) to this process's environment.
 */
export function runCli(
  script: string,
  args: readonly string[],
  cwd: string,
  env?: Readonly<Record<string, string>>,
): Run {
  const r = spawnSync(process.execPath, [script, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    env: childEnv(env),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** How a child started with startCli ended. */
export interface Ended extends Run {
  readonly signal: NodeJS.Signals | null;
  /** Date.now() when it exited. */
  readonly at: number;
}

/** A running CLI child: its output so far, a way to wait for a line, and its end. */
export interface LiveCli {
  readonly child: ChildProcessWithoutNullStreams;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves once `stream`'s output so far matches `pattern`; rejects if the child ends first or `timeoutMs` passes. */
  readonly waitFor: (stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs?: number) => Promise<void>;
  readonly ended: Promise<Ended>;
}

/** Starts a compiled CLI without waiting for it (stdio piped); killed with SIGKILL after `killAfterMs`. */
export function startCli(
  script: string,
  args: readonly string[],
  cwd: string,
  env?: Readonly<Record<string, string>>,
  killAfterMs = 120_000,
): LiveCli {
  const child = spawn(process.execPath, [script, ...args], { cwd, env: childEnv(env), stdio: 'pipe' });
  const out = { stdout: '', stderr: '' };
  const waiters = new Set<() => void>();
  let done = false;
  const poke = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out.stdout += d;
    poke();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    out.stderr += d;
    poke();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  const ended = new Promise<Ended>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(killer);
      done = true;
      poke();
      resolve({ status, signal, stdout: out.stdout, stderr: out.stderr, at: Date.now() });
    });
  });
  const waitFor = (stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs = 60_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (pattern.test(out[stream])) finish();
        else if (done)
          finish(
            new Error(
              `the CLI ended before ${stream} matched ${pattern}; stdout:\n${out.stdout}\nstderr:\n${out.stderr}`,
            ),
          );
      };
      const timer = setTimeout(
        () =>
          finish(
            new Error(
              `${stream} did not match ${pattern} within ${timeoutMs} ms; stdout:\n${out.stdout}\nstderr:\n${out.stderr}`,
            ),
          ),
        timeoutMs,
      );
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        waiters.delete(check);
        if (err === undefined) resolve();
        else reject(err);
      };
      waiters.add(check);
      check();
    });
  return { child, stdout: () => out.stdout, stderr: () => out.stderr, waitFor, ended };
}

/** A dataset folder `dir` with the first `train` and `test` samples of the real MNIST. */
export { smallMnistDir as smallMnist } from './helpers.js';

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
