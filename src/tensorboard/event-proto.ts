/**
 * The protobuf bytes of TensorBoard's `Event`, the payload of each record of an
 * event file, for the fields written here:
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5;
 *             SessionLog session_log = 7; }
 *   Summary { repeated Value value = 1; }
 *   SessionLog { SessionStatus status = 1; }   (START = 1)
 *   Value   { string tag = 1; float simple_value = 2; }
 * Encoded by hand (wire types 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32):
 * five small messages need no protobuf runtime.
 */

/** One scalar of a Summary: TensorBoard keeps it as a float32 (NaN and infinities too). */
export interface ScalarValue {
  readonly tag: string;
  readonly value: number;
}

/** An Event: the first of a file names its version; the others carry scalars or a session start. */
export interface EventFields {
  /** Seconds since the Unix epoch. */
  readonly wallTime: number;
  /** An integer from 0 to Number.MAX_SAFE_INTEGER. */
  readonly step: number;
  readonly fileVersion?: string;
  readonly scalars?: readonly ScalarValue[];
  /** A SessionLog START: training (re)started at `step`. */
  readonly sessionStart?: boolean;
}

/** SessionLog.SessionStatus START. */
const START = 1;

const VARINT = 0;
const FIXED64 = 1;
const DELIMITED = 2;
const FIXED32 = 5;

const utf8 = new TextEncoder();

/** Appends fields to a growing byte list; `bytes()` is the message. */
class Message {
  private readonly out: number[] = [];
  private static readonly scratch = new DataView(new ArrayBuffer(8));

  private varint(v: number): void {
    // v is a non-negative integer <= 2^53: division, not bit operators, past 32 bits.
    while (v >= 0x80) {
      this.out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.out.push(v);
  }

  private key(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  uint64(field: number, v: number): this {
    this.key(field, VARINT);
    this.varint(v);
    return this;
  }

  double(field: number, v: number): this {
    this.key(field, FIXED64);
    Message.scratch.setFloat64(0, v, true);
    for (let i = 0; i < 8; i++) this.out.push(Message.scratch.getUint8(i));
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, FIXED32);
    Message.scratch.setFloat32(0, v, true);
    for (let i = 0; i < 4; i++) this.out.push(Message.scratch.getUint8(i));
    return this;
  }

  delimited(field: number, b: ArrayLike<number>): this {
    this.key(field, DELIMITED);
    this.varint(b.length);
    for (let i = 0; i < b.length; i++) this.out.push(b[i]);
    return this;
  }

  string(field: number, s: string): this {
    return this.delimited(field, utf8.encode(s));
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** The Event message's bytes. */
export function encodeEvent(e: EventFields): Uint8Array {
  const m = new Message().double(1, e.wallTime).uint64(2, e.step);
  if (e.fileVersion !== undefined) m.string(3, e.fileVersion);
  if (e.scalars !== undefined) {
    const summary = new Message();
    for (const s of e.scalars) summary.delimited(1, new Message().string(1, s.tag).float(2, s.value).bytes());
    m.delimited(5, summary.bytes());
  }
  if (e.sessionStart === true) m.delimited(7, new Message().uint64(1, START).bytes());
  return m.bytes();
}
