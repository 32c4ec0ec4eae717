import type * as tf from '@tensorflow/tfjs';
import { readFlat } from '../model/flat-weights.js';
import { optimizerFromTfjs } from '../optim/spec.js';
import type { Trainer } from '../trainer/trainer.js';
import type { Sync } from './callbacks.js';
import { writeOptimizerState, type OptimizerStart } from './optimizer-state.js';
import { writeWeights } from './spec.js';

/**
 * The user's model kept live around the callbacks, as under model.fit, where the
 * model IS what trains: before a hook runs, the model holds the weights of that
 * moment; after it, what the hook changed is what training continues from.
 *
 * Note [live model]: before(): the trainer's parameters (and worker 0's
 * non-trainable weights, when the model has any) into the model's variables,
 * skipped when no step ran since the last write. after(): the variables' tfjs
 * data ids against those written: model.setWeights (or any Variable.assign)
 * gives a variable a new one, so an unchanged model costs a comparison, and a
 * changed one's trainable weights go back with Trainer.setParams. The optimizer's
 * hyperparameters are read back too (Trainer.setOptimizer: a no-op when equal).
 * Hooks that no callback defines run neither. Non-trainable weights a callback
 * sets are not sent back: workers keep their own (Note [buffers from rank 0]).
 * `node dist/bench/live-model.js` re-measures the cost per hook. The optimizer's
 * state crosses at the ends only: the trainer starts from model.optimizer's, end()
 * writes the trainer's back (Note [optimizer state across fits] in optimizer-state.ts).
 */
export class LiveModel implements Sync {
  /** The trainer step whose weights the model holds. */
  private at: number;
  private ids: readonly object[];
  /** model.optimizer's updates before the trainer's step 0. */
  private readonly iterations: number;

  /** `model` live around `trainer`, which continues from `start`, model.optimizer's state read before the run. */
  constructor(
    private readonly model: tf.LayersModel,
    private readonly trainer: Trainer,
    start: OptimizerStart,
  ) {
    trainer.setOptimizerState(start.state, start.iterations);
    this.iterations = start.iterations - trainer.stepsDone;
    this.at = trainer.stepsDone; // the model holds the weights training starts from
    this.ids = this.dataIds();
  }

  /** After the run, or its failure: the model holds the trained weights, and model.optimizer the state to continue from. */
  async end(): Promise<void> {
    await this.before();
    const { trainer } = this;
    await writeOptimizerState(
      this.model,
      trainer.options.optimizer,
      trainer.getOptimizerState(),
      this.iterations + trainer.stepsDone,
    );
  }

  async before(): Promise<void> {
    if (this.at === this.trainer.stepsDone) return;
    const nonTrainable =
      this.model.nonTrainableWeights.length > 0 ? await this.trainer.nonTrainable() : new Float32Array(0);
    writeWeights(this.model, this.trainer.getParams(), nonTrainable);
    this.at = this.trainer.stepsDone;
    this.ids = this.dataIds();
  }

  after(): void {
    const ids = this.dataIds();
    if (ids.some((id, i) => id !== this.ids[i])) {
      this.trainer.setParams(readFlat(this.model.trainableWeights.map((w) => w.read())));
      this.ids = ids;
    }
    this.trainer.setOptimizer(optimizerFromTfjs(this.model.optimizer));
  }

  private dataIds(): object[] {
    return this.model.trainableWeights.map((w) => w.read().dataId);
  }
}
