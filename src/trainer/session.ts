import type { BackendName, BackendRequest } from '../backend.js';
import type { Split } from '../data/dataset.js';
import type { Fault } from '../faults.js';
import type { MlpConfig } from '../model/mlp.js';

/** How a worker differentiates: the hand-written MLP backward, or tfjs autograd (the generic path). */
export type GradientMode = 'manual' | 'autograd';

/**
 * Everything a training run shares between the coordinator and its workers.
 * Every array lives on a SharedArrayBuffer: posting a Session to a worker shares
 * the memory, it copies nothing but the handles. Sent once per task, i.e. once
 * per chunk of steps, never per step.
 */
export interface Session {
  readonly id: number;
  readonly model: MlpConfig;
  readonly gradients: GradientMode;
  readonly backend: BackendRequest;
  readonly parties: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly stepTimeoutMs: number;
  /** The most a barrier wait spins before sleeping, ms (options.barrierSpinMs; Note [adaptive spin]). */
  readonly spinCapMs: number;
  /**
   * Parameters, per-worker gradient rows and the reduced gradient (kernels/arena.ts):
   * rank r writes grads row r (d(sum of its shard's losses)/d(params)), then
   * reduces and steps slice partition(P, parties, r) of reduced and params.
   */
  readonly memory: WebAssembly.Memory;
  /** P, the length of the flat parameter vector. */
  readonly paramCount: number;
  /** (train.count) this epoch's sample order, written by the coordinator before each epoch. */
  readonly order: Int32Array;
  /** (stepsPerEpoch, parties) each shard's loss sum, per step of the current epoch. */
  readonly stepLoss: Float64Array;
  /** (parties) each rank's reduce probe of the current step (allreduce.ts): all ranks check all of them. */
  readonly probes: Float64Array;
  /** Barrier cells (barrier.ts). */
  readonly barrier: Int32Array;
  /** (stepsPerEpoch, parties, MARKS.length) phase timestamps when profiling (profile/record.ts), else undefined. */
  readonly marks: Float64Array | undefined;
  /** Control cells: CONTROL.progress, global steps completed (bumped by rank 0); CONTROL.stopAt, first step not to start. */
  readonly control: Int32Array;
  /** (parties) barrier arrivals per rank: a hung rank is the one behind. */
  readonly beats: Int32Array;
  /** Injected faults (faults.ts) and (faults.length) how often each has fired. */
  readonly faults: readonly Fault[];
  readonly faultsFired: Int32Array;
  readonly train: Split;
  readonly test: Split;
}

export const CONTROL = { progress: 0, stopAt: 1, cells: 2 } as const;
/** control[stopAt] when no stop is requested. */
export const NO_STOP = 0x7fffffff;

/** Task payloads, one per worker per collective call. */
export interface InitTask {
  readonly session: Session;
  readonly rank: number;
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

/** Why a chunk ended before its last step; every rank reaches the same verdict at the same step. */
export type StopReason = 'requested' | 'non-finite loss' | 'non-finite gradient';

export interface TrainResult {
  readonly threadId: number;
  /** tfjs tensors alive in this thread after the chunk: constant when nothing leaks. */
  readonly numTensors: number;
  /** Set when the chunk ended early: global step `step` was not applied. */
  readonly stopped?: { readonly step: number; readonly reason: StopReason };
}

export interface EvalResult {
  readonly lossSum: number;
  readonly correct: number;
  readonly count: number;
}
