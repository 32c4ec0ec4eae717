/**
 * node dist/bench/tensorboard.js [--fit [--reps N]]: what TensorBoard logging costs (src/tensorboard/).
 *  1. EventWriter: one scalar() (encode a record, buffer it), and the write of the
 *     buffer per scalar (flush(), one appendFileSync of whole records);
 *  2. the tensorBoard() callback's onBatchEnd per step, logs { batch, size, loss, acc },
 *     with updateFreq 'batch' and 10 ('epoch' has no batch hook at all);
 *  3. with --fit: fitParallel, examples/mlp.js on MNIST at 2 workers, batch 64,
 *     samples/s of epochs after the first without a callback, with tensorBoard('epoch'),
 *     with updateFreq 10 and 'batch' (hooks that read only logs: chunks of steps, Note
 *     [logs-only chunks] in src/fit/chunks.ts), with an empty onBatchEnd declared so, and
 *     with a plain empty onBatchEnd (what a batch hook that may read the model costs: a
 *     step per task and the live model's weights before each hook, Note [batch callbacks]
 *     in src/fit/callbacks.ts), N interleaved repetitions (default 5); median samples/s,
 *     and the median of each epoch's ratio to none's same epoch of the same repetition.
 * Medians of repetitions; compare within one run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { EventWriter, fitParallel, loadDataset, tensorBoard, type Callback } from '../src/index.js';

const REPS = 5;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const us = (ms: number): string => `${(ms * 1000).toFixed(2)} µs`;

const { values } = parseArgs({
  options: { fit: { type: 'boolean', default: false }, reps: { type: 'string', default: '5' } },
});
const fitReps = Number(values.reps);
if (!Number.isInteger(fitReps) || fitReps < 1) throw new Error(`--reps must be an integer >= 1, got ${values.reps}`);
const tmp = mkdtempSync(join(tmpdir(), 'wddp-bench-tb-'));

/** Median ms per call of `once` over REPS runs of `n` calls (after one run to warm up). */
async function perCall(n: number, once: (i: number) => unknown): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r <= REPS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await once(i);
    if (r > 0) times.push((performance.now() - t0) / n);
  }
  return median(times);
}

// 1. The writer.
{
  const N = 100_000;
  const w = new EventWriter(join(tmp, 'writer'), { flushEveryMs: 60_000 });
  const scalar = await perCall(N, (i) => w.scalar('batch_loss', 1 / (i + 1), i));
  w.flush();
  const flushes: number[] = [];
  for (let r = 0; r < REPS; r++) {
    for (let i = 0; i < N; i++) w.scalar('batch_loss', 1 / (i + 1), i);
    const t0 = performance.now();
    w.flush();
    flushes.push((performance.now() - t0) / N);
  }
  w.close();
  console.log(
    `EventWriter.scalar: ${us(scalar)} per scalar; its write (flush of ${N}): ${us(median(flushes))} per scalar`,
  );
}

// 2. The callback's batch hook.
for (const updateFreq of ['batch', 10] as const) {
  const N = 50_000;
  const cb = tensorBoard(join(tmp, `callback-${updateFreq}`), { updateFreq });
  const step = await perCall(N, (i) => cb.onBatchEnd(i, { batch: i, size: 64, loss: 1 / (i + 1), acc: 0.5 }));
  await cb.onTrainEnd();
  console.log(`tensorBoard({ updateFreq: ${JSON.stringify(updateFreq)} }).onBatchEnd: ${us(step)} per step`);
}

// 3. fitParallel with and without the callback.
if (values.fit) {
  const SAMPLES = 4096;
  const EPOCHS = 3;
  await tf.setBackend('cpu');
  const mlp = async (): Promise<tf.LayersModel> =>
    (
      (await import(new URL('../../examples/mlp.js', import.meta.url).href)) as { default: () => tf.LayersModel }
    ).default();
  const d = loadDataset();
  const x = tf.tensor2d(d.train.images.subarray(0, SAMPLES * 784), [SAMPLES, 784]);
  const y = tf.oneHot(tf.tensor1d(Int32Array.from(d.train.labels.subarray(0, SAMPLES)), 'int32'), 10).toFloat();
  const rows: Record<string, () => Callback[]> = {
    none: () => [],
    "tensorBoard('epoch')": () => [tensorBoard(join(tmp, 'fit-epoch'))],
    'tensorBoard(every 10)': () => [tensorBoard(join(tmp, 'fit-10'), { updateFreq: 10 })],
    "tensorBoard('batch')": () => [tensorBoard(join(tmp, 'fit-batch'), { updateFreq: 'batch' })],
    'an empty onBatchEnd, readsModelInBatchHooks false': () => [
      { onBatchEnd: () => undefined, readsModelInBatchHooks: false },
    ],
    'an empty onBatchEnd': () => [{ onBatchEnd: () => undefined }],
  };
  const rates: Record<string, number[]> = Object.fromEntries(Object.keys(rows).map((k) => [k, []]));
  for (let r = 0; r < fitReps; r++) {
    for (const [name, callbacks] of Object.entries(rows)) {
      const m = await mlp();
      let begin = 0;
      const clock: Callback = {
        onEpochBegin: () => void (begin = performance.now()),
        onEpochEnd: (e) => void (e > 0 && rates[name].push(SAMPLES / ((performance.now() - begin) / 1000))),
      };
      await fitParallel(m, x, y, { epochs: EPOCHS, batchSize: 64, workers: 2, callbacks: [...callbacks(), clock] });
    }
  }
  for (const [name, rs] of Object.entries(rates)) {
    const ratio = median(rs.map((v, i) => v / rates.none[i]));
    console.log(`fitParallel MLP, 2 workers, ${name}: ${median(rs).toFixed(0)} samples/s (${ratio.toFixed(3)}x none)`);
  }
}

rmSync(tmp, { recursive: true, force: true });
