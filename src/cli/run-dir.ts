import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mkdirp } from '../io/dirs.js';
import { MODEL_JSON } from '../io/model-file.js';
import { OptionError } from '../options.js';

/** The folders makeDir created, in order (Note [no empty run folders]). */
const made: string[] = [];

/** Creates `dir` and its parents for `flag`; a one-line OptionError when it is a file or cannot be made. */
export function makeDir(flag: string, dir: string): string {
  if (!existsSync(dir)) made.push(dir);
  try {
    mkdirp(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const isFile = code === 'EEXIST' || code === 'ENOTDIR';
    throw new OptionError(
      isFile
        ? `${flag} ${dir}: is a file or lies under one, not a folder`
        : `${flag} ${dir}: cannot create the folder (${code ?? String(err)})`,
    );
  }
  if (!statSync(dir).isDirectory()) throw new OptionError(`${flag} ${dir}: is not a folder`);
  return dir;
}

/** A new, empty folder `root/<UTC time>`, e.g. runs/YYYY-MM-DDTHH-MM-SSZ; `-2`, `-3`, ... when runs start within one second. */
export function newRunDir(root = 'runs'): string {
  makeDir('--out', root);
  const stamp = `${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}Z`;
  for (let n = 1; ; n++) {
    const dir = join(root, n === 1 ? stamp : `${stamp}-${n}`);
    try {
      mkdirSync(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * The run folder under `root` whose model.json was written last (every finished training run
 * saves its model into its folder), or undefined when no run holds a model.
 */
export function newestRunModel(root = 'runs'): string | undefined {
  let best: { dir: string; time: number } | undefined;
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return undefined;
  }
  for (const name of names) {
    const file = join(root, name, MODEL_JSON);
    if (!existsSync(file)) continue;
    const time = statSync(file).mtimeMs;
    if (best === undefined || time > best.time) best = { dir: join(root, name), time };
  }
  return best?.dir;
}

/**
 * Note [no empty run folders]: a run that ends before it trains (a bad input
 * found after its folders were made, Ctrl-C while it reads the data) removes the
 * folders it created that are still empty, newest first, so runs/ keeps no empty
 * run folder; a folder holding anything (a checkpoint, metrics, events) stays.
 * Re-check: npx vitest run test/cli-model.test.ts -t "no run folder".
 */
export function removeEmptyMade(): void {
  for (const dir of made.splice(0).reverse()) {
    try {
      rmdirSync(dir);
    } catch {
      // not empty, or gone: it stays as it is
    }
  }
}
