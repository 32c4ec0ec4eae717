/**
 * Reader for the idx format used by MNIST (http://yann.lecun.com/exdb/mnist/).
 *
 * Header, big-endian: two zero bytes, a type code (0x08 = unsigned byte),
 * the number of dimensions, then one uint32 per dimension. The data follows
 * and must fill the rest of the file exactly.
 *
 *   idx3 images: magic 0x00000803, dims [count, rows, cols] -> 16-byte header
 *   idx1 labels: magic 0x00000801, dims [count]             ->  8-byte header
 *
 * Content may be gzip-compressed; that is detected from the gzip magic bytes
 * (1f 8b), never from the file name. Every problem with a file is reported as
 * a DataFileError naming the file, so callers never see a RangeError from a
 * lying header or an out-of-memory from a gzip bomb.
 */
import { readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** A data file is missing, unreadable or malformed. `message` is `${file}: ${detail}`. */
export class DataFileError extends Error {
  readonly file: string;
  readonly detail: string;

  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'DataFileError';
    this.file = file;
    this.detail = detail;
  }
}

export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  /** count*rows*cols bytes, row-major; a view into the parsed bytes (no copy). */
  readonly pixels: Uint8Array;
}

export interface IdxLabels {
  readonly count: number;
  /** a view into the parsed bytes (no copy). */
  readonly labels: Uint8Array;
}

/**
 * Upper bound on the size of one (decompressed) idx file. The largest idx set
 * in common use (EMNIST ByClass train images) is ~550 MB; 1 GiB leaves room
 * while keeping a gzip bomb or a stray huge file from exhausting memory.
 */
export const MAX_IDX_BYTES = 1 << 30;

const UBYTE = 0x08;
const IMAGES = { magic: 0x00000803, dims: 3, what: 'idx3 images' } as const;
const LABELS = { magic: 0x00000801, dims: 1, what: 'idx1 labels' } as const;

const hex8 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;
const plural = (n: number | bigint, one: string, many = `${one}s`): string =>
  `${n} ${n === 1 || n === 1n ? one : many}`;

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompresses gzip content; plain content is returned unchanged. */
function maybeGunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    // maxOutputLength makes zlib stop (RangeError) instead of growing its
    // output without bound, so a bomb costs at most MAX_IDX_BYTES.
    return gunzipSync(bytes, { maxOutputLength: MAX_IDX_BYTES });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataFileError(file, `gzip content decompresses to more than ${MAX_IDX_BYTES} bytes (the limit)`);
    }
    throw new DataFileError(file, `gzip stream is corrupt or truncated: ${e.message}`);
  }
}

/**
 * Checks the magic number and the length of the header; returns the dims.
 * The magic is split into its parts so that the error says what is wrong:
 * a bad type code is "unsupported data type", anything else "bad magic"
 * (a wrong dimension count, e.g. a labels file read as images, included).
 */
function readHeader(bytes: Uint8Array, file: string, kind: typeof IMAGES | typeof LABELS): number[] {
  const headerBytes = 4 + 4 * kind.dims;
  if (bytes.length === 0) throw new DataFileError(file, 'file is empty');
  if (bytes.length < 4) {
    throw new DataFileError(file, `too short for an idx header: ${plural(bytes.length, 'byte')}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const badMagic = (): DataFileError =>
    new DataFileError(file, `bad magic ${hex8(magic)}, expected ${hex8(kind.magic)} (${kind.what})`);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw badMagic();
  if (bytes[2] !== UBYTE) {
    throw new DataFileError(
      file,
      `unsupported data type ${hex2(bytes[2])}, only ${hex2(UBYTE)} (unsigned byte) is supported`,
    );
  }
  if (bytes[3] !== kind.dims) throw badMagic();
  if (bytes.length < headerBytes) {
    throw new DataFileError(
      file,
      `too short for an idx header: ${plural(bytes.length, 'byte')}, an ${kind.what} header needs ${headerBytes}`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < kind.dims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  return dims;
}

/**
 * Compares the data size the header claims against what the file holds.
 * BigInt because count*rows*cols can reach ~2^96; the comparison happens
 * before anything is allocated, so a lying header is an error, not an OOM.
 */
function checkDataSize(file: string, claim: string, claimed: bigint, held: number): void {
  const have = BigInt(held);
  if (claimed > have) {
    throw new DataFileError(
      file,
      `header claims ${claim} (${plural(claimed, 'byte')}) but the file holds only ${plural(held, 'byte')} of data`,
    );
  }
  if (claimed < have) {
    throw new DataFileError(
      file,
      `header claims ${claim} (${plural(claimed, 'byte')}) but the file holds ${plural(held, 'byte')} of data ` +
        `(${plural(have - claimed, 'trailing byte')})`,
    );
  }
}

/** Parses idx3 unsigned-byte images, plain or gzip. */
export function parseIdxImages(bytes: Uint8Array, file: string): IdxImages {
  const data = maybeGunzip(bytes, file);
  const [count, rows, cols] = readHeader(data, file, IMAGES);
  const claim = `${plural(count, 'image')} of ${rows}x${cols}`;
  if (count === 0 || rows === 0 || cols === 0) {
    throw new DataFileError(file, `header claims ${claim}: zero-size dimension`);
  }
  checkDataSize(file, claim, BigInt(count) * BigInt(rows) * BigInt(cols), data.length - 16);
  return { count, rows, cols, pixels: data.subarray(16) };
}

/** Parses idx1 unsigned-byte labels, plain or gzip; each must be < numClasses. */
export function parseIdxLabels(bytes: Uint8Array, file: string, numClasses = 10): IdxLabels {
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 256) {
    // A caller bug, not a bad file.
    throw new RangeError(`numClasses must be an integer in 1..256, got ${numClasses}`);
  }
  const data = maybeGunzip(bytes, file);
  const [count] = readHeader(data, file, LABELS);
  checkDataSize(file, plural(count, 'label'), BigInt(count), data.length - 8);
  const labels = data.subarray(8);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) {
      throw new DataFileError(file, `label at index ${i} is ${labels[i]}, outside 0..${numClasses - 1}`);
    }
  }
  return { count, labels };
}

/** Reads a whole file, turning every fs failure into a DataFileError. */
function readBytes(path: string): Uint8Array {
  try {
    // Stat first so a huge file is refused before it is read into memory.
    const { size } = statSync(path);
    if (size > MAX_IDX_BYTES) {
      throw new DataFileError(path, `file is ${size} bytes, more than the ${MAX_IDX_BYTES}-byte limit`);
    }
    return readFileSync(path);
  } catch (err) {
    if (err instanceof DataFileError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new DataFileError(path, 'not found');
    throw new DataFileError(path, `cannot read: ${e.message}`);
  }
}

export function readIdxImages(path: string): IdxImages {
  return parseIdxImages(readBytes(path), path);
}

export function readIdxLabels(path: string, numClasses = 10): IdxLabels {
  return parseIdxLabels(readBytes(path), path, numClasses);
}
