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
 * in tfjs-kernels/identity.ts), so all that path buys is its cost: a large
 * share of an autograd step's kernels are such clones. Decision: the clone is
 * that second reference made directly, with the same tape node as the
 * engine's own (its gradient a float32 cast of dy). Invariant: first- and
 * higher-order gradients, tf.memory() and tidy scopes are as before
 * (test/shared-saves.test.ts). It gains a few percent of an autograd step
 * (docs/performance.md), measured as an A/B of the stock clone and this; no
 * bench command runs that A/B yet (`npm run bench:replica` times autograd's
 * step with it).
 *
 * Only on the wasm backend and for dtypes but string (whose bytes the engine
 * counts per tensor); everything else goes to the engine's own clone.
 */
interface EngineInternals {
  clone(x: tf.Tensor): tf.Tensor;
  makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
  addTapeNode(
    name: string,
    inputs: Record<string, tf.Tensor>,
    outputs: tf.Tensor[],
    grad: (dy: tf.Tensor) => Record<string, () => tf.Tensor>,
    saved: tf.Tensor[],
    attrs: object,
  ): void;
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
