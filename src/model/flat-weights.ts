import * as tf from '@tensorflow/tfjs';

/**
 * Weights as the flat Float32 vectors the machinery moves (layout.ts): a model's
 * variables read end to end, and written back in the same order. Used on both
 * sides: the coordinator reads the user's model and writes the trained weights
 * back (fit/spec.ts); each worker writes the shared parameters into its rebuilt
 * model (layers-replica.ts).
 */
export function readFlat(ts: readonly tf.Tensor[]): Float32Array {
  const out = new Float32Array(ts.reduce((a, t) => a + t.size, 0));
  let o = 0;
  for (const t of ts) {
    out.set(t.dataSync() as Float32Array, o);
    o += t.size;
  }
  return out;
}

/**
 * `values` end to end into `vars`, in order. Copies each piece: the cpu backend
 * keeps the array a tensor is made from, and `values` may be shared memory that
 * changes. Variable.assign skips layer constraints, as tfjs's optimizers do.
 */
export function assignFlat(vars: readonly tf.Variable[], values: Float32Array): void {
  tf.tidy(() => {
    let o = 0;
    for (const v of vars) {
      v.assign(tf.tensor(values.slice(o, o + v.size), v.shape));
      o += v.size;
    }
  });
}

/** A LayersModel's weights as the tf.Variables behind them (LayerVariable.read() is typed as Tensor in 4.22). */
export function variablesOf(weights: readonly { read(): tf.Tensor }[]): tf.Variable[] {
  return weights.map((w) => w.read() as tf.Variable);
}
