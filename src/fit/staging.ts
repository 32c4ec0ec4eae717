import { wasmHeapIo } from '../model/wasm-heap.js';
import type { Keep } from './data.js';

/**
 * Buffers a stream's batches are read into on their way to a ring slot, one
 * per input and target, reused from batch to batch.
 *
 * Note [staged batches]: decision: a streamed batch's values go into these
 * buffers, a float32 or int32 tensor straight from the wasm heap where the
 * main thread runs tfjs-wasm (model/wasm-heap.ts), and fill() copies them into
 * the slot. dataSync's fresh array per tensor per batch left the coordinator's
 * thread collecting garbage, time it takes from the workers when each worker
 * has a core. Invariant: a staged batch is dead once fill() has copied it; each
 * Loader reads its batches one after another, and the next batch() reuses the
 * buffers. Re-measure: `node dist/bench/dataset.js --only overhead`.
 */
export class Staging {
  private readonly buffers: Float32Array[] = [];

  /** A Keep for the next batch: its k-th array or tensor in buffer k, grown when too small. */
  batch(): Keep {
    let next = 0;
    const take = (length: number): Float32Array => {
      const k = next++;
      if ((this.buffers[k]?.length ?? -1) < length) this.buffers[k] = new Float32Array(length);
      return this.buffers[k].subarray(0, length);
    };
    const io = wasmHeapIo();
    return {
      values: (values) => {
        if (values instanceof Float32Array) return values; // read once, by fill(), before the batch is let go
        const into = take(values.length);
        into.set(values);
        return into;
      },
      tensor: (t) => {
        const into = take(t.size);
        if (io !== undefined && (t.dtype === 'float32' || t.dtype === 'int32')) {
          try {
            io.read(t, t.size, into, 0);
            return into;
          } catch {
            // not on this backend's heap (made under another backend): the public path
          }
        }
        into.set(t.dataSync());
        return into;
      },
    };
  }
}
