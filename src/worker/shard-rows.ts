/**
 * A thread's shard of a batch as the model replica reads it (model/types.ts
 * Batch): rows `indices` of a split in shared memory, as they are; of a split of
 * image files (data/image-files.ts), those files decoded here, into this
 * thread's buffer, as rows 0..k-1.
 *
 * Note [decoding the shard]: each training thread decodes only the files of its
 * own shard, synchronously within the step, so decoding runs on every core the
 * workers run on and memory holds one shard's images per thread. The pixels are
 * imageFolder's (decodeImage's two halves: the JavaScript PNG decode here, the
 * addon's on a thread of this one's), so a run on image files trains the model a
 * run on the folder decoded up front does, bit for bit.
 * Re-check: npx vitest run test/image-files.test.ts
 */
import type { Split } from '../data/dataset.js';
import { decodeCommonImage } from '../data/image-decode.js';
import { pathAt } from '../data/image-files.js';
import type { Batch } from '../model/types.js';
import { decodeBlocking } from './addon-decoder.js';

let buffer = new Float32Array(0);

export function shardRows(data: Split, indices: Int32Array): Batch {
  const files = data.files;
  if (files === undefined) return { ...data, indices };
  const k = indices.length;
  const f = data.features;
  if (buffer.length < k * f) buffer = new Float32Array(k * f);
  const labels = new Uint8Array(k);
  const rest: number[] = []; // the rows the addon decodes (Note [a blocking decode] in addon-decoder.ts)
  indices.forEach((r, j) => {
    if (!decodeCommonImage(pathAt(files, r), files.format, buffer.subarray(j * f, (j + 1) * f))) rest.push(j);
    labels[j] = data.labels[r];
  });
  if (rest.length > 0) {
    const decoded = decodeBlocking(
      rest.map((j) => pathAt(files, indices[j])),
      files.format,
    ); // (rest.length, f)
    rest.forEach((j, i) => buffer.set(decoded.subarray(i * f, (i + 1) * f), j * f));
  }
  const weights = data.sampleWeights?.map((w) =>
    w === undefined ? undefined : Float32Array.from(indices, (r) => w[r]),
  );
  return {
    images: buffer,
    labels,
    features: f,
    indices: Int32Array.from({ length: k }, (_, j) => j),
    ...(weights === undefined ? {} : { sampleWeights: weights }),
  };
}
