// The README against the code: its CLI flag table lists exactly the flags the CLI parses
// (the FLAGS definition in src/cli/args.ts) and --help describes, and its first js/ts code
// block after the two commands, the fitParallel example, runs as written.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { USAGE } from '../dist/src/cli/args.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The README's section under `## title`, up to the next `## ` heading. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${title}" section`);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** The flags named in the first column of the CLI section's table, in order. */
function readmeFlags(): string[] {
  const rows = section('CLI')
    .split('\n')
    .filter((l) => l.startsWith('| `--'));
  return rows.map((l) => /^\| `--([a-z][a-z-]*)/.exec(l)?.[1] ?? l);
}

/** The keys of `const FLAGS = { ... } as const` in src/cli/args.ts: the one flag definition. */
function cliFlags(): string[] {
  const src = readFileSync(join(ROOT, 'src/cli/args.ts'), 'utf8');
  const body = /const FLAGS = \{\n([\s\S]*?)\n\} as const;/.exec(src)?.[1];
  if (body === undefined) throw new Error('src/cli/args.ts: no `const FLAGS = { ... } as const;` found');
  return body.split('\n').map((l) => /^\s*'?([a-z][a-z-]*)'?:/.exec(l)?.[1] ?? `unparsed line: ${l.trim()}`);
}

/** The flags --help describes: lines starting with two spaces and `--name`. */
function usageFlags(): string[] {
  return [...USAGE.matchAll(/^ {2}--([a-z][a-z-]*)/gm)].map((m) => m[1]);
}

describe('README CLI table', () => {
  it('lists every flag the CLI parses, once', () => {
    const readme = readmeFlags();
    expect(new Set(readme).size).toBe(readme.length);
    const missing = cliFlags().filter((f) => !readme.includes(f));
    expect(missing, 'flags the CLI parses that the README table lacks').toEqual([]);
  });

  it('lists no flag the CLI does not parse', () => {
    const cli = cliFlags();
    const extra = readmeFlags().filter((f) => !cli.includes(f));
    expect(extra, 'flags in the README table that the CLI does not parse').toEqual([]);
  });

  it('matches the flags --help describes', () => {
    expect([...usageFlags()].sort()).toEqual([...readmeFlags()].sort());
  });
});

/** The first ```js or ```ts block after the block holding the two commands (`npm ci`, `npm test`). */
function example(): string {
  const commands = README.indexOf('npm test');
  if (commands < 0) throw new Error('README.md does not show `npm test`');
  const m = /```(?:js|ts|javascript|typescript)\n([\s\S]*?)\n```/.exec(README.slice(commands));
  if (m === null) throw new Error('README.md has no js/ts code block after the two commands');
  return m[1];
}

describe('README example', () => {
  it('is the fitParallel example', () => {
    expect(example()).toContain('fitParallel(');
  });

  it('runs as written and exits 0', () => {
    // Inside the package folder, so `import ... from 'worker-ddp'` resolves to this package
    // (its own name, through package.json's exports) and tfjs to its node_modules.
    mkdirSync(join(ROOT, 'scratch'), { recursive: true });
    const dir = mkdtempSync(join(ROOT, 'scratch', 'readme-'));
    try {
      const file = join(dir, 'example.mjs');
      writeFileSync(file, example());
      const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
      expect(
        r.stderr.split('\n').filter((l) => /Error/.test(l)),
        r.stderr,
      ).toEqual([]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('Tensor');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
