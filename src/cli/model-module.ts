import { existsSync } from 'node:fs';
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
    throw new OptionError(`--model ${file}: loading the module failed: ${firstLine(err)}`);
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

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (no default export)';
  if (v === null) return 'null';
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'Object'})`;
  return typeof v;
}
