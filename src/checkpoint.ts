import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { mkdirp } from './io/dirs.js';

/**
 * Checkpoints: everything needed to continue a run exactly where it stopped.
 *
 * The parameters, the global step, the running loss of the current epoch and
 * the recipe. There is no other state to keep: plain SGD has none, and the
 * sample order of every epoch is a pure function of (seed, epoch)
 * (data/shuffle.ts), so the step number *is* the RNG state.
 *
 * File `DIR/checkpoint.wddp`, little-endian:
 *   "WDDPCKPT" | u32 version | u32 header bytes | header (UTF-8 JSON) | 0-3 zero bytes
 *   | params (f32 x paramCount) | SHA-256 of everything before it (32 bytes)
 * Written atomically: a temporary file in the same folder, fsync, rename over
 * the old one, fsync of the folder. A reader sees the old checkpoint or the new
 * one, never half of either; kill -9 at any instant leaves a loadable file.
 */
export const CHECKPOINT_FILE = 'checkpoint.wddp';
const MAGIC = Buffer.from('WDDPCKPT', 'latin1');
const VERSION = 1;
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
  readonly lr: number;
  readonly seed: number;
  readonly epochs: number;
  readonly inputSize: number;
  readonly numClasses: number;
  readonly trainCount: number;
  /** FNV-1a hash of the training labels, to refuse other data of the same size. */
  readonly labelsHash: number;
  /** The data folder the run read (for a Dataset built in code: its `dir`). */
  readonly data: string;
}

export interface Checkpoint {
  readonly header: CheckpointHeader;
  readonly params: Float32Array;
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

export function writeCheckpoint(dir: string, header: CheckpointHeader, params: Float32Array): string {
  mkdirp(dir);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - ((MAGIC.length + 8 + json.length) % 4)) % 4;
  const head = Buffer.alloc(MAGIC.length + 8 + json.length + pad);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(VERSION, MAGIC.length);
  head.writeUInt32LE(json.length, MAGIC.length + 4);
  json.copy(head, MAGIC.length + 8);
  const body = Buffer.from(params.buffer, params.byteOffset, params.byteLength);
  const hash = createHash('sha256').update(head).update(body).digest();
  const file = join(dir, CHECKPOINT_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const part of [head, body, hash]) writeSync(fd, part);
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
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new CheckpointError(file, 'not a worker-ddp checkpoint (bad magic)');
  const version = buf.readUInt32LE(MAGIC.length);
  if (version !== VERSION) throw new CheckpointError(file, `unsupported checkpoint version ${version}, expected ${VERSION}`);
  const hashAt = buf.length - HASH_BYTES;
  const digest = createHash('sha256').update(buf.subarray(0, hashAt)).digest();
  if (!digest.equals(buf.subarray(hashAt))) throw new CheckpointError(file, 'checksum mismatch: the file is corrupt or truncated');
  const jsonLen = buf.readUInt32LE(MAGIC.length + 4);
  const paramsAt = fixed + jsonLen + ((4 - ((fixed + jsonLen) % 4)) % 4);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.subarray(fixed, fixed + jsonLen).toString('utf8')) as CheckpointHeader;
  } catch {
    throw new CheckpointError(file, 'header is not valid JSON');
  }
  if (!Number.isInteger(header.paramCount) || hashAt - paramsAt !== 4 * header.paramCount) {
    throw new CheckpointError(file, `header says ${String(header.paramCount)} parameters but the file holds ${(hashAt - paramsAt) / 4}`);
  }
  // Copy into an aligned buffer: the parameters start at a 4-byte boundary of the file, not necessarily of buf's pool.
  const params = new Float32Array(header.paramCount);
  new Uint8Array(params.buffer).set(buf.subarray(paramsAt, hashAt));
  return { header, params };
}
