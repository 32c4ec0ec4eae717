/**
 * The state model.optimizer carries from one fit to the next, as tfjs keeps it:
 * its count of updates (`iterations`) and its per-weight slots (Adam's m and v,
 * momentum's accumulation, ...), read into the trainer before a run and written
 * back after it, so that fitParallel after fitParallel, or after model.fit,
 * continues where the last one stopped.
 *
 * Note [optimizer state across fits]: tfjs's optimizer.getWeights() lists the
 * count, then each slot vector's variables in model.trainableWeights order (the
 * order model.fit hands them to applyGradients): Adam m then v, RMSProp the mean
 * squares, the moments, then (centered) the mean gradients. That is the flat
 * state's order (stateVectors() vectors of P floats, each weight at its offset in
 * the flat parameters). A fresh optimizer has no slots yet (tfjs makes them at its
 * first update): the trainer's initial state stands. Adam's powers continue from
 * the count (Trainer.setOptimizerState). Written back with setWeights, tfjs's
 * public path, after which tfjs's Adam recomputes its powers with pow() instead
 * of its running product (1e-5 relative at 1000 updates; Note [float32 beta
 * powers] in optim/adam.ts). `npx vitest run test/optimizer-state.test.ts`: two
 * fits in a row equal two model.fit calls.
 */
import * as tf from '@tensorflow/tfjs';
import { OptionError } from '../errors.js';
import { initState, stateVectors, type OptimizerSpec } from '../optim/spec.js';

/** tfjs's slot names, one suffix per state vector in getWeights() order. */
const SLOT_SUFFIXES: Readonly<Record<OptimizerSpec['kind'], readonly string[]>> = {
  sgd: [],
  momentum: ['momentum'],
  adam: ['m', 'v'],
  rmsprop: ['rms', 'momentum', 'mg'],
  adagrad: ['accumulator'],
};

export interface OptimizerStart {
  /** Updates the optimizer has made (tfjs's iterations). */
  readonly iterations: number;
  /** Its slots as the flat state (fresh where it has none yet). */
  readonly state: Float32Array;
}

/** model.optimizer's count and slots; an OptionError where its slots do not fit the model's trainable weights. */
export async function readOptimizerState(model: tf.LayersModel, spec: OptimizerSpec): Promise<OptimizerStart> {
  const weights = model.trainableWeights;
  const P = weights.reduce((a, w) => a + w.read().size, 0);
  const V = stateVectors(spec);
  const state = new Float32Array(V * P);
  initState(spec, state);
  const saved = await model.optimizer.getWeights();
  try {
    const iterations = saved.length === 0 ? 0 : (await saved[0].tensor.data())[0];
    const slots = saved.slice(1);
    if (slots.length === 0) return { iterations, state };
    if (slots.length !== V * weights.length) {
      throw new OptionError(
        `model.optimizer holds ${slots.length} slot variables, the model's ${weights.length} trainable weights need ${V * weights.length} (${V} each): is the optimizer another model's?`,
      );
    }
    let at = 0; // slot j of weight i is slots[j * weights.length + i]; in the state, at j * P + the weight's offset
    for (let j = 0; j < V; j++) {
      for (let i = 0; i < weights.length; i++) {
        const slot = slots[j * weights.length + i];
        const size = weights[i].read().size;
        if (slot.tensor.size !== size) {
          throw new OptionError(
            `model.optimizer's slot ${slot.name} holds ${slot.tensor.size} values, the weight ${weights[i].name} ${size}: is the optimizer another model's?`,
          );
        }
        state.set(await slot.tensor.data(), at);
        at += size;
      }
    }
    return { iterations, state };
  } finally {
    tf.dispose(saved[0]?.tensor); // the count is a fresh scalar; the slots are the optimizer's own
  }
}

/** Writes the trainer's state and count back into model.optimizer, replacing (and disposing) its slots. */
export async function writeOptimizerState(
  model: tf.LayersModel,
  spec: OptimizerSpec,
  state: Float32Array,
  iterations: number,
): Promise<void> {
  const weights = model.trainableWeights;
  const old = await model.optimizer.getWeights();
  const named: { name: string; tensor: tf.Tensor }[] = [{ name: 'iter', tensor: tf.scalar(iterations, 'int32') }];
  let at = 0;
  for (const suffix of SLOT_SUFFIXES[spec.kind].slice(0, stateVectors(spec))) {
    for (const w of weights) {
      const { shape, size } = w.read();
      named.push({ name: `${w.name}/${suffix}`, tensor: tf.tensor(state.subarray(at, at + size), shape) });
      at += size;
    }
  }
  await model.optimizer.setWeights(named); // tfjs makes its variables from these tensors
  tf.dispose([...old.map((w) => w.tensor), ...named.map((w) => w.tensor)]);
}
