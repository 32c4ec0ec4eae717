import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OptionError, showValue } from '../errors.js';
import { encodeEvent } from './event-proto.js';
import { tfRecord } from './tfrecord.js';

/**
 * Note [file version]: the first event of every file says "brain.Event:2", as
 * TensorFlow's writers do. From version 2 on, TensorBoard's reader takes only a
 * logged session restart for a crash to purge; below it (or with no version) it takes
 * any event whose step is below the latest event's for one, and drops that tag's
 * later steps. One file interleaves batch_ scalars at the running batch count with
 * epoch_ scalars at the epoch number, so every epoch event would look like one.
 * `npx vitest run test/tensorboard.test.ts` reads both kinds back with TensorBoard.
 */
export const FILE_VERSION = 'brain.Event:2';

export interface EventWriterOptions {
  /** Buffered scalars are written at least this often, in ms (default 2000). */
  readonly flushEveryMs?: number;
}

/** An event file that could not be created or written; the message names it. */
export class EventFileError extends Error {
  override readonly name = 'EventFileError';
}

/**
 * Writers not yet closed: on process exit each writes what it still holds, so an
 * uncaught error or process.exit() mid-training loses no scalar already given.
 */
const open = new Set<EventWriter>();
let exitHook = false;

/**
 * A TensorBoard event file in `dir` (created if missing): one run, as TensorBoard
 * calls a folder of event files. Named `events.out.tfevents.<unix seconds>.<host>`,
 * with `.1`, `.2`, ... where that name is taken (two writers in one second): the
 * file is created exclusively, so writers never share one. Its first record holds
 * the file version; each scalar() adds one event.
 *
 * Note [event writes]: scalar() encodes and buffers; the buffer is appended, as one
 * write of whole records, every `flushEveryMs` (a timer that never keeps the process
 * alive), on flush(), on close(), and at process exit: a process killed by a signal
 * loses at most the last flushEveryMs of scalars. A write cut short (kill -9, a full
 * disk) leaves whole records and at most one truncated last record, which
 * TensorBoard's reader skips. A write error never throws into the caller of
 * scalar(), which runs inside a training step: the first one is kept, the writer
 * drops everything after it (appending past a partial record would leave a file
 * TensorBoard stops reading there), and flush() and close() throw it, naming the
 * file. Re-measure a write's cost with `node dist/bench/tensorboard.js`.
 */
export class EventWriter {
  /** The event file. */
  readonly path: string;
  private fd: number | undefined;
  private pending: Buffer[] = [];
  private error: EventFileError | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(dir: string, options: EventWriterOptions = {}) {
    if (typeof dir !== 'string' || dir === '')
      throw new OptionError(`EventWriter needs a folder (a non-empty string), got ${showValue(dir)}`);
    if (typeof options !== 'object' || options === null)
      throw new OptionError(`EventWriter takes an object of options, got ${showValue(options)}`);
    const every = options.flushEveryMs ?? 2000;
    if (!Number.isInteger(every) || every < 1 || every > 60_000)
      throw new OptionError(`EventWriter flushEveryMs must be an integer from 1 to 60000, got ${showValue(every)}`);
    const base = `events.out.tfevents.${String(Math.floor(Date.now() / 1000)).padStart(10, '0')}.${hostname()}`;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new EventFileError(`cannot create the TensorBoard folder ${dir}: ${(e as Error).message}`, { cause: e });
    }
    let path = join(dir, base);
    for (let n = 1; this.fd === undefined; n++) {
      try {
        this.fd = openSync(path, 'ax');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
          throw new EventFileError(`cannot create the TensorBoard event file ${path}: ${(e as Error).message}`, {
            cause: e,
          });
        path = join(dir, `${base}.${n}`);
      }
    }
    this.path = path;
    this.pending.push(tfRecord(encodeEvent({ wallTime: Date.now() / 1000, step: 0, fileVersion: FILE_VERSION })));
    this.write();
    if (this.error !== undefined) {
      closeSync(this.fd);
      throw this.error;
    }
    this.timer = setInterval(() => this.write(), every).unref();
    open.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => open.forEach((w) => w.write()));
    }
  }

  /**
   * Adds scalar `tag` = `value` (kept as a float32; NaN and infinities too) at `step`,
   * an integer >= 0, stamped `wallTime` (seconds since the Unix epoch, default now).
   */
  scalar(tag: string, value: number, step: number, wallTime: number = Date.now() / 1000): void {
    if (typeof tag !== 'string' || tag === '')
      throw new OptionError(`scalar tag must be a non-empty string, got ${showValue(tag)}`);
    if (typeof value !== 'number')
      throw new OptionError(`scalar ${tag}: the value must be a number, got ${showValue(value)}`);
    if (!Number.isSafeInteger(step) || step < 0)
      throw new OptionError(`scalar ${tag}: the step must be an integer >= 0, got ${showValue(step)}`);
    if (typeof wallTime !== 'number' || !Number.isFinite(wallTime))
      throw new OptionError(`scalar ${tag}: wallTime must be a finite number of seconds, got ${showValue(wallTime)}`);
    if (this.fd === undefined) throw new EventFileError(`the TensorBoard event file ${this.path} is closed`);
    if (this.error !== undefined) return;
    this.pending.push(tfRecord(encodeEvent({ wallTime, step, scalars: [{ tag, value }] })));
  }

  /**
   * Adds a session start at `step`, an integer >= 1: training resumed there.
   *
   * Note [restart purges]: TensorBoard's reader (EventAccumulator, and the server's fast
   * loader alike), meeting a SessionLog START at step s, drops every event of this run it
   * read before with a step >= s, whatever its tag: TensorFlow's own signal that a run
   * restarted from a checkpoint. A run resumed from step k writes one at k + 1 before its
   * first scalar, so steps an earlier process logged past its last checkpoint (a crash, a
   * failed step) are not shown twice. Epoch-stepped tags in the same folder keep their
   * points: epoch e is written after its last step e * stepsPerEpoch <= k, and e < k + 1.
   * `npx vitest run test/tensorboard.test.ts -t restart` reads a restart back.
   */
  restart(step: number): void {
    if (!Number.isSafeInteger(step) || step < 1)
      throw new OptionError(`restart: the step must be an integer >= 1, got ${showValue(step)}`);
    if (this.fd === undefined) throw new EventFileError(`the TensorBoard event file ${this.path} is closed`);
    if (this.error !== undefined) return;
    this.pending.push(tfRecord(encodeEvent({ wallTime: Date.now() / 1000, step, sessionStart: true })));
  }

  /** Writes what is buffered; throws the first write error, if any. */
  flush(): void {
    this.write();
    if (this.error !== undefined) throw this.error;
  }

  /** Writes what is buffered and closes the file; throws the first write error, if any. Closing twice is a no-op. */
  close(): void {
    if (this.fd === undefined) return;
    this.write();
    clearInterval(this.timer);
    open.delete(this);
    closeSync(this.fd);
    this.fd = undefined;
    if (this.error !== undefined) throw this.error;
  }

  /** Appends the buffer as one write; keeps the first error instead of throwing it. */
  private write(): void {
    if (this.pending.length === 0 || this.fd === undefined || this.error !== undefined) return;
    const bytes = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    try {
      appendFileSync(this.fd, bytes);
    } catch (e) {
      this.error = new EventFileError(`cannot write the TensorBoard event file ${this.path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
}
