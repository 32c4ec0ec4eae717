import * as tf from '@tensorflow/tfjs';
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

async function tryBackend(name: BackendName): Promise<boolean> {
  try {
    if (name === 'tensorflow') {
      const optional = '@tensorflow/tfjs-node'; // not a literal: the optional package has no types to resolve
      await import(optional);
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
    }
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/** Initialises this thread's tfjs engine and returns the backend it got; throws when an explicitly requested one fails. */
export async function initBackend(request: BackendRequest): Promise<BackendName> {
  // PROD only silences tfjs warnings (4.22 source; no measurable speed effect), e.g. the cpu
  // backend's "install tfjs-node" banner, printed once per worker; the run reports its backend itself.
  tf.env().set('PROD', true);
  const order: BackendName[] = request === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [request];
  for (const name of order) {
    if (await tryBackend(name)) {
      await tf.ready();
      // Every thread on wasm gets the training kernels the stock backend lacks (src/tfjs-kernels/).
      if (name === 'wasm') registerWasmTrainingKernels();
      return name;
    }
  }
  throw new Error(
    request === 'tensorflow'
      ? 'backend tensorflow: @tensorflow/tfjs-node is not installed or its native library failed to load'
      : `backend ${request} could not be initialised`,
  );
}
