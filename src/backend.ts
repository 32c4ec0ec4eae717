import * as tf from '@tensorflow/tfjs';
import { shareSavedTensors } from './tfjs-kernels/shared-saves.js';
import { registerWasmTrainingKernels } from './tfjs-kernels/register.js';

/** What the user asks for; `auto` takes tfjs-node when it loads, else wasm, else cpu. */
export type BackendRequest = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendName = Exclude<BackendRequest, 'auto'>;
export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/**
 * Note [one core per worker]: each worker thread owns one core, so no backend
 * may start threads of its own.
 * - wasm: tfjs 4.22 never loads its threaded build in Node
 *   (WASM_HAS_MULTITHREAD_SUPPORT is false there): single-threaded by construction.
 * - cpu: pure JS, single-threaded.
 * - tensorflow (tfjs-node): libtensorflow sizes its thread pools from
 *   TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS (and oneDNN from
 *   OMP_NUM_THREADS), read with getenv when it loads. A worker thread's
 *   process.env is a private copy, so these must be set on the main thread before
 *   the pool starts: limitNativeThreads() does that, unless the user set them.
 *   Unverified here: tfjs-node cannot install on our machines.
 */
export function limitNativeThreads(): void {
  for (const v of ['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'OMP_NUM_THREADS']) process.env[v] ??= '1';
}

/**
 * Note [native stand-in]: a testing hook. tfjs-node cannot install on our
 * machines, so the fallback from it (Trainer.create, Note [auto never breaks a
 * run]) is tested with a stand-in: with WORKER_DDP_NATIVE_STANDIN=1 in the
 * environment, "loading tfjs-node" loads tfjs's cpu backend and reports it as
 * 'tensorflow'. A fault {"kind": "native-fail", "rank": r} (faults.ts) makes the
 * native backend fail to load in worker r, as upstream reports it failing in a
 * second worker thread (tensorflow/tfjs#8388). Run: `npx vitest run
 * test/backend-fallback.test.ts`.
 */
export const NATIVE_STANDIN_ENV = 'WORKER_DDP_NATIVE_STANDIN';

/** Why this thread cannot use tfjs-node, or undefined once it is the engine's backend. */
async function loadNative(injectedFailure: boolean): Promise<Error | undefined> {
  try {
    if (injectedFailure)
      throw new Error("injected fault 'native-fail': the native backend failed to load in this thread");
    if (process.env[NATIVE_STANDIN_ENV] === '1')
      return (await tf.setBackend('cpu')) ? undefined : new Error('the stand-in (cpu) did not start');
    const optional = '@tensorflow/tfjs-node'; // not a literal: the optional package has no types to resolve
    await import(optional);
    return (await tf.setBackend('tensorflow'))
      ? undefined
      : new Error('tfjs-node loaded but its backend did not start');
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

async function tryBackend(name: Exclude<BackendName, 'tensorflow'>): Promise<boolean> {
  try {
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/**
 * Initialises this thread's tfjs engine and returns the backend it got; throws when an
 * explicitly requested one fails (for tensorflow, with the loader's own error).
 * `nativeFails` is the testing hook of Note [native stand-in].
 */
export async function initBackend(request: BackendRequest, nativeFails = false): Promise<BackendName> {
  // PROD only silences tfjs warnings (4.22 source; no measurable speed effect), e.g. the cpu
  // backend's "install tfjs-node" banner, printed once per worker; the run reports its backend itself.
  tf.env().set('PROD', true);
  if (request === 'auto' || request === 'tensorflow') {
    const why = await loadNative(nativeFails);
    if (why === undefined) {
      await tf.ready();
      return 'tensorflow';
    }
    if (request === 'tensorflow')
      throw new Error(
        `backend tensorflow: @tensorflow/tfjs-node is not installed or failed to load: ${why.message.split('\n')[0]}`,
      );
  }
  for (const name of request === 'auto' ? (['wasm', 'cpu'] as const) : [request]) {
    if (await tryBackend(name)) {
      await tf.ready();
      // Every thread on wasm gets the training kernels the stock backend lacks (src/tfjs-kernels/)
      // and saves tensors for the backward pass without a kernel (src/tfjs-kernels/).
      if (name === 'wasm') {
        registerWasmTrainingKernels();
        shareSavedTensors();
      }
      return name;
    }
  }
  throw new Error(`backend ${request} could not be initialised`);
}
