import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { OptionError } from './errors.js';
import type { LrSchedule } from './optim/schedule.js';
import { checkOptimizer, stateVectors, type OptimizerSpec } from './optim/spec.js';
import { mkdirp } from './io/dirs.js';

/**
 * Checkpoints: everything needed to continue a run exactly where it stopped.
 *
 * The parameters, the optimizer's state, the global step, the running loss of
 * the current epoch and the recipe (the optimizer's spec included). There is no
 * other state to keep: the sample order of every epoch is a pure function of
 * (seed, epoch) (data/shuffle.ts), and so is Adam's beta^t of the step
 * (Note [float32 beta powers]), so the step number *is* the rest.
 *
 * File `DIR/checkpoint.wddp`, little-endian:
 *   "WDDPCKPT" | u32 version | u32 header bytes | header (UTF-8 JSON) | 0-3 zero bytes
 *   | params (f32 x paramCount) | state (f32 x S*paramCount) | SHA-256 of everything before it (32 bytes)
 * The state is the optimizer's S = stateVectors(recipe.optimizer) vectors end
 * to end, gathered from every rank's slice (Note [sharded optimizer state]: a
 * plain read of the shared buffer); it does not depend on the worker count, so
 * a run may resume with another. Version 1 (before optimizers) had no state and
 * no recipe.optimizer: it reads as sgd at recipe.lr with an empty state.
 * Written atomically: a temporary file in the same folder, fsync, rename over
 * the old one, fsync of the folder. A reader sees the old checkpoint or the new
 * one, never half of either; kill -9 at any instant leaves a loadable file.
 */
export const CHECKPOINT_FILE = 'checkpoint.wddp';
const MAGIC = Buffer.from('WDDPCKPT', 'latin1');
const VERSION = 2;
const HASH_BYTES = 32;

export interface CheckpointHeader {
  readonly step: number;
  readonly epochLossSum: number;
  readonly paramCount: number;
  readonly recipe: Recipe;
  readonly createdAt: string;
}

/** What must match for a checkpoint to continue a run. */
export interface Recipe {
  readonly hidden: readonly number[];
  readonly batchSize: number;
  /** The optimizer's learning rate, optimizer.lr. */
  readonly lr: number;
  readonly optimizer: OptimizerSpec;
  readonly seed: number;
  readonly epochs: number;
  readonly inputSize: number;
  readonly numClasses: number;
  readonly trainCount: number;
  /** FNV-1a hash of the training labels, to refuse other data of the same size. */
  readonly labelsHash: number;
  /** The data folder the run read (for a Dataset built in code: its `dir`). */
  readonly data: string;
  /** How its files were read, as the CLI's flags (Dataset.readAs); absent: data built in code, or an older checkpoint. */
  readonly readAs?: readonly string[];
  /** A hash of the model's topology, loss and metrics (absent: the built-in MLP's former layout, not resumable). */
  readonly model?: string;
  /** Batches per optimizer step (options.accumulateSteps); absent: 1. */
  readonly accumulateSteps?: number;
  /** The learning rate per step (options.lrSchedule); absent: constant. */
  readonly lrSchedule?: LrSchedule;
}

export interface Checkpoint {
  readonly header: CheckpointHeader;
  readonly params: Float32Array;
  /** The optimizer state, stateVectors(header.recipe.optimizer) vectors of paramCount end to end. */
  readonly state: Float32Array;
}

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

