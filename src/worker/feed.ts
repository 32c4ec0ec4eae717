/**
 * Where the step loop (train-loop.ts) finds each step's samples: the shuffled
 * epochs of a split in memory (here), or the slots of a streamed dataset's ring
 * (stream-feed.ts).
 */
import type { Split } from '../data/dataset.js';
import { batchSamples, optimizerSteps, stepBatches, type Grouping } from '../trainer/accumulation.js';
import type { Session, StopReason } from '../trainer/session.js';
import type { Local } from './local.js';
import { streamFeed } from './stream-feed.js';

/** One batch of a step: its samples as rows of `data`, in order, and its cells in stepLoss and stepMetrics. */
export interface FedBatch {
  readonly data: Split;
  readonly rows: Int32Array;
  readonly cell: number;
}

/** A step: its batches (several with accumulation), their samples in all, and its row of profile marks. */
export interface FedStep {
  readonly batches: readonly FedBatch[];
  readonly len: number;
  readonly index: number;
}

export interface Feed {
  /** Step g's samples, or why the chunk ends before it (the same verdict in every rank). */
  step(g: number): FedStep | { readonly stop: StopReason };
  /** Rank 0, once step g is applied. */
  done(g: number): void;
}

export function openFeed(session: Session, rank: number, l: Local): Feed {
  return session.stream === undefined ? epochFeed(session) : streamFeed(session, session.stream.train, rank, l);
}

/** Step g of the epoch's order (session.order): its batches by trainer/accumulation.ts. */
function epochFeed(session: Session): Feed {
  const grouping: Grouping = {
    count: session.train.count,
    batchSize: session.batchSize,
    accumulate: session.accumulate,
  };
  const steps = optimizerSteps(grouping);
  return {
    step(g) {
      const index = g % steps;
      const { lo, hi } = stepBatches(grouping, index);
      const batches: FedBatch[] = [];
      let len = 0;
      for (let b = lo; b < hi; b++) {
        const samples = batchSamples(grouping, b);
        batches.push({ data: session.train, rows: session.order.subarray(samples.lo, samples.hi), cell: b });
        len += samples.hi - samples.lo;
      }
      return { batches, len, index };
    },
    done() {},
  };
}
