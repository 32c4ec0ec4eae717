import * as tf from '@tensorflow/tfjs';
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
type Hook = (typeof HOOKS)[number];

/** What runs around the hooks of one event, when some callback listens to it (live-model.ts). */
export interface Sync {
  /** Before the first listener. */
  before(): Promise<void>;
  /** After the last listener. */
  after(): void;
}

/** Where a tf.CustomCallback (model.fit's wrapper of an object of hooks) keeps each of the user's hooks. */
const CUSTOM_FIELDS: Readonly<Record<Hook, string>> = {
  onTrainBegin: 'trainBegin',
  onTrainEnd: 'trainEnd',
  onEpochBegin: 'epochBegin',
  onEpochEnd: 'epochEnd',
  onBatchBegin: 'batchBegin',
  onBatchEnd: 'batchEnd',
};

/**
 * Does `c` listen to `hook`? A tf.Callback inherits a no-op for every hook, and a
 * tf.CustomCallback defines every hook to call the user's, if given: neither counts.
 */
function listens(c: Callback, hook: Hook): boolean {
  if (c instanceof tf.CustomCallback) return (c as unknown as Record<string, unknown>)[CUSTOM_FIELDS[hook]] != null;
  const h = c[hook];
  return typeof h === 'function' && h !== (tf.Callback.prototype as Callback)[hook];
}

/**
 * The user's callbacks, called as model.fit calls them, with tfjs's log names;
 * around each event some callback listens to, the Sync (the live model).
 * Note [batch callbacks]: workers run a whole epoch per task unless a callback
 * listens to batches; then they run one step per task (one round trip to the
 * pool each), so onBatchEnd sees each batch as it ends and can stop training there.
 * A callback stops training as in tfjs, by setting model.stopTraining = true
 * (tf.callbacks.earlyStopping does).
 */
export class Callbacks {
  private readonly list: readonly Callback[];
  private sync: Sync | undefined;

  constructor(
    callbacks: Callback | readonly Callback[] | undefined,
    private readonly model: tf.LayersModel,
  ) {
    const list =
      callbacks === undefined
        ? []
        : Array.isArray(callbacks)
          ? (callbacks as readonly Callback[])
          : [callbacks as Callback];
    list.forEach((c, i) => {
      if (typeof c !== 'object' || c === null)
        throw new OptionError(`callbacks[${i}] must be an object of hooks (onEpochEnd, ...) or a tf.Callback`);
      for (const h of HOOKS) {
        if (c[h] !== undefined && typeof c[h] !== 'function')
          throw new OptionError(`callbacks[${i}].${h} must be a function`);
      }
      c.setModel?.(model);
    });
    this.list = list;
    model.stopTraining = false;
  }

  /** Runs `sync` around every event from now on. */
  bind(sync: Sync): void {
    this.sync = sync;
  }

  get wantsBatches(): boolean {
    return this.list.some((c) => listens(c, 'onBatchEnd') || listens(c, 'onBatchBegin'));
  }

  stopRequested(): boolean {
    return this.model.stopTraining;
  }

  setParams(params: object): void {
    for (const c of this.list) c.setParams?.(params);
  }

  async onTrainBegin(logs: Logs): Promise<void> {
    await this.run('onTrainBegin', (c) => c.onTrainBegin?.(logs));
  }

  async onTrainEnd(logs: Logs): Promise<void> {
    await this.run('onTrainEnd', (c) => c.onTrainEnd?.(logs));
  }

  async onEpochBegin(epoch: number, logs: Logs): Promise<void> {
    await this.run('onEpochBegin', (c) => c.onEpochBegin?.(epoch, logs));
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    await this.run('onEpochEnd', (c) => c.onEpochEnd?.(epoch, logs));
  }

  async onBatchBegin(batch: number, logs: Logs): Promise<void> {
    await this.run('onBatchBegin', (c) => c.onBatchBegin?.(batch, logs));
  }

  async onBatchEnd(batch: number, logs: Logs): Promise<void> {
    await this.run('onBatchEnd', (c) => c.onBatchEnd?.(batch, logs));
  }

  private async run(hook: Hook, call: (c: Callback) => unknown): Promise<void> {
    const listeners = this.list.filter((c) => listens(c, hook));
    if (listeners.length === 0) return;
    await this.sync?.before();
    for (const c of listeners) await call(c);
    this.sync?.after();
  }
}