export function writeCheckpoint(
  dir: string,
  header: CheckpointHeader,
  params: Float32Array,
  state: Float32Array,
): string {
  const S = stateVectors(header.recipe.optimizer);
  if (params.length !== header.paramCount || state.length !== S * params.length) {
    throw new RangeError(
      `checkpoint of ${header.paramCount} parameters and ${S} state vectors given ${params.length} and ${state.length} values`,
    );
  }
  mkdirp(dir);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - ((MAGIC.length + 8 + json.length) % 4)) % 4;
  const head = Buffer.alloc(MAGIC.length + 8 + json.length + pad);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(VERSION, MAGIC.length);
  head.writeUInt32LE(json.length, MAGIC.length + 4);
  json.copy(head, MAGIC.length + 8);
  const body = Buffer.from(params.buffer, params.byteOffset, params.byteLength);
  const tail = Buffer.from(state.buffer, state.byteOffset, state.byteLength);
  const hash = createHash('sha256').update(head).update(body).update(tail).digest();
  const file = join(dir, CHECKPOINT_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const part of [head, body, tail, hash]) writeSync(fd, part);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
  return file;
}

/** Reads and verifies DIR/checkpoint.wddp; throws CheckpointError naming the file and the defect. */
export function readCheckpoint(dir: string): Checkpoint {
  const file = join(dir, CHECKPOINT_FILE);
  if (!existsSync(file)) throw new CheckpointError(file, 'no checkpoint here');
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new CheckpointError(file, `cannot read: ${(err as Error).message}`);
  }
  const fixed = MAGIC.length + 8;
  if (buf.length < fixed + HASH_BYTES) throw new CheckpointError(file, `truncated: ${buf.length} bytes`);
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC))
    throw new CheckpointError(file, 'not a worker-ddp checkpoint (bad magic)');
  const version = buf.readUInt32LE(MAGIC.length);
  if (version !== 1 && version !== VERSION)
    throw new CheckpointError(file, `unsupported checkpoint version ${version}, expected 1 or ${VERSION}`);
  const hashAt = buf.length - HASH_BYTES;
  const digest = createHash('sha256').update(buf.subarray(0, hashAt)).digest();
  if (!digest.equals(buf.subarray(hashAt)))
    throw new CheckpointError(file, 'checksum mismatch: the file is corrupt or truncated');
  const jsonLen = buf.readUInt32LE(MAGIC.length + 4);
  const paramsAt = fixed + jsonLen + ((4 - ((fixed + jsonLen) % 4)) % 4);
  let parsed: CheckpointHeader;
  try {
    parsed = JSON.parse(buf.subarray(fixed, fixed + jsonLen).toString('utf8')) as CheckpointHeader;
  } catch {
    throw new CheckpointError(file, 'header is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.recipe !== 'object' || parsed.recipe === null) {
    throw new CheckpointError(file, 'header has no recipe');
  }
  const header = version === 1 ? fromVersion1(parsed) : parsed;
  let optimizer: OptimizerSpec;
  try {
    optimizer = checkOptimizer('recipe.optimizer', header.recipe.optimizer);
  } catch (err) {
    if (err instanceof OptionError) throw new CheckpointError(file, `header: ${err.message}`);
    throw err;
  }
  const P = header.paramCount;
  const S = stateVectors(optimizer);
  if (!Number.isInteger(P) || hashAt - paramsAt !== 4 * (P + S * P)) {
    throw new CheckpointError(
      file,
      `header says ${String(P)} parameters and ${S} optimizer state vectors (${optimizer.kind}), ` +
        `${String(P + S * P)} values, but the file holds ${(hashAt - paramsAt) / 4}`,
    );
  }
  // Copy into aligned buffers: the data starts at a 4-byte boundary of the file, not necessarily of buf's pool.
  const params = new Float32Array(P);
  new Uint8Array(params.buffer).set(buf.subarray(paramsAt, paramsAt + 4 * P));
  const state = new Float32Array(S * P);
  new Uint8Array(state.buffer).set(buf.subarray(paramsAt + 4 * P, hashAt));
  return { header: { ...header, recipe: { ...header.recipe, optimizer } }, params, state };
}

/** A version 1 header (plain SGD, no optimizer state) in today's terms. */
function fromVersion1(h: CheckpointHeader): CheckpointHeader {
  return { ...h, recipe: { ...h.recipe, optimizer: { kind: 'sgd', lr: h.recipe.lr } } };
}
