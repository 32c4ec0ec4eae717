// The Python interpreter for the tests that use a real Python tool as their oracle or
// reader (PyTorch, TensorBoard): WORKER_DDP_PYTHON, else the repository's .venv (which
// .ci/run creates), else python3, the first that imports every module asked for.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';

const VENV = fileURLToPath(new URL('../.venv/bin/python', import.meta.url));

/** The interpreter that imports `modules`, or why there is none. */
export function findPython(modules: readonly string[]): { python: string } | { missing: string } {
  const candidates = [process.env.WORKER_DDP_PYTHON, existsSync(VENV) ? VENV : undefined, 'python3'];
  for (const python of candidates) {
    if (python === undefined || python === '') continue;
    const r = spawnSync(python, ['-c', modules.map((m) => `import ${m}`).join('; ')], { timeout: 60_000 });
    if (r.status === 0) return { python };
  }
  return {
    missing: `no Python with ${modules.join(' and ')} (set WORKER_DDP_PYTHON, or run .ci/run, which makes .venv)`,
  };
}

/**
 * Where the interpreter is missing: under CI=true a failing test (.ci/run installs it, and a
 * skip there would go unnoticed), elsewhere a skip saying why. Returns the interpreter, if any.
 */
export function pythonOrReport(modules: readonly string[]): string | undefined {
  const found = findPython(modules);
  if ('python' in found) return found.python;
  if (process.env.CI === 'true') {
    it(`a Python with ${modules.join(' and ')} is installed (CI=true: .ci/run makes .venv)`, () => {
      throw new Error(found.missing);
    });
  } else it.skip(`skipped: ${found.missing}`, () => {});
  return undefined;
}
