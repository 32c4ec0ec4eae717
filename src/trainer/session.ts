import type { BackendName, BackendRequest } from '../backend.js';
import type { CrossProcessInfo } from '../collective/cross-process.js';
import type { Split } from '../data/dataset.js';
import type { Stream } from '../data/ring.js';
import type { Fault } from '../faults.js';
import type { LayersSpec } from '../model/layers-spec.js';
import type { ResolvedSchedule } from '../optim/schedule.js';
import type { OptimizerSpec } from '../optim/spec.js';
import type { Range } from '../partition.js';

/** How a worker differentiates: the backward written out where the model allows it (sequential-replica.ts), or tfjs autograd. */
export type GradientMode = 'manual' | 'autograd';

/**
 * Everything a training run shares between the coordinator and its workers.
 * Every array lives on a SharedArrayBuffer: posting a Session to a worker shares
 * the memory, it copies nothing but the handles. Sent once per task, i.e. once
 * per chunk of steps, never per step.
 */
export interface Session {
  readonly id: number;
  readonly gradients: GradientMode;
  /** The tf.LayersModel every worker rebuilds and trains (the tutorial MLP's, or a user's). */
  readonly layers: LayersSpec;
  readonly backend: BackendRequest;
  /** Threads (ranks): the gradient rows, the reduce-scatter's slices, the barrier's parties. */
  readonly parties: number;
  /** Workers: the shards each batch is split into, computed in blocks by the threads (trainer/lanes.ts). */
  readonly workers: number;
  readonly batchSize: number;
  /** Batches per optimizer step (options.accumulateSteps; trainer/accumulation.ts). */
  readonly accumulate: number;
  /** The optimizer's kind and structure; its hyperparameters of the moment are in `hyper`. */
  readonly optimizer: OptimizerSpec;
  /** (HYPER_CELLS) the optimizer's hyperparameters for the next task (Note [live hyperparameters] in optim/hyper.ts). */
  readonly hyper: Float64Array;
  /** The learning rate per optimizer step (Note [schedule in the worker] in optim/schedule.ts). */
  readonly schedule: ResolvedSchedule;
  readonly stepTimeoutMs: number;
  /** The most a barrier wait spins before sleeping, ms (options.barrierSpinMs; Note [adaptive spin]). */
  readonly spinCapMs: number;
  /** Scavenges.cells() when workers scavenge together (options.scavengeTogether; collective/scavenge.ts), else undefined. */
  readonly scavenge: Int32Array | undefined;
  /**
   * Parameters, per-worker gradient rows, the reduced gradient and the optimizer
   * state (simd/arena.ts): rank r writes grads row r (d(sum of its shard's
   * losses)/d(params)), then reduces and steps slice partition(P, parties, r) of
   * reduced, params and each state vector (Note [sharded optimizer state]).
   */
  readonly memory: WebAssembly.Memory;
  /** P, the length of the flat parameter vector. */
  readonly paramCount: number;
  /** (train.count) this epoch's sample order, written by the coordinator before each epoch. */
  readonly order: Int32Array;
  /** (batchesPerEpoch, parties) each shard's loss sum, per batch of the current epoch. */
  readonly stepLoss: Float64Array;
  /** (batchesPerEpoch, parties, metrics) each shard's metric sums per batch (the layers path's training metrics). */
  readonly stepMetrics: Float64Array;
  /** Metrics per step in stepMetrics: layers.metricNames.length. */
  readonly metricCount: number;
  /**
   * (2, parties) each rank's probes of the current step: row 0 its reduce-scatter's
   * (allreduce.ts), row 1 its update's (optim/step.ts). All ranks check all of them.
   */
  readonly probes: Float64Array;
  /** Barrier cells (barrier.ts). */
  readonly barrier: Int32Array;
  /** (stepsPerEpoch, parties, MARKS.length) phase timestamps per thread with options.profile or phaseTimes (profile/record.ts), else undefined. */
  readonly marks: Float64Array | undefined;
  /**
   * Control cells: CONTROL.progress, global steps completed (bumped by rank 0); CONTROL.stopAt, first step
   * not to start; CONTROL.stopWanted, a stop request in an MPI job, which worker 0 turns into stopAt once
   * every process knows of it (Note [one verdict everywhere] in collective/cross-process.ts).
   */
  readonly control: Int32Array;
  /** (parties) barrier arrivals per thread: a hung thread is the one behind. */
  readonly beats: Int32Array;
  /** Injected faults (faults.ts) and (faults.length) how often each has fired. */
  readonly faults: readonly Fault[];
  readonly faultsFired: Int32Array;
  /** The other processes of an MPI job (collective/), or undefined for a single process. */
  readonly cross: CrossProcessInfo | undefined;
  /** (parties) 1 while a worker waits in a cross-process collective: a stall there is another process's. */
  readonly crossWait: Int32Array;
  readonly train: Split;
  readonly test: Split;
  /**
   * A streamed run's rings of batch slots (fitDatasetParallel; Note [batch ring] in data/ring.ts):
   * step g trains on the batch in slot g % R of the training ring, and `train` is that ring's rows.
   */
  readonly stream: Stream | undefined;
}

export const CONTROL = { progress: 0, stopAt: 1, stopWanted: 2, cells: 3 } as const;
/** control[stopAt] when no stop is requested. */
export const NO_STOP = 0x7fffffff;

/** Task payloads, one per worker per collective call. */
export interface InitTask {
  readonly session: Session;
  readonly rank: number;
  /** The run starts after this many steps: in an MPI job every process takes rank 0's parameters for it. */
  readonly step: number;
}

export interface TrainTask {
  readonly session: Session;
  readonly rank: number;
  /** Global step numbers [from, to), all within one epoch. */
  readonly from: number;
  readonly to: number;
}

export interface EvalTask {
  readonly session: Session;
  readonly rank: number;
  readonly split: 'train' | 'test';
  /** Evaluate the parameters after this many global steps. */
  readonly step: number;
}

/** Evaluation of the batches streamed through the validation ring, until its END. */
export interface EvalStreamTask {
  readonly session: Session;
  readonly rank: number;
  /** Evaluate the parameters after this many global steps. */
  readonly step: number;
}

export interface PredictTask {
  readonly session: Session;
  readonly step: number;
  /** (count, features) pixels in [0, 1]. */
  readonly images: Float32Array;
  readonly count: number;
}

export interface InitResult {
  readonly backend: BackendName;
  readonly threadId: number;
}

/** A step whose loss, gradient or update is not finite. */
export type NonFiniteReason = 'non-finite loss' | 'non-finite gradient' | 'non-finite update';

/**
 * Why a chunk ended before its last step; every rank reaches the same verdict at the same step.
 * 'no data': a streamed run's slot for the step holds no batch (its data ended, or failed).
 */
export type StopReason = 'requested' | 'no data' | NonFiniteReason;

export interface TrainResult {
  readonly threadId: number;
  /** tfjs tensors alive in this thread after the chunk: constant when nothing leaks. */
  readonly numTensors: number;
  /** Set when the chunk ended early: global step `step` was not applied. */
  readonly stopped?: { readonly step: number; readonly reason: StopReason };
  /** The [lo, hi) of the parameters and of each optimizer state vector this thread updated (empty when no step ran). */
  readonly updated: Range;
}

export interface EvalResult {
  readonly lossSum: number;
  /** Sums of each metric over the rank's part, in layers.metricNames order. */
  readonly metricSums: readonly number[];
  readonly count: number;
}

export interface WeightsTask {
  readonly session: Session;
}
