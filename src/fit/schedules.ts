import * as tf from '@tensorflow/tfjs';
import { OptionError, showValue } from '../errors.js';

/**
 * Learning-rate schedules that tfjs lacks, as Keras has them: ordinary tf.Callbacks,
 * so they work under tfjs's own model.fit as under fitParallel (which applies a
 * changed rate from the next step, Note [live hyperparameters] in optim/hyper.ts).
 * They read and set the compiled optimizer's rate: setLearningRate() where the
 * optimizer has it (sgd, momentum: tfjs's update reads a scalar that only it
 * refreshes), else its learningRate field (adam, rmsprop, adagrad, ...).
 * Unlike Keras they add no `lr` entry to the logs, so History keeps model.fit's keys.
 */

/** The optimizer's learning rate now. */
export function learningRateOf(optimizer: tf.Optimizer): number {
  return optimizer.getConfig().learningRate as number;
}

/** Sets the optimizer's learning rate so that tfjs's update uses it from its next step. */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // Not `instanceof tf.SGDOptimizer`: tfjs's Optimizer[Symbol.hasInstance] is true for every optimizer.
  const o = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** Keras's LearningRateScheduler: before each epoch, lr = schedule(epoch, lr). */
export class LearningRateScheduler extends tf.Callback {
  constructor(private readonly schedule: (epoch: number, lr: number) => number) {
    super();
    if (typeof schedule !== 'function')
      throw new OptionError(`learningRateScheduler needs a function (epoch, lr) => lr, got ${showValue(schedule)}`);
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    const optimizer = this.model.optimizer;
    const lr = this.schedule(epoch, learningRateOf(optimizer));
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
      throw new OptionError(
        `learningRateScheduler: the schedule returned ${showValue(lr)} for epoch ${epoch}; it must return a finite number >= 0`,
      );
    }
    setLearningRate(optimizer, lr);
  }
}

/** `callbacks: [learningRateScheduler((epoch, lr) => (epoch < 5 ? lr : lr * 0.9))]`. */
export function learningRateScheduler(schedule: (epoch: number, lr: number) => number): LearningRateScheduler {
  return new LearningRateScheduler(schedule);
}

/** Keras's ReduceLROnPlateau arguments, camel-cased; Keras's verbose is not taken. */
export interface ReduceLROnPlateauArgs {
  /** The log to watch (default 'val_loss'). */
  readonly monitor?: string;
  /** The rate is multiplied by this, in (0, 1) (default 0.1). */
  readonly factor?: number;
  /** Epochs without improvement before the rate drops (default 10). */
  readonly patience?: number;
  /** 'min', 'max', or 'auto' (default): 'max' when the monitor's name contains 'acc'. */
  readonly mode?: 'auto' | 'min' | 'max';
  /** How much better counts as better (default 1e-4). */
  readonly minDelta?: number;
  /** Epochs after a drop before counting starts again (default 0). */
  readonly cooldown?: number;
  /** The rate never goes below this (default 0). */
  readonly minLr?: number;
}

const PLATEAU_FIELDS = ['monitor', 'factor', 'patience', 'mode', 'minDelta', 'cooldown', 'minLr'];

/**
 * Keras's ReduceLROnPlateau: after each epoch, when `monitor` has not improved by
 * more than minDelta for `patience` epochs (counted outside a cooldown), the rate
 * becomes max(lr * factor, minLr), if it is above minLr; then `cooldown` epochs
 * pass before epochs without improvement count again. State resets at train begin.
 * A monitor missing from the logs is warned about and skipped, as Keras does.
 */
export class ReduceLROnPlateau extends tf.Callback {
  private readonly monitor: string;
  private readonly factor: number;
  private readonly patience: number;
  private readonly minDelta: number;
  private readonly cooldown: number;
  private readonly minLr: number;
  private readonly maximize: boolean;
  private best = Infinity;
  private wait = 0;
  private cooldownLeft = 0;

  constructor(args: ReduceLROnPlateauArgs = {}) {
    super();
    if (typeof args !== 'object' || args === null)
      throw new OptionError(`reduceLROnPlateau takes an object of arguments, got ${showValue(args)}`);
    for (const k of Object.keys(args)) {
      if (!PLATEAU_FIELDS.includes(k))
        throw new OptionError(
          `reduceLROnPlateau has no argument ${JSON.stringify(k)} (it takes ${PLATEAU_FIELDS.join(', ')})`,
        );
    }
    const monitor = args.monitor ?? 'val_loss';
    if (typeof monitor !== 'string' || monitor === '')
      throw new OptionError(`reduceLROnPlateau.monitor must be a log name, got ${showValue(monitor)}`);
    this.monitor = monitor;
    this.factor = check('factor', args.factor ?? 0.1, (v) => v > 0 && v < 1, 'a number in (0, 1)');
    this.patience = check('patience', args.patience ?? 10, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
    this.minDelta = check(
      'minDelta',
      args.minDelta ?? 1e-4,
      (v) => Number.isFinite(v) && v >= 0,
      'a finite number >= 0',
    );
    this.cooldown = check('cooldown', args.cooldown ?? 0, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
    this.minLr = check('minLr', args.minLr ?? 0, (v) => Number.isFinite(v) && v >= 0, 'a finite number >= 0');
    const mode = args.mode ?? 'auto';
    if (mode !== 'auto' && mode !== 'min' && mode !== 'max')
      throw new OptionError(`reduceLROnPlateau.mode must be one of auto, min, max, got ${showValue(mode)}`);
    this.maximize = mode === 'max' || (mode === 'auto' && monitor.includes('acc'));
  }

  override async onTrainBegin(): Promise<void> {
    this.best = this.maximize ? -Infinity : Infinity;
    this.wait = 0;
    this.cooldownLeft = 0;
  }

  override async onEpochEnd(_epoch: number, logs?: tf.Logs | Record<string, number | tf.Scalar>): Promise<void> {
    const raw = logs?.[this.monitor];
    if (raw === undefined) {
      console.warn(
        `reduceLROnPlateau: the logs have no ${JSON.stringify(this.monitor)} (they have ${Object.keys(logs ?? {}).join(', ')}); the rate stays`,
      );
      return;
    }
    const current = typeof raw === 'number' ? raw : (await raw.data())[0];
    if (this.cooldownLeft > 0) {
      this.cooldownLeft--;
      this.wait = 0;
    }
    if (this.maximize ? current > this.best + this.minDelta : current < this.best - this.minDelta) {
      this.best = current;
      this.wait = 0;
    } else if (this.cooldownLeft === 0 && ++this.wait >= this.patience) {
      const optimizer = this.model.optimizer;
      const lr = learningRateOf(optimizer);
      if (lr > Math.fround(this.minLr)) {
        setLearningRate(optimizer, Math.max(lr * this.factor, this.minLr));
        this.cooldownLeft = this.cooldown;
        this.wait = 0;
      }
    }
  }
}

/** `callbacks: [reduceLROnPlateau({ monitor: 'val_loss', factor: 0.5, patience: 2 })]`. */
export function reduceLROnPlateau(args: ReduceLROnPlateauArgs = {}): ReduceLROnPlateau {
  return new ReduceLROnPlateau(args);
}

function check(name: string, v: unknown, ok: (v: number) => boolean, accepts: string): number {
  if (typeof v !== 'number' || !ok(v))
    throw new OptionError(`reduceLROnPlateau.${name} must be ${accepts}, got ${showValue(v)}`);
  return v;
}
