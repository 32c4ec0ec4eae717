// No tfjs tensor leaks in the workers: the live-tensor count each worker thread
// reports after its training tasks (Trainer.workerTensors()) is the same after
// epoch 1 as after epoch 3, for every thread, and stays so across evaluate() and
// predict() calls in between.
import { describe, expect, it } from 'vitest';
import { Trainer } from '../dist/src/index.js';
import { subset } from './helpers.js';

const data = subset(300, 200); // batch 32: 10 steps per epoch, the last of 12 samples

describe.each(['manual', 'autograd'] as const)("gradients '%s'", (gradients) => {
  it('2 workers, 3 epochs via fit(): live tensors per thread constant from epoch 1 on', async () => {
    const trainer = await Trainer.create({
      workers: 2,
      epochs: 3,
      batchSize: 32,
      lr: 0.05,
      backend: 'wasm',
      data,
      gradients,
    });
    try {
      const snapshots: Map<number, number>[] = [];
      for await (const e of trainer.fit()) {
        expect(Number.isFinite(e.loss)).toBe(true);
        snapshots.push(new Map(trainer.workerTensors()));
        // Work between epochs that must not leak either (its tensors are not in the count, but would be after the next epoch).
        await trainer.evaluate('train');
        await trainer.predict(data.test.images.slice(0, 5 * 784), 5);
      }
      expect(snapshots).toHaveLength(3);
      const [first, , third] = snapshots;
      console.log(
        `gradients ${gradients}: live tensors per thread after epoch 1 ${JSON.stringify([...first])}, after epoch 3 ${JSON.stringify([...third])}`,
      );
      expect(first.size).toBe(2); // one entry per worker thread
      expect([...third.keys()].sort()).toEqual([...first.keys()].sort()); // the same threads
      for (const [thread, n] of first) {
        expect(Number.isInteger(n)).toBe(true);
        expect(third.get(thread), `thread ${thread}`).toBe(n);
      }
      // One more chunk after predict/evaluate: still the same.
      await trainer.train(4);
      for (const [thread, n] of trainer.workerTensors()) expect(n, `thread ${thread}`).toBe(first.get(thread));
    } finally {
      await trainer.close();
    }
  });
});
