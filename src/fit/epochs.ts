/**
 * The epoch loop that fitParallel and fitDatasetParallel share: an epoch's
 * batches through the Trainer with the callbacks around them, the epoch's
 * logs, and the History, all with tfjs's names and semantics.
 */
import * as tf from '@tensorflow/tfjs';
import type { Evaluation, Trainer } from '../trainer/trainer.js';
import type { Callbacks, Logs } from './callbacks.js';
import type { StepChunks } from './chunks.js';

/** What model.fit resolves with: a tf.History, its values numbers already. */
export interface History<Params = FitParams> {
  readonly epoch: number[];
  readonly history: Record<string, number[]>;
  readonly params: Params;
  /** As tf.History's: resolves at once, every value being a number. */
  syncData(): Promise<void>;
}

/** An empty History for `params`: a tf.History instance, as model.fit's is. */
export function newHistory<Params>(params: Params): History<Params> {
  return Object.assign(new tf.History(), { epoch: [], history: {}, params }) as unknown as History<Params>;
}

/** model.fit's History.params. */
export interface FitParams {
  readonly epochs: number;
  readonly initialEpoch: number;
  readonly samples: number;
  readonly steps: number;
  readonly batchSize: number;
  /** As given (default 1, as model.fit); fitParallel prints nothing. */
  readonly verbose: number;
  readonly doValidation: boolean;
  readonly metrics: string[];
}

/** An epoch's batches as the loop meets them. */
export interface EpochPlan {
  /** Optimizer steps the epoch has, at most. */
  readonly steps: number;
  /**
   * The samples of the epoch's next batch b, before it trains (for onBatchBegin),
   * or undefined where the epoch's data ended before it. A streamed dataset's
   * waits until the batch is loaded, and throws where the dataset failed.
   */
  size(b: number): number | undefined | Promise<number | undefined>;
}

/** An epoch as it ran: its logs (means over samples), its batches, whether its data ended before plan.steps. */
export interface EpochRun {
  readonly logs: Logs;
  readonly batches: number;
  readonly dataEnded: boolean;
}

/**
 * Trains the epoch's batches in the chunks of steps `chunks` gives (Note
 * [logs-only chunks] in chunks.ts), calling onBatchBegin and onBatchEnd around
 * each with tfjs's batch logs, until plan.steps, the end of its data or a stop
 * (model.stopTraining) between chunks (Note [batch callbacks] in callbacks.ts).
 * The logs are tfjs's BaseLogger's: each batch weighed by its size; none when
 * the epoch had no batch.
 */
export async function trainEpoch(
  trainer: Trainer,
  callbacks: Callbacks,
  plan: EpochPlan,
  chunks: StepChunks,
): Promise<EpochRun> {
  const names = ['loss', ...trainer.metricNames];
  const M = trainer.metricNames.length;
  const totals = new Float64Array(names.length);
  let seen = 0;
  let b = 0;
  let dataEnded = false;
  const live = callbacks.batchHooks === 'live'; // a step per task, its first onBatchBegin before it
  for (let step = 0; step < plan.steps && !callbacks.stopRequested();) {
    const chunk = chunks.next(plan.steps - step);
    if (live) {
      const size = await plan.size(b);
      if (size === undefined) {
        dataEnded = true;
        break;
      }
      await callbacks.onBatchBegin(b, { batch: b, size });
    }
    const t0 = performance.now();
    const done = (await trainer.train(chunk)).length;
    chunks.took(done, performance.now() - t0);
    const { losses, metrics, sizes } = trainer.drainBatches();
    for (let j = 0; j < losses.length; j++, b++) {
      const size = sizes[j];
      if (!live || j > 0) await callbacks.onBatchBegin(b, { batch: b, size });
      const logs: Logs = { batch: b, size, loss: losses[j] };
      trainer.metricNames.forEach((name, m) => (logs[name] = metrics[j * M + m]));
      names.forEach((name, m) => (totals[m] += logs[name] * size));
      seen += size;
      await callbacks.onBatchEnd(b, logs);
    }
    step += done;
    if (done < chunk) {
      dataEnded = (await plan.size(b)) === undefined; // a streamed dataset's failure throws here
      break;
    }
  }
  const logs: Logs = {};
  if (seen > 0) names.forEach((name, k) => (logs[name] = totals[k] / seen));
  return { logs, batches: b, dataEnded };
}

/**
 * The epoch's end: the validation's `val_*` logs added, onEpochEnd, then the
 * History (tfjs's History callback runs after the user's: a key a callback adds
 * to the logs is kept).
 */
export async function endEpoch(
  callbacks: Callbacks,
  history: History<object>,
  epoch: number,
  logs: Logs,
  validation: Evaluation | undefined,
): Promise<void> {
  if (validation !== undefined) {
    logs.val_loss = validation.loss;
    for (const [name, value] of Object.entries(validation.metrics)) logs[`val_${name}`] = value;
  }
  await callbacks.onEpochEnd(epoch, logs);
  history.epoch.push(epoch);
  for (const [k, v] of Object.entries(logs)) (history.history[k] ??= []).push(v);
}
