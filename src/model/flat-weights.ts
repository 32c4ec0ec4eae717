import * as tf from '@tensorflow/tfjs';
import { currentIo, type TensorIo } from './tensor-io.js';

/**
 * Weights as the flat Float32 vectors the machinery moves (layout.ts): a model's
 * variables read end to end, and written back in the same order. Used on both
 * sides: the coordinator reads the user's model and writes the trained weights
 * back (fit/spec.ts); each worker writes the shared parameters into its rebuilt
 * model (layers-replica.ts).
 */
export function readFlat(ts: readonly tf.Tensor[], io: TensorIo = currentIo()): Float32Array {
  const out = new Float32Array(ts.reduce((a, t) => a + t.size, 0));
  let o = 0;
  for (const t of ts) {
    io.read(t, t.size, out, o);
    o += t.size;
  }
  return out;
}

/**
 * `values` end to end into `vars`, in order, each piece copied into a fresh
 * tensor (`values` may be shared memory that changes).
 * Variable.assign skips layer constraints, as tfjs's optimizers do.
 */
export function assignFlat(vars: readonly tf.Variable[], values: Float32Array, io: TensorIo = currentIo()): void {
  tf.tidy(() => {
    let o = 0;
    for (const v of vars) {
      const piece = values.subarray(o, o + v.size);
      v.assign(io.make(v.shape, (into) => into.set(piece)));
      o += v.size;
    }
  });
}

/** A LayersModel's weights as the tf.Variables behind them (LayerVariable.read() is typed as Tensor in 4.22). */
export function variablesOf(weights: readonly { read(): tf.Tensor }[]): tf.Variable[] {
  return weights.map((w) => w.read() as tf.Variable);
}
