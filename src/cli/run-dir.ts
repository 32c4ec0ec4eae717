import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { mkdirp } from '../io/dirs.js';
import { MODEL_JSON } from '../io/model-file.js';
import { OptionError } from '../options.js';

/** The folders makeDir and newRunDir created, parents first (Note [no empty run folders]). */
const made: string[] = [];

/** Records in `made` the folders that creating `dir` will make: it and its missing parents, parents first. */
function recordMissing(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
  made.push(...missing);
}

/** Creates `dir` and its parents for `flag`; a one-line OptionError when it is a file or cannot be made. */
export function makeDir(flag: string, dir: string): string {
  recordMissing(dir);
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
      made.push(resolve(dir));
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
  for (const file of madeFiles.splice(0)) if (statSync(file, { throwIfNoEntry: false })?.size === 0) rmSync(file);
  for (const dir of made.splice(0).reverse()) {
    try {
      rmdirSync(dir);
    } catch {
      // not empty, or gone: it stays as it is
    }
  }
}

/** Files made empty ahead of the run (--profile's, to fail early when it cannot be written). */
const madeFiles: string[] = [];

/** Creates `file` (and its folder) empty, unless it exists, for `flag`; a one-line OptionError when it cannot be written. */
export function makeFile(flag: string, file: string): void {
  recordMissing(dirname(file));
  if (!existsSync(file)) madeFiles.push(resolve(file));
  try {
    mkdirp(dirname(file));
    closeSync(openSync(file, 'a'));
  } catch (err) {
    throw new OptionError(
      `${flag}: cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}
