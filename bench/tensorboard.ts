/**
 * node dist/bench/tensorboard.js [--fit [--reps N]] [--cli [--pairs N]]: what TensorBoard logging costs (src/tensorboard/).
 *  1. EventWriter: one scalar() (encode a record, buffer it), and the write of the
 *     buffer per scalar (flush(), one appendFileSync of whole records);
 *  2. the tensorBoard() callback's onBatchEnd per step, logs { batch, size, loss, acc },
 *     with updateFreq 'batch' and 10 ('epoch' has no batch hook at all); the phase times the
 *     CLI's log turns on (Trainer option phaseTimes): a worker's marks of one step (a clock
 *     and MARKS.length reads), and the coordinator's PhaseTimes.add per step of 2 threads;
 *  3. with --fit: fitParallel, examples/mlp.js on MNIST at 2 workers, batch 64,
 *     samples/s of epochs after the first without a callback, with tensorBoard('epoch'),
 *     with updateFreq 10 and 'batch' (hooks that read only logs: chunks of steps, Note
 *     [logs-only chunks] in src/fit/chunks.ts), with an empty onBatchEnd declared so, and
 *     with a plain empty onBatchEnd (what a batch hook that may read the model costs: a
 *     step per task and the live model's weights before each hook, Note [batch callbacks]
 *     in src/fit/callbacks.ts), N interleaved repetitions (default 5); median samples/s,
 *     and the median of each epoch's ratio to none's same epoch of the same repetition.
 *  4. with --cli: the CLI's log (src/cli/tensorboard-log.ts: --logdir with --log-every 10,
 *     and the phase marks it turns on) against --logdir none, the tutorial MLP on MNIST at 2
 *     workers, 3 epochs each; N pairs of runs (default 3) interleaved, the order alternating,
 *     each run's best epoch (samples/s); the ratio per pair and their median, with the load average.
 * Medians of repetitions; compare within one run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { EventWriter, fitParallel, loadDataset, tensorBoard, type Callback } from '../src/index.js';
import { PhaseTimes } from '../src/profile/phase-times.js';
import { MARKS, slotClock } from '../src/profile/record.js';

const REPS = 5;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const us = (ms: number): string => `${(ms * 1000).toFixed(2)} µs`;

const { values } = parseArgs({
  options: {
    fit: { type: 'boolean', default: false },
    reps: { type: 'string', default: '5' },
    cli: { type: 'boolean', default: false },
    pairs: { type: 'string', default: '3' },
  },
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

// The phase marks and their summary, per step.
{
  const S = 1000;
  const marks = new Float64Array(S * 2 * MARKS.length);
  const mark = await perCall(100_000, (g) => {
    const clock = slotClock(marks, (g % S) * 2);
    for (const m of MARKS) clock?.(m);
  });
  const times = new PhaseTimes(2);
  const add = await perCall(100, () => times.add(marks, S));
  console.log(`phase marks: ${us(mark)} per step and thread; PhaseTimes.add: ${us(add / S)} per step of 2 threads`);
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

// 4. The CLI with and without its TensorBoard log.
if (values.cli) {
  const PAIRS = Number(values.pairs);
  if (!Number.isInteger(PAIRS) || PAIRS < 1) throw new Error(`--pairs must be an integer >= 1, got ${values.pairs}`);
  const main = new URL('../src/cli/main.js', import.meta.url).pathname;
  const load = (): string =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  /** The best epoch's samples/s of one 3-epoch run with `log`. */
  const best = (log: readonly string[], n: number): number => {
    const args = ['--workers', '2', '--epochs', '3', '--backend', 'wasm', '--json', '--out', join(tmp, `cli-${n}`)];
    const r = spawnSync(process.execPath, [main, ...args, ...log], { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(`train exited ${r.status}: ${r.stderr}`);
    const rates = r.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { samplesPerSecond: number }).samplesPerSecond);
    return Math.max(...rates);
  };
  const arms = { on: ['--log-every', '10'], off: ['--logdir', 'none'] };
  console.log(`CLI, MLP, 2 workers, best of 3 epochs; load average before: ${load()}`);
  const ratios: number[] = [];
  for (let p = 0; p < PAIRS; p++) {
    const order = p % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
    const got = { on: 0, off: 0 };
    for (const arm of order) got[arm] = best(arms[arm], 2 * p + (arm === 'on' ? 0 : 1));
    ratios.push(got.on / got.off);
    console.log(
      `  pair ${p + 1}: --logdir (every 10) ${got.on.toFixed(0)}, --logdir none ${got.off.toFixed(0)} samples/s: ` +
        `${(got.on / got.off).toFixed(3)}x; load ${load()}`,
    );
  }
  console.log(`CLI --logdir against --logdir none: median ${median(ratios).toFixed(3)}x over ${PAIRS} pairs`);
}

rmSync(tmp, { recursive: true, force: true });
