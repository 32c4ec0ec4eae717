import type * as tf from '@tensorflow/tfjs';
import { OptionError } from '../errors.js';

/** Log values by name, as tfjs passes them to callbacks (numbers: already resolved). */
export type Logs = Record<string, number>;

/** A tfjs callback: an object of hooks (tf.CustomCallbackArgs) or a tf.Callback such as tf.callbacks.earlyStopping(). */
export interface Callback {
  onTrainBegin?(logs?: Logs): unknown;
  onTrainEnd?(logs?: Logs): unknown;
  onEpochBegin?(epoch: number, logs?: Logs): unknown;
  onEpochEnd?(epoch: number, logs?: Logs): unknown;
  onBatchBegin?(batch: number, logs?: Logs): unknown;
  onBatchEnd?(batch: number, logs?: Logs): unknown;
  setModel?(model: tf.LayersModel): void;
  setParams?(params: object): void;
}

const HOOKS = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'] as const;

/**
 * The user's callbacks, called as model.fit calls them, with tfjs's log names.
 * Note [batch callbacks]: workers run a whole epoch per task unless a callback
 * listens to batches; then they run one step per task (~0.1 ms of dispatch each),
 * so onBatchEnd sees each batch as it ends and can stop training there.
 * A callback stops training as in tfjs, by setting model.stopTraining = true
 * (tf.callbacks.earlyStopping does).
 */
export class Callbacks {
  private readonly list: readonly Callback[];

  constructor(
    callbacks: Callback | readonly Callback[] | undefined,
    private readonly model: tf.LayersModel,
  ) {
    const list = callbacks === undefined ? [] : Array.isArray(callbacks) ? (callbacks as readonly Callback[]) : [callbacks as Callback];
    list.forEach((c, i) => {
      if (typeof c !== 'object' || c === null) throw new OptionError(`callbacks[${i}] must be an object of hooks (onEpochEnd, ...) or a tf.Callback`);
      for (const h of HOOKS) {
        if (c[h] !== undefined && typeof c[h] !== 'function') throw new OptionError(`callbacks[${i}].${h} must be a function`);
      }
      c.setModel?.(model);
    });
    this.list = list;
    model.stopTraining = false;
  }

  get wantsBatches(): boolean {
    return this.list.some((c) => c.onBatchEnd !== undefined || c.onBatchBegin !== undefined);
  }

  stopRequested(): boolean {
    return this.model.stopTraining;
  }

  setParams(params: object): void {
    for (const c of this.list) c.setParams?.(params);
  }

  async onTrainBegin(logs: Logs): Promise<void> {
    for (const c of this.list) await c.onTrainBegin?.(logs);
  }

  async onTrainEnd(logs: Logs): Promise<void> {
    for (const c of this.list) await c.onTrainEnd?.(logs);
  }

  async onEpochBegin(epoch: number, logs: Logs): Promise<void> {
    for (const c of this.list) await c.onEpochBegin?.(epoch, logs);
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    for (const c of this.list) await c.onEpochEnd?.(epoch, logs);
  }

  async onBatchBegin(batch: number, logs: Logs): Promise<void> {
    for (const c of this.list) await c.onBatchBegin?.(batch, logs);
  }

  async onBatchEnd(batch: number, logs: Logs): Promise<void> {
    for (const c of this.list) await c.onBatchEnd?.(batch, logs);
  }
}
