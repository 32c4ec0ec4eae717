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
  /**
   * `false` declares that this callback's onBatchBegin and onBatchEnd use only their
   * arguments (batch, logs) and, of the model, at most set model.stopTraining: fitParallel
   * then need not keep the model live for them (Note [batch callbacks]). Its other hooks
   * see the live model still. Plain model.fit ignores the field.
   */
  readonly readsModelInBatchHooks?: boolean;
}

/**
 * What the callbacks' batch hooks need of a fit: 'none': no callback listens to batches;
 * 'logs': all that listen declare readsModelInBatchHooks = false; 'live': one may read the model.
 */
export type BatchHooks = 'none' | 'logs' | 'live';

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

/** Does `c` listen to onBatchBegin or onBatchEnd? */
function listensToBatches(c: Callback): boolean {
  return listens(c, 'onBatchBegin') || listens(c, 'onBatchEnd');
}

/**
 * The user's callbacks, called as model.fit calls them, with tfjs's log names;
 * around each event some callback listens to, the Sync (the live model).
 * Note [batch callbacks]: workers run a whole epoch per task unless a callback
 * listens to batches (batchHooks). When one that listens may read the model
 * ('live'), they run one step per task (one round trip to the pool each), with the
 * model synced before each batch hook, so onBatchEnd sees each batch as it ends and
 * can stop training there. When all that listen declare readsModelInBatchHooks =
 * false ('logs': tensorBoard(), a progress bar, a logger), they run chunks of steps
 * and the batch hooks of a chunk run after it, unsynced (Note [logs-only chunks] in
 * chunks.ts). A tf.CustomCallback declares it with the field set on the instance
 * (Object.assign); tfjs's own tf.callbacks.earlyStopping has epoch hooks only. A callback
 * stops training as in tfjs, by setting model.stopTraining = true (earlyStopping does).
 */
export class Callbacks {
  private readonly list: readonly Callback[];
  private sync: Sync | undefined;
  /** The scalar epoch logs of tf.Callback subclasses, until training ends (Note [scalar logs]). */
  private readonly epochScalars: tf.Scalar[] = [];
  readonly batchHooks: BatchHooks;

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
      if (c.readsModelInBatchHooks !== undefined && typeof c.readsModelInBatchHooks !== 'boolean')
        throw new OptionError(`callbacks[${i}].readsModelInBatchHooks must be a boolean`);
      c.setModel?.(model);
    });
    this.list = list;
    const batches = list.filter(listensToBatches);
    this.batchHooks =
      batches.length === 0 ? 'none' : batches.every((c) => c.readsModelInBatchHooks === false) ? 'logs' : 'live';
    model.stopTraining = false;
  }

  /** Runs `sync` around every event from now on. */
  bind(sync: Sync): void {
    this.sync = sync;
  }

  stopRequested(): boolean {
    return this.model.stopTraining;
  }

  setParams(params: object): void {
    for (const c of this.list) c.setParams?.(params);
  }

  async onTrainBegin(logs: Logs): Promise<void> {
    await this.run('onTrainBegin', logs, (c, l) => c.onTrainBegin?.(l));
  }

  async onTrainEnd(logs: Logs): Promise<void> {
    await this.run('onTrainEnd', logs, (c, l) => c.onTrainEnd?.(l));
    tf.dispose(this.epochScalars.splice(0));
  }

  async onEpochBegin(epoch: number, logs: Logs): Promise<void> {
    await this.run('onEpochBegin', logs, (c, l) => c.onEpochBegin?.(epoch, l));
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    await this.run('onEpochEnd', logs, (c, l) => c.onEpochEnd?.(epoch, l));
  }

  /** Batch hooks run without the Sync when batchHooks is 'logs'. */
  async onBatchBegin(batch: number, logs: Logs): Promise<void> {
    await this.run('onBatchBegin', logs, (c, l) => c.onBatchBegin?.(batch, l), this.batchHooks === 'live');
  }

  async onBatchEnd(batch: number, logs: Logs): Promise<void> {
    await this.run('onBatchEnd', logs, (c, l) => c.onBatchEnd?.(batch, l), this.batchHooks === 'live');
  }

  private async run(hook: Hook, logs: Logs, call: (c: Callback, logs: Logs) => unknown, synced = true): Promise<void> {
    const listeners = this.list.filter((c) => listens(c, hook));
    if (listeners.length === 0) return;
    if (synced) await this.sync?.before();
    for (const c of listeners) {
      if (!takesTensors(c)) {
        await call(c, logs);
        continue;
      }
      const scalars = asScalars(logs);
      await call(c, scalars as unknown as Logs);
      // Note [scalar logs]: as tfjs, a batch's are disposed after its hooks, an epoch's once training ends.
      if (hook === 'onEpochEnd') this.epochScalars.push(...Object.values(scalars).filter(isTensor));
      else tf.dispose(Object.values(scalars).filter(isTensor));
    }
    if (synced) this.sync?.after();
  }
}

/**
 * Note [scalar logs]: tfjs's fit hands a tf.Callback subclass its logs as
 * tf.Scalars (batch and size as numbers), and an object of hooks, which it wraps
 * in a tf.CustomCallback, numbers: so does this. tfjs's own callbacks
 * (earlyStopping) resolve them with resolveScalarsInLogs. A subclass written for
 * model.fit reads `await logs.loss.data()`; test/fit-contract.test.ts runs one.
 */
function takesTensors(c: Callback): boolean {
  return c instanceof tf.Callback && !(c instanceof tf.CustomCallback);
}

/** `logs` with each value but batch and size as a tf.Scalar. */
function asScalars(logs: Logs): Record<string, number | tf.Scalar> {
  return Object.fromEntries(
    Object.entries(logs).map(([k, v]) => [k, k === 'batch' || k === 'size' ? v : tf.scalar(v)]),
  );
}

function isTensor(v: number | tf.Scalar): v is tf.Scalar {
  return v instanceof tf.Tensor;
}
