import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { OptionError } from '../options.js';

/**
 * `--model FILE`: an ES or CommonJS module whose default export (or
 * module.exports) is a tf.LayersModel, compiled or not, or a function (sync or
 * async) returning one. Every way this can go wrong is one line naming the file.
 */
export async function loadModelModule(file: string): Promise<tf.LayersModel> {
  const path = resolve(file);
  if (!existsSync(path)) throw new OptionError(`--model ${file}: no such file`);
  let exported: unknown;
  try {
    exported = ((await import(pathToFileURL(path).href)) as { default?: unknown }).default;
  } catch (err) {
    throw new OptionError(`--model ${file}: loading the module failed: ${loadFailure(path, err)}`);
  }
  if (typeof exported === 'function' && !(exported.prototype instanceof tf.LayersModel)) {
    try {
      exported = await (exported as () => unknown)();
    } catch (err) {
      throw new OptionError(`--model ${file}: its exported function threw: ${firstLine(err)}`);
    }
  }
  if (!(exported instanceof tf.LayersModel)) {
    throw new OptionError(
      `--model ${file}: the default export (or module.exports) must be a tf.LayersModel or a function returning one, got ${describe(exported)}`,
    );
  }
  return exported;
}

/**
 * Why importing the module at `path` failed, in one line: a syntax error with its
 * line (Node's message has none: `node --check` finds it), a tfjs import that does
 * not resolve with where imports resolve from.
 */
function loadFailure(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof SyntaxError) {
    // `node --check FILE` passes an ambiguous .js file unread: the source goes in as each module type.
    for (const type of ['module', 'commonjs']) {
      const check = spawnSync(process.execPath, [`--input-type=${type}`, '--check'], {
        input: readFileSync(path),
        encoding: 'utf8',
        timeout: 10_000,
      });
      const line = /^\[stdin\]:(\d+)\n/.exec(check.stderr ?? '')?.[1];
      if (line !== undefined && check.stderr.includes(err.message)) return `line ${line}: ${firstLine(err)}`;
    }
    return firstLine(err);
  }
  if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && /'@tensorflow\/tfjs/.test(firstLine(err)))
    return `${firstLine(err)} (a module resolves its imports from its own folder up: put it inside this project, or install tfjs beside it)`;
  return firstLine(err);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (no default export)';
  if (v === null) return 'null';
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'Object'})`;
  return typeof v;
}
