/**
 * A decoding thread (src/data/decode-pool.ts, src/worker/addon-decoder.ts): per
 * request, decodes its files in order, packing the readable ones into rows 0,
 * 1, ... of a fresh buffer it hands back (transferred, not copied), with the bad
 * files and their reasons. progress[slot] is the file at hand, for the caller's
 * deadline. Started with workerData { reply, done } (a blocked training thread's
 * decoder), it answers on that port and then sets and wakes done[0].
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { ImageFileError, ImageSizeError, decodeImage } from '../src/data/image-decode.js';
import type { BadImage, DecodeReply, DecodeRequest } from '../src/data/decode-pool.js';

const blocked = (workerData ?? undefined) as { readonly reply: MessagePort; readonly done: Int32Array } | undefined;

parentPort!.on('message', ({ files, format, progress, slot }: DecodeRequest) => {
  void decodeAll(files, format, progress, slot)
    .catch((err: unknown): DecodeReply => ({ error: err instanceof Error ? err.message : String(err) }))
    .then((reply) => {
      (blocked?.reply ?? parentPort!).postMessage(reply, 'images' in reply ? [reply.images.buffer as ArrayBuffer] : []);
      if (blocked === undefined) return;
      Atomics.store(blocked.done, 0, 1);
      Atomics.notify(blocked.done, 0);
    });
});

async function decodeAll(
  files: readonly string[],
  format: DecodeRequest['format'],
  progress: Int32Array,
  slot: number,
): Promise<DecodeReply> {
  const f = format.height * format.width * format.channels;
  const images = new Float32Array(files.length * f);
  const kept: number[] = [];
  const bad: BadImage[] = [];
  for (let i = 0; i < files.length; i++) {
    Atomics.store(progress, slot, i);
    const row = kept.length;
    try {
      await decodeImage(files[i], format, images.subarray(row * f, (row + 1) * f));
      kept.push(i);
    } catch (err) {
      if (!(err instanceof ImageFileError || err instanceof ImageSizeError)) throw err;
      bad.push({ index: i, detail: err.detail, size: err instanceof ImageSizeError });
    }
  }
  return { images: kept.length === files.length ? images : images.slice(0, kept.length * f), kept, bad };
}
