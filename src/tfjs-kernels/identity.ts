import type * as tf from '@tensorflow/tfjs';

/**
 * Identity on wasm, for every dtype but string: where the stock kernel copies x
 * into a new heap buffer, a second reference to x's. The engine calls Identity
 * for every tensor it saves for the backward pass (tf.clone inside the
 * gradient tape), so in training the stock kernel copied each layer's
 * activations, several times: on the convnet's first layer three
 * (64, 24, 24, 8) copies per step.
 *
 * Note [shared, not copied]: tfjs tensors are immutable, so a clone can be the
 * same memory with one more reference, as the stock Reshape (and the cpu
 * backend's Identity) do: backend.incRef, public KernelBackend API. The memory
 * is freed when the last tensor on it is disposed. Strings go to the stock
 * kernel: the engine counts a string tensor's bytes per tensor, and a shared
 * one would be subtracted twice from tf.memory(). Checked by
 * `npx vitest run test/shared-saves.test.ts`.
 */
export function identityShared({ inputs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const { x } = inputs as Record<'x', tf.TensorInfo>;
  return shared(x, backend as tf.KernelBackend);
}

/**
 * Cast to the dtype x already has, shared the same way (the stock kernel copies):
 * the gradient of a ReLU casts its step (float32) to float32, a copy of every
 * ReLU layer's activations per training step. Other casts: stock.
 */
export function castSameDtype({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const { x } = inputs as Record<'x', tf.TensorInfo>;
  return (attrs as unknown as tf.CastAttrs).dtype === x.dtype ? shared(x, backend as tf.KernelBackend) : undefined;
}

/** A second reference to x's memory (Note [shared, not copied]); undefined for strings. */
function shared(x: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo | undefined {
  if (x.dtype === 'string') return undefined;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
