import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p`: creates the folder `dir` and whichever of its parents are
 * missing. Throws the errno error of the first mkdir that fails: EEXIST when a
 * file is in the way, ENOENT, EACCES, ... otherwise.
 *
 * Note [bounded mkdir -p]: Node 20's mkdirSync(dir, { recursive: true }) never
 * returns for a path under /proc: mkdir there answers ENOENT although the
 * parent exists, and Node then makes the parent (EEXIST, fine) and retries the
 * child, forever. Here the missing folders are found first, walking up to the
 * first one that exists, and each is made once, top down: at most one mkdir
 * per component of the path, whatever the file system answers.
 */
export function mkdirp(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !isFolder(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break; // the root itself is missing: let its mkdir say why
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      // Made meanwhile by another process: fine, if it is a folder.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !isFolder(d)) throw err;
    }
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // missing, or not reachable (ENOTDIR, EACCES): the mkdir below will tell
  }
}
