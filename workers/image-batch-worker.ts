/**
 * A decoding thread of a streamed image folder (src/data/decode-pool.ts): per
 * request, decodes its files in order, packing the readable ones into rows 0,
 * 1, ... of a fresh buffer it hands back (transferred, not copied), with the bad
 * files and their reasons. progress[slot] is the file at hand, for the pool's deadline.
 */
import { parentPort } from 'node:worker_threads';
import { ImageFileError, ImageSizeError, decodeImage } from '../src/data/image-decode.js';
import type { BadImage, DecodeReply, DecodeRequest } from '../src/data/decode-pool.js';

parentPort!.on('message', ({ files, format, progress, slot }: DecodeRequest) => {
  void decodeAll(files, format, progress, slot).then(
    (reply) => parentPort!.postMessage(reply, 'images' in reply ? [reply.images.buffer as ArrayBuffer] : []),
    (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
  );
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
