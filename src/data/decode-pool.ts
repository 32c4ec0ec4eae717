/**
 * Threads that decode lists of image files on request, for a streamed image
 * folder (image-stream.ts): decode(files) resolves with the readable images,
 * packed row after row, and the bad files with their reasons. Each thread takes
 * one request at a time; requests wait in order for a free thread. The threads
 * start on the first request and hold the process open only while a request is
 * out (an idle pool lets the program end); close() ends them.
 */
import { Worker } from 'node:worker_threads';
import { DataFileError } from './idx.js';
import type { ImageFormat } from './image-decode.js';

/** A thread's work: decode `files` in order, packing the readable ones into rows 0, 1, ...; progress[slot] is the file at hand. */
export interface DecodeRequest {
  readonly files: readonly string[];
  readonly format: ImageFormat;
  readonly progress: Int32Array;
  readonly slot: number;
}

/** A bad file of a request: its position in `files`, why, and whether only its size is wrong (never skipped). */
export interface BadImage {
  readonly index: number;
  readonly detail: string;
  readonly size: boolean;
}

/** A thread's answer: the readable files' images (kept.length rows), their positions in `files`, and the bad ones. */
export type DecodeReply =
  | { readonly images: Float32Array; readonly kept: readonly number[]; readonly bad: readonly BadImage[] }
  | { readonly error: string };

export type Decoded = Extract<DecodeReply, { images: Float32Array }>;

const WORKER = new URL('../../workers/image-batch-worker.js', import.meta.url);

interface Request {
  readonly files: readonly string[];
  done(r: DecodeReply | Error): void;
}

interface Thread {
  readonly worker: Worker;
  /** The request out, if any. */
  busy?: Request;
  /** Its deadline's next check, cleared when it is answered: the timer would keep the answer alive. */
  timer?: NodeJS.Timeout;
}

export class DecodePool {
  private threads: Thread[] | undefined;
  /** Requests waiting for a free thread, oldest first. */
  private readonly queue: Request[] = [];
  private readonly progress: Int32Array;
  private failure: Error | undefined;
  /** close() was called: no request is taken again. */
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly format: ImageFormat,
    /** A request whose thread finishes no file for this long fails, naming the file. */
    private readonly timeoutMs: number,
  ) {
    this.progress = new Int32Array(new SharedArrayBuffer(4 * size));
  }

  /** Decodes `files` on the next free thread. */
  async decode(files: readonly string[]): Promise<Decoded> {
    const reply = await new Promise<DecodeReply | Error>((done) => {
      this.queue.push({ files, done });
      this.dispatch();
    });
    if (reply instanceof Error) throw reply;
    if ('error' in reply) throw new Error(`decoding ${files[0]} and on: ${reply.error}`);
    return reply;
  }

  /** Ends the threads; a request out fails, and every later one. */
  async close(): Promise<void> {
    this.closed = true;
    this.failure ??= new Error('the decoding threads were closed');
    await this.end(this.failure);
  }

  /**
   * Takes requests again after a failure (a thread that died or stalled), on new
   * threads: what failed stays failed, and the next pass over the files starts clean.
   */
  renew(): void {
    if (!this.closed && this.threads === undefined && this.queue.length === 0) this.failure = undefined;
  }

  /** Ends the threads; a request out fails with the failure. */
  private async end(err: Error): Promise<void> {
    const threads = this.threads ?? [];
    this.threads = undefined;
    for (const t of threads) t.busy?.done(err);
    for (const r of this.queue.splice(0)) r.done(err);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  /** Hands the waiting requests, in order, to the free threads. */
  private dispatch(): void {
    if (this.failure !== undefined) {
      for (const r of this.queue.splice(0)) r.done(this.failure);
      return;
    }
    this.threads ??= Array.from({ length: this.size }, () => this.start());
    for (const [slot, thread] of this.threads.entries()) {
      const request = thread.busy === undefined ? this.queue.shift() : undefined;
      if (request === undefined) continue;
      thread.busy = request;
      thread.worker.ref();
      Atomics.store(this.progress, slot, 0);
      const message: DecodeRequest = { files: request.files, format: this.format, progress: this.progress, slot };
      thread.worker.postMessage(message);
      this.watch(thread, slot, request.files);
    }
  }

  private start(): Thread {
    const thread: Thread = { worker: new Worker(WORKER) };
    const finish = (r: DecodeReply | Error): void => {
      const busy = thread.busy;
      thread.busy = undefined;
      clearTimeout(thread.timer);
      thread.worker.unref();
      busy?.done(r);
      this.dispatch();
    };
    thread.worker.unref();
    thread.worker.on('message', (r: DecodeReply) => finish(r));
    thread.worker.on('error', (err) => this.fail(new Error(`a decoding thread failed: ${err.message}`)));
    thread.worker.on('exit', (code) => {
      // A thread ended by end() exits too, perhaps after renew() started others.
      if (this.threads?.includes(thread) === true) this.fail(new Error(`a decoding thread exited with code ${code}`));
    });
    return thread;
  }

  /** Every request out and every later one fails with `err`. */
  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    for (const t of this.threads ?? []) t.busy?.done(err);
    for (const r of this.queue.splice(0)) r.done(err);
    void this.end(err);
  }

  /** Fails the pool when the thread's file at hand has not changed for timeoutMs. */
  private watch(thread: Thread, slot: number, files: readonly string[]): void {
    const busy = thread.busy;
    let seen = -1;
    const tick = (): void => {
      if (thread.busy !== busy) return;
      const at = Atomics.load(this.progress, slot);
      if (at === seen) {
        const s = this.timeoutMs / 1000;
        this.fail(new DataFileError(files[at] ?? files[0], `was not decoded within ${s} s`));
        return;
      }
      seen = at;
      thread.timer = setTimeout(tick, this.timeoutMs).unref();
    };
    tick();
  }
}
