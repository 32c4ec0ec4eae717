import type { BackendName, BackendRequest } from '../backend.js';
import type { Split } from '../data/dataset.js';
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
  /** Barrier spins before sleeping; 0 when workers outnumber cores (Note [spin then sleep]). */
  readonly spins: number;
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
  /** Barrier cells (barrier.ts). */
  readonly barrier: Int32Array;
  /** (stepsPerEpoch, parties, MARKS.length) phase timestamps when profiling (profile/record.ts), else undefined. */
  readonly marks: Float64Array | undefined;
  /** [0]: global steps completed, bumped by rank 0 after each step. */
  readonly progress: Int32Array;
  readonly train: Split;
  readonly test: Split;
}

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
}

export interface PredictTask {
  readonly session: Session;
  /** (count, features) pixels in [0, 1]. */
  readonly images: Float32Array;
  readonly count: number;
}

export interface InitResult {
  readonly backend: BackendName;
  readonly threadId: number;
}

export interface TrainResult {
  readonly threadId: number;
  /** tfjs tensors alive in this thread after the chunk: constant when nothing leaks. */
  readonly numTensors: number;
}

export interface EvalResult {
  readonly lossSum: number;
  readonly correct: number;
  readonly count: number;
}
