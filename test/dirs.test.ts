// mkdirp (src/io/dirs.ts), the one way the library and the CLIs create folders:
// parents made as needed, a file in the way an EEXIST, and every path answered
// at once, /proc included, where Node 20's recursive mkdirSync never returns.
// The /proc cases run in a child process with a deadline, so that a regression
// fails the test instead of hanging it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirp } from '../dist/src/io/dirs.js';

const DIST = fileURLToPath(new URL('../dist/src/', import.meta.url));

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wddp-dirs-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const code = (f: () => void): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
};

describe('mkdirp', () => {
  it('makes a folder and its missing parents; an existing folder is fine', () => {
    const deep = join(tmp, 'a', 'b', 'c');
    mkdirp(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    mkdirp(deep);
    mkdirp(join(tmp, 'a'));
    expect(statSync(deep).isDirectory()).toBe(true);
  });

  it('a file in the way, as the folder or as a parent, is EEXIST; nothing is made under it', () => {
    const file = join(tmp, 'file');
    writeFileSync(file, 'x');
    expect(code(() => mkdirp(file))).toBe('EEXIST');
    expect(code(() => mkdirp(join(file, 'x', 'y')))).toBe('EEXIST');
    expect(statSync(file).isFile()).toBe(true);
  });

  it('a relative path is taken from the current folder', () => {
    const cwd = process.cwd();
    try {
      process.chdir(tmp);
      mkdirp(join('rel', 'x'));
    } finally {
      process.chdir(cwd);
    }
    expect(statSync(join(tmp, 'rel', 'x')).isDirectory()).toBe(true);
  });
});

describe.skipIf(!existsSync('/proc/self'))(
  'under /proc (mkdir answers ENOENT): an error at once, not an endless loop',
  () => {
    /** Runs an ES module body in a fresh node with `dist` bound to dist/src/; killed after 20 s. */
    const inChild = (
      body: string,
    ): { status: number | null; signal: string | null; stdout: string; stderr: string } => {
      const r = spawnSync(
        process.execPath,
        ['--input-type=module', '-e', `const dist = ${JSON.stringify(DIST)};\n${body}`],
        {
          encoding: 'utf8',
          timeout: 20_000,
          killSignal: 'SIGKILL',
        },
      );
      return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    };

    it('mkdirp', () => {
      const r = inChild(`
      const { mkdirp } = await import(dist + 'io/dirs.js');
      for (const d of ['/proc/x', '/proc/x/y/z']) {
        try { mkdirp(d); console.log('made ' + d); } catch (err) { console.log(d + ': ' + err.code); }
      }`);
      expect(r).toEqual({ status: 0, signal: null, stdout: '/proc/x: ENOENT\n/proc/x/y/z: ENOENT\n', stderr: '' });
    });

    it('writeCheckpoint (the library, e.g. Trainer option checkpointDir)', () => {
      const r = inChild(`
      const { writeCheckpoint } = await import(dist + 'checkpoint.js');
      try { writeCheckpoint('/proc/x', { step: 0, paramCount: 1, recipe: { optimizer: { kind: 'sgd', lr: 0.1 } } }, new Float32Array(1), new Float32Array(0)); console.log('written'); } catch (err) { console.log(err.code); }`);
      expect(r).toEqual({ status: 0, signal: null, stdout: 'ENOENT\n', stderr: '' });
    });
  },
);
