/**
 * npm run bench:replica: the generic path's step through the tape-free
 * sequential replica (src/model/sequential-replica.ts, the workers' default,
 * `gradients: 'manual'`) against tfjs autograd (LayersReplica,
 * `gradients: 'autograd'`), for examples/convnet.js and examples/mlp.js, at 32
 * samples (a worker's share of 64 at 2 workers) and at 64, on wasm.
 *
 * Prints, per model, whether the two give the same loss and gradient bit for
 * bit (they should: the replica's contract), then per size both steps' times,
 * interleaved in one thread, the kernels each runs, and the median of the
 * paired block ratios. Compare within one run.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { loadModelModule } from '../src/cli/model-module.js';
import { loadDataset } from '../src/data/dataset.js';
import { layersSource } from '../src/fit/spec.js';
import { LayersReplica } from '../src/model/layers-replica.js';
import { SequentialReplica } from '../src/model/sequential-replica.js';
import type { Batch, WorkerModel } from '../src/model/types.js';

const MODELS = ['convnet', 'mlp'] as const;

const median = (v: readonly number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1];

async function main(): Promise<void> {
  if ((await initBackend('wasm')) !== 'wasm') throw new Error('this benchmark needs the wasm backend');
  const data = loadDataset();
  for (const name of MODELS) {
    const source = layersSource(
      await loadModelModule(fileURLToPath(new URL(`../../examples/${name}.js`, import.meta.url))),
      { targets: 'onehot' },
    );
    const autograd = await LayersReplica.create(source.spec);
    const tapeFree = SequentialReplica.over(autograd);
    if (tapeFree === undefined)
      throw new Error(`examples/${name}.js is no longer a model the sequential replica writes out`);
    const params = source.params;
    const [g1, g2] = [new Float32Array(params.length), new Float32Array(params.length)];
    const metrics = new Float64Array(source.spec.metrics.length);
    let next = 0;
    const batch = (n: number): Batch => ({
      ...data.train,
      indices: Int32Array.from({ length: n }, (_, j) => (next * n + j) % data.train.labels.length),
    });

    const b = batch(32);
    const same =
      autograd.lossAndGradSum(params, b, g1) === tapeFree.lossAndGradSum(params, b, g2) &&
      g1.every((v, k) => Object.is(v, g2[k]));
    console.log(
      `examples/${name}.js: loss and gradient ${same ? 'bit for bit the same' : 'DIFFER (a bug: the replica promises the same bits)'}`,
    );

    for (const n of [32, 64]) {
      const step = (r: WorkerModel, g: Float32Array) => (): number =>
        r.lossAndGradSum(params, batch(n), g, undefined, metrics);
      const steps = { autograd: step(autograd, g1), replica: step(tapeFree, g2) };
      const block = (f: () => number, reps: number): number => {
        const t0 = performance.now();
        for (let k = 0; k < reps; k++, next++) f();
        return (performance.now() - t0) / reps;
      };
      block(steps.autograd, 1500); // warm-up: V8 keeps optimising tfjs's code for ~1,000 steps
      block(steps.replica, 1500);
      const ratios: number[] = [];
      const times: [number[], number[]] = [[], []];
      for (let pair = 0; pair < 12; pair++) {
        // each pair in the other order than the last, so drift does not favour one
        const r0 = pair % 2 === 1 ? block(steps.replica, 300) : undefined;
        const a = block(steps.autograd, 300);
        const r = r0 ?? block(steps.replica, 300);
        times[0].push(a);
        times[1].push(r);
        ratios.push(a / r);
      }
      const kernels = async (f: () => number): Promise<number> => (await tf.profile(() => void f())).kernels.length;
      console.log(
        `  ${n} samples: autograd ${median(times[0]).toFixed(3)} ms (${await kernels(steps.autograd)} kernels), replica ${median(times[1]).toFixed(3)} ms (${await kernels(steps.replica)} kernels): ${median(ratios).toFixed(3)}x`,
      );
    }
  }
}

await main();
