/**
 * The coordinator's side of the batch rings (Note [batch ring] in
 * data/ring.ts): pulls batches from a tf.data dataset's iterator, checks each
 * against the model, and copies it into the next free slot, while the workers
 * train on the slots before it. Its waits never block the event loop, so the
 * pool's task, awaited meanwhile, and the loading overlap.
 */
import * as tf from '@tensorflow/tfjs';
import type { Split } from '../data/dataset.js';
import {
  SLOT,
  allocateRing,
  countOf,
  fill,
  mark,
  release,
  reset,
  stateOf,
  untilEmpty,
  type Ring,
} from '../data/ring.js';
import { OptionError } from '../errors.js';
import type { LayersSpec } from '../model/layers-spec.js';
import type { OutputClassWeights } from './class-weight.js';
import { rows, toSplit, type FitInput } from './data.js';
import { Staging } from './staging.js';

/** What fitDatasetParallel reads of a tf.data.Dataset: a fresh iterator per pass. */
export interface BatchSource {
  iterator(): Promise<{ next(): Promise<IteratorResult<unknown>> }>;
}

type Iterator = Awaited<ReturnType<BatchSource['iterator']>>;

/** The dataset failed, stalled or yielded a batch that does not fit the model: one line naming the epoch and batch. */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
}

/** What tf.data.generator's iterator puts before the message of an error its generator throws. */
const TFJS_PREFIX = /^Error thrown while iterating through a dataset: /;

/** How long a pump waits for a free slot before it checks whether it should go on, ms. */
const FREE_SLICE_MS = 100;

/** Resolves true once the slot is empty, false if `closed()` turns true first. */
async function whenFree(ring: Ring, slot: number, closed: () => boolean): Promise<boolean> {
  while (!closed()) {
    if (stateOf(ring, slot) === SLOT.empty) return true;
    await untilEmpty(ring, slot, FREE_SLICE_MS);
  }
  return false;
}

/**
 * Pulls a dataset's elements with a deadline and checks each against the model, naming it in messages.
 *
 * Note [class weights at copy-in]: with classWeight, the coordinator makes each
 * training batch's per-sample weights from its targets as it converts the batch
 * (toSplit, class-weight.ts: tfjs's standardizeWeights, per batch as its
 * fitDataset does), and fill() writes them into the slot's weight column with
 * the batch, between FILLING and FULL: a worker that sees FULL sees the weights of
 * the same step, and the coordinator stays the slot's one writer (Note [batch
 * ring]). Made in the workers instead, every worker would repeat the class
 * look-up for the whole batch and a class without a weight would fail a step in
 * a worker thread, where here it rejects naming the batch. Without classWeight
 * the ring has no weight column and nothing is computed or copied.
 * Re-measure: `npx vitest run test/fit-dataset-class-weight.test.ts`.
 */
class Loader {
  /** Where each batch is read before its slot (Note [staged batches]). */
  private readonly staging = new Staging();

  constructor(
    private readonly source: BatchSource,
    private readonly spec: LayersSpec,
    /** 'the dataset' or 'the validation dataset'. */
    private readonly name: string,
    private readonly timeoutMs: number,
    /** The training batches' classWeight, checked (class-weight.ts); validation is never weighted. */
    private readonly classWeights?: OutputClassWeights,
  ) {}

  /** The next element of `it` (of a fresh iterator when undefined) within timeoutMs, or a DatasetError. */
  pull(it: Iterator | undefined, epoch: number, batch: number): Promise<{ it: Iterator; r: Pulled }> {
    return this.within(epoch, batch, async (stall) => {
      const iterator = it ?? (await Promise.race([this.source.iterator(), stall]));
      return { it: iterator, r: await Promise.race([iterator.next(), stall]) };
    });
  }

  /**
   * A fresh iterator, never read. Note [tfjs's unread iterator]: without
   * batchesPerEpoch, tfjs 4.22's fitDataset makes an iterator before its epochs
   * and a fresh one at the start of each, so the first is never read and epoch e
   * reads the dataset's (e + 2)-th iterator. Making it too keeps a dataset whose
   * iterators differ (a .shuffle() reshuffles per iterator) on tfjs's batches.
   * test/fit-dataset.test.ts trains a shuffled dataset against model.fitDataset.
   */
  skip(epoch: number): Promise<void> {
    return this.within(epoch, 0, async (stall) => void (await Promise.race([this.source.iterator(), stall])));
  }

