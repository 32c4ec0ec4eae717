/**
 * A decoding thread of imageFolder (src/data/image-folder.ts): decodes its part
 * of the file list, each image straight into its row of the shared buffer (or,
 * checking a folder decoded later, into a scratch row), and
 * posts one message per file (decoded, or bad with the reason), then `done`;
 * it stops before its next image once asked to (stop[0] = 1).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ImageFileError, ImageSizeError, decodeImage } from '../src/data/image-decode.js';
import type { DecodeMessage, DecodeTask } from '../src/data/image-folder.js';

const { files, first, images, format, stop } = workerData as DecodeTask;
const f = format.height * format.width * format.channels;
const scratch = images === undefined ? new Float32Array(f) : undefined;
const post = (m: DecodeMessage): void => parentPort!.postMessage(m);
for (let i = 0; i < files.length && Atomics.load(stop, 0) === 0; i++) {
  const row = first + i;
  try {
    await decodeImage(files[i], format, scratch ?? images!.subarray(row * f, (row + 1) * f));
    post({ kind: 'decoded' });
  } catch (err) {
    if (!(err instanceof ImageFileError || err instanceof ImageSizeError)) throw err;
    post({ kind: 'bad', detail: err.detail, size: err instanceof ImageSizeError });
  }
}
post({ kind: 'done' });
