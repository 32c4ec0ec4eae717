/**
 * The addon's image decode for a training thread, which cannot wait
 * asynchronously inside its step loop: a thread of its own runs decodeImage and
 * the training thread blocks until the answer is there.
 *
 * Note [a blocking decode]: the addon decodes synchronously only through its
 * Image element, whose load events need the event loop the step loop holds, and
 * every such image stays referenced (memory grows by each image of each epoch).
 * So the files the JavaScript PNG decoder does not take (JPEGs, PNGs to resize
 * or outside the common case) go to this thread: the training thread posts the
 * request, sleeps on a shared cell (Atomics.wait) and reads the reply from its
 * port (receiveMessageOnPort) once the thread has set the cell.
 * Re-check: npx vitest run test/image-files.test.ts (JPEGs, resized PNGs)
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { DecodeReply, DecodeRequest } from '../data/decode-pool.js';
import { ImageFileError, ImageSizeError, type ImageFormat } from '../data/image-decode.js';

const WORKER = new URL('../../workers/image-batch-worker.js', import.meta.url);
/** How long a file may take to decode. */
const FILE_TIMEOUT_MS = 60_000;

interface Decoder {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly done: Int32Array;
  readonly progress: Int32Array;
}

let decoder: Decoder | undefined;

/** `files` decoded, in order, as rows of one array; a bad file is its ImageFileError or ImageSizeError. */
export function decodeBlocking(files: readonly string[], format: ImageFormat): Float32Array {
  const d = (decoder ??= start());
  Atomics.store(d.done, 0, 0);
  Atomics.store(d.progress, 0, 0);
  const request: DecodeRequest = { files, format, progress: d.progress, slot: 0 };
  d.worker.postMessage(request);
  for (;;) {
    const at = Atomics.load(d.progress, 0);
    if (Atomics.wait(d.done, 0, 0, FILE_TIMEOUT_MS) !== 'timed-out') break;
    if (Atomics.load(d.progress, 0) === at)
      throw new ImageFileError(files[at], `was not decoded within ${FILE_TIMEOUT_MS / 1000} s`);
  }
  const reply = receiveMessageOnPort(d.port)?.message as DecodeReply | undefined;
  if (reply === undefined) throw new Error(`the decoding thread answered nothing for ${files[0]} and on`);
  if ('error' in reply) throw new Error(`decoding ${files[0]} and on: ${reply.error}`);
  const [bad] = reply.bad;
  if (bad !== undefined) throw new (bad.size ? ImageSizeError : ImageFileError)(files[bad.index], bad.detail);
  return reply.images;
}

function start(): Decoder {
  const { port1, port2 } = new MessageChannel();
  const done = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(WORKER, { workerData: { reply: port2, done }, transferList: [port2] });
  worker.unref(); // ends with the training thread
  return { worker, port: port1, done, progress: new Int32Array(new SharedArrayBuffer(4)) };
}
