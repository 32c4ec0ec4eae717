import * as tf from '@tensorflow/tfjs';

/**
 * The one module that uses tfjs-core's engine internals (Engine.clone,
 * makeTensorFromTensorInfo, addTapeNode, state.activeScope; @tensorflow/tfjs
 * 4.22.0 exactly, pinned in package.json). test/shared-saves.test.ts fails
 * loudly if they change; without them the engine stays stock.
 *
 * Note [saves without a kernel]: for every tensor a gradient will need (a
 * conv's input, a ReLU's output, ...) the engine saves a clone, and
 * Engine.clone runs the Identity kernel through the whole kernel path
 * (registry lookup, scopes, profiler checks) to make it. On wasm our Identity
 * is already a second reference to the same memory (Note [shared, not copied]
 * in tfjs-kernels/identity.ts), so all that path buys is its cost: the
 * convnet's step at 32 samples made 28 such clones out of 123 kernels. Here
 * the clone is that second reference made directly, with the same tape node
 * as the engine's own (its gradient a float32 cast of dy), so first- and
 * higher-order gradients, tf.memory() and tidy scopes are as before.
 * Measured (scratch A/B: one thread, the stock clone and this swapped between
 * blocks of 300 steps, 12-20 pairs, 2026-11-29): the convnet's step at 32
 * samples 1.015-1.071x as fast over five runs (median 1.05x), the generic
 * MLP's 1.074x and 1.102x.
 *
 * Only on the wasm backend and for dtypes but string (whose bytes the engine
 * counts per tensor); everything else goes to the engine's own clone.
 */
interface EngineInternals {
  clone(x: tf.Tensor): tf.Tensor;
  makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
  addTapeNode(name: string, inputs: Record<string, tf.Tensor>, outputs: tf.Tensor[], grad: (dy: tf.Tensor) => Record<string, () => tf.Tensor>, saved: tf.Tensor[], attrs: object): void;
  backendName: string | null;
  backend: tf.KernelBackend;
  state: { activeScope: { name: string } };
}

const engineProto = Object.getPrototypeOf(tf.engine()) as EngineInternals;
const stockClone = engineProto.clone;

/**
 * Whether the engine is the one this module was written against: the methods it
 * calls exist, and the stock clone is the Identity kernel plus the tape node
 * sharedClone replicates.
 */
export function engineHasSharedSaves(): boolean {
  const e = tf.engine() as unknown as Partial<EngineInternals>;
  const source = typeof stockClone === 'function' ? stockClone.toString() : '';
  return (
    typeof e.makeTensorFromTensorInfo === 'function' &&
    typeof e.addTapeNode === 'function' &&
    /runKernel\(Identity, \{ x(?:: x)? \}\)/.test(source) && // the ES5 and ES2017 bundles
    /addTapeNode\(this\.state\.activeScope\.name, inputs, \[y\], grad, saved, \{\}\)/.test(source) &&
    /runKernel\(Cast, gradInputs/.test(source)
  );
}

function sharedClone(this: EngineInternals, x: tf.Tensor): tf.Tensor {
  if (this.backendName !== 'wasm' || x.dtype === 'string') return stockClone.call(this, x);
  this.backend.incRef(x.dataId);
  const y = this.makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype });
  this.addTapeNode(this.state.activeScope.name, { x }, [y], (dy) => ({ x: () => tf.cast(dy, 'float32') }), [], {});
  return y;
}

/** Saves tensors for the backward pass without a kernel (Note [saves without a kernel]); false stays stock. */
export function shareSavedTensors(enabled = true): boolean {
  if (!engineHasSharedSaves()) return false;
  engineProto.clone = enabled ? sharedClone : stockClone;
  return enabled;
}