  /** `work` within timeoutMs (`stall` rejects then), its failure a DatasetError naming the epoch and batch. */
  private async within<T>(epoch: number, batch: number, work: (stall: Promise<never>) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const stall = new Promise<never>((_, reject) => {
      const message = `${this.name} has produced no batch for ${this.timeoutMs / 1000} s (epoch ${epoch}, batch ${batch})`;
      timer = setTimeout(() => reject(new DatasetError(message)), this.timeoutMs);
    });
    try {
      return await work(stall);
    } catch (err) {
      if (err instanceof DatasetError) throw err;
      const cause = (err instanceof Error ? err.message : String(err)).replace(TFJS_PREFIX, '');
      throw new DatasetError(`${this.name} threw at epoch ${epoch}, batch ${batch}: ${cause}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** An element as a Split of its samples, checked against the model (data.ts); its tensors are disposed, as tfjs's fitDataset does. */
  batchOf(value: unknown, epoch: number, batch: number): Split {
    try {
      if (typeof value !== 'object' || value === null || !('xs' in value) || !('ys' in value))
        throw new OptionError(
          `must be { xs, ys } of tensors (or arrays or maps of them, as model.fitDataset takes), got ${describe(value)}`,
        );
      const { xs, ys } = value as { xs: FitInput; ys: FitInput };
      return toSplit(this.spec, 'xs', xs, 'ys', ys, this.classWeights, this.staging.batch());
    } catch (err) {
      if (err instanceof OptionError) throw new DatasetError(`${this.where(epoch, batch)}: ${err.message}`);
      throw err;
    } finally {
      tf.dispose(value as tf.TensorContainer);
    }
  }

  /** "the dataset's batch 3 of epoch 0". */
  where(epoch: number, batch: number): string {
    return `${this.name}'s batch ${batch} of epoch ${epoch}`;
  }
}

type Pulled = IteratorResult<unknown>;

export interface TrainPumpOptions {
  readonly slots: number;
  /** Steps the workers may run in one task: the ring's `sizes` cells. */
  readonly steps: number;
  readonly initialEpoch: number;
  readonly epochs: number;
  readonly batchesPerEpoch: number | undefined;
  readonly timeoutMs: number;
  /** Each batch's per-sample loss weights come from these (Note [class weights at copy-in]). */
  readonly classWeights?: OutputClassWeights;
}

/**
 * The training batches, in the order and epochs model.fitDataset takes them:
 * without batchesPerEpoch an epoch is one pass of a fresh iterator, and where it
 * ends the pump marks the step's slot END and waits for nextEpoch(); with it, an
 * epoch is that many batches of one iterator that runs on across epochs (an
 * iterator that ends early ends each epoch there, as tfjs's does). Step g (the
 * Trainer's global step) trains on the g-th batch loaded. Where the dataset
 * fails, the pump marks the slot FAILED and keeps the error (`failure`).
 */
export class TrainPump {
  private epoch: number;
  /** The epoch's batch, and the global step, that the next batch loaded is for. */
  private inEpoch = 0;
  private step = 0;
  /** The step whose slot is marked END or FAILED, until nextEpoch(). */
  private marked: number | undefined;
  private closed = false;
  private waiting: (() => void)[] = [];
  private resume: (() => void) | undefined;
  failure: DatasetError | undefined;

  private constructor(
    private readonly loader: Loader,
    readonly ring: Ring,
    private it: Iterator | undefined,
    private readonly o: TrainPumpOptions,
  ) {
    this.epoch = o.initialEpoch;
  }

  /**
   * Pulls the first batch (rejecting with a DatasetError where the dataset
   * fails or yields none), sizes the ring after it (a slot holds at most that
   * many samples), and goes on filling the ring in the background.
   */
  static async open(source: BatchSource, spec: LayersSpec, o: TrainPumpOptions): Promise<TrainPump> {
    const loader = new Loader(source, spec, 'the dataset', o.timeoutMs, o.classWeights);
    if (o.batchesPerEpoch === undefined) await loader.skip(o.initialEpoch); // Note [tfjs's unread iterator]
    const { it, r } = await loader.pull(undefined, o.initialEpoch, 0);
    if (r.done === true) throw new DatasetError(`the dataset yielded no batch (epoch ${o.initialEpoch})`);
    const first = loader.batchOf(r.value, o.initialEpoch, 0);
    const pump = new TrainPump(loader, allocateRing(first, o.slots, first.count, o.steps), it, o);
    pump.put(0, first);
    void pump.run();
    return pump;
  }

  /**
   * The samples of step g's batch, once loaded (asked before step g trains);
   * undefined where the epoch's data ended before it. Throws the dataset's
   * failure where it failed there.
   */
  async batch(g: number): Promise<number | undefined> {
    for (;;) {
      if (g < this.step) return countOf(this.ring, g % this.ring.slots);
      if (this.marked === g) {
        if (this.failure !== undefined) throw this.failure;
        return undefined;
      }
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  /** After an epoch whose data ended: empties the END slot and loads the next epoch. */
  nextEpoch(): void {
    this.resume?.();
  }

  /** Ends the loading at its next wait. */
  close(): void {
    this.closed = true;
    this.resume?.();
    this.changed();
  }

  private async run(): Promise<void> {
    try {
      while (!this.closed) {
        const bpe = this.o.batchesPerEpoch;
        if (bpe !== undefined && this.inEpoch === bpe) [this.epoch, this.inEpoch] = [this.epoch + 1, 0];
        if (this.epoch >= this.o.epochs) return;
        const slot = this.step % this.ring.slots;
        if (!(await whenFree(this.ring, slot, () => this.closed))) return;
        const { it, r } = await this.loader.pull(this.it, this.epoch, this.inEpoch);
        this.it = it;
        if (this.closed) return void tf.dispose(r.value as tf.TensorContainer);
        if (r.done === true) {
          if (!(await this.endOfData(slot))) return;
          continue;
        }
        const batch = this.loader.batchOf(r.value, this.epoch, this.inEpoch);
        if (batch.count > this.ring.maxBatch) {
          throw new DatasetError(
            `${this.loader.where(this.epoch, this.inEpoch)} has ${batch.count} samples, more than the first batch's ${this.ring.maxBatch}, which sized the batch slots: make the first batch the largest`,
          );
        }
        this.put(slot, batch);
      }
    } catch (err) {
      // Every failure comes after whenFree(slot): the slot is empty.
      this.failure = err instanceof DatasetError ? err : new DatasetError(String(err));
      mark(this.ring, this.step % this.ring.slots, this.step, SLOT.failed);
      this.marked = this.step;
      this.changed();
    }
  }

  private put(slot: number, batch: Split): void {
    fill(this.ring, slot, this.step, batch);
    this.step++;
    this.inEpoch++;
    this.changed();
  }

  /** Marks END at the next step's slot; once nextEpoch() says so, empties it and starts the next epoch. */
  private async endOfData(slot: number): Promise<boolean> {
    mark(this.ring, slot, this.step, SLOT.end);
    this.marked = this.step;
    if (this.o.batchesPerEpoch === undefined) this.it = undefined; // a fresh iterator per epoch, as tfjs
    const resumed = new Promise<void>((resolve) => (this.resume = resolve));
    this.changed();
    await resumed;
    this.resume = undefined;
    this.marked = undefined;
    if (this.closed) return false;
    release(this.ring, slot);
    [this.epoch, this.inEpoch] = [this.epoch + 1, 0];
    return true;
  }

  private changed(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w();
  }
}

/**
 * One pass over a validation dataset per evaluation, as model.evaluateDataset
 * makes it (a fresh iterator, at most `batches` batches), through the validation
 * ring: a batch larger than a slot goes in slot-sized pieces (an evaluation is
 * a sum over samples), then END; where the dataset fails, FAILED and the error.
 */
export class ValidationPump {
  private readonly loader: Loader;
  private closed = false;

  constructor(
    source: BatchSource,
    spec: LayersSpec,
    readonly ring: Ring,
    private readonly batches: number | undefined,
    timeoutMs: number,
  ) {
    this.loader = new Loader(source, spec, 'the validation dataset', timeoutMs);
  }

  /**
   * Fills the emptied ring for one evaluation after `epoch` (call it before the
   * workers start reading); resolves with the dataset's failure, if any.
   */
  pass(epoch: number): Promise<DatasetError | undefined> {
    reset(this.ring);
    this.closed = false;
    return this.fill(epoch);
  }

  /** Ends the pass at its next wait (the evaluation failed). */
  close(): void {
    this.closed = true;
  }

  private async fill(epoch: number): Promise<DatasetError | undefined> {
    const { ring } = this;
    const free = (k: number): Promise<boolean> => whenFree(ring, k % ring.slots, () => this.closed);
    let k = 0;
    let it: Iterator | undefined;
    try {
      for (let b = 0; this.batches === undefined || b < this.batches; b++) {
        if (!(await free(k))) return undefined;
        const pulled = await this.loader.pull(it, epoch, b);
        it = pulled.it;
        if (pulled.r.done === true) break;
        const batch = this.loader.batchOf(pulled.r.value, epoch, b);
        for (let lo = 0; lo < batch.count; lo += ring.maxBatch, k++) {
          if (!(await free(k))) return undefined;
          fill(ring, k % ring.slots, k, rows(batch, lo, Math.min(batch.count, lo + ring.maxBatch)));
        }
      }
      if (!(await free(k))) return undefined;
      if (k === 0) throw new DatasetError(`the validation dataset yielded no batch (epoch ${epoch})`);
      mark(ring, k % ring.slots, k, SLOT.end);
      return undefined;
    } catch (err) {
      // Every failure comes after free(k): the slot is empty.
      mark(ring, k % ring.slots, k, SLOT.failed);
      return err instanceof DatasetError ? err : new DatasetError(String(err));
    }
  }
}

function describe(v: unknown): string {
  if (v instanceof tf.Tensor) return `a tensor of shape [${v.shape.join(', ')}]`;
  if (typeof v === 'object' && v !== null) return `an object with keys ${Object.keys(v).join(', ') || '(none)'}`;
  return String(v);
}
