/**
 * npm run bench:tape-free: what the convnet's step (examples/convnet.js) costs
 * with everything written out, the head included, against tfjs autograd: the
 * bound for src/model/sequential-replica.ts, which writes out all but the head
 * (its last activation and loss go through autograd, to keep tfjs's bits).
 * Not a path the trainer takes.
 *
 * The same forward through the same kernels, and the backward written out by
 * hand: conv -> bias -> ReLU -> 2x2 max pool, twice, then flatten -> dense ->
 * softmax, categorical cross-entropy summed over the shard (d/dlogits =
 * softmax - y where tfjs's clip at 1e-7 does not bite). Prints how far its
 * gradient is from LayersReplica's (tfjs autograd), then both steps' times,
 * interleaved in one thread, at 32 samples (a worker's share at 2 workers) and
 * at 64, and the kernels each runs. Medians of paired block ratios; compare
 * within one run.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { loadModelModule } from '../src/cli/model-module.js';
import { loadDataset } from '../src/data/dataset.js';
import { layersSource } from '../src/fit/spec.js';
import { LayersReplica } from '../src/model/layers-replica.js';
import type { Batch } from '../src/model/types.js';
import { RELU_GRAD } from '../src/tfjs-kernels/relu-grad.js';

/** The convnet's weights in model.trainableWeights order: conv1 kernel, bias, conv2 kernel, bias, dense kernel, bias. */
const SHAPES = [[5, 5, 1, 8], [8], [5, 5, 8, 16], [16], [256, 10], [10]] as const;
const SIZES = SHAPES.map((s) => s.reduce((a: number, b: number) => a * b, 1));
const OFFSETS = SIZES.map((_, k) => SIZES.slice(0, k).reduce((a, b) => a + b, 0));
const POOL = { filterSize: 2, strides: 2, pad: 'valid' } as const;
const CONV = { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC' } as const;

const run = (name: string, inputs: tf.NamedTensorMap, attrs: object = {}): tf.Tensor => tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;

/** Sum over the shard of the cross-entropy, and its gradient into `grad`, by hand. */
function tapeFreeStep(params: Float32Array, { images, labels, indices }: Batch, grad: Float32Array): number {
  return tf.tidy(() => {
    const n = indices.length;
    const w = SHAPES.map((s, k) => tf.tensor(params.subarray(OFFSETS[k], OFFSETS[k] + SIZES[k]), [...s]));
    const xs = new Float32Array(n * 784);
    const ys = new Float32Array(n * 10);
    indices.forEach((i, j) => {
      xs.set(images.subarray(i * 784, i * 784 + 784), j * 784);
      ys[j * 10 + labels[i]] = 1;
    });
    const x = tf.tensor4d(xs, [n, 28, 28, 1]);
    const y = tf.tensor2d(ys, [n, 10]);
    const a1 = tf.relu(tf.add(tf.conv2d(x, w[0] as tf.Tensor4D, 1, 'valid'), w[1])); // a1 is (n, 24, 24, 8)
    const p1 = tf.maxPool(a1 as tf.Tensor4D, 2, 2, 'valid'); // p1 is (n, 12, 12, 8)
    const a2 = tf.relu(tf.add(tf.conv2d(p1, w[2] as tf.Tensor4D, 1, 'valid'), w[3])); // a2 is (n, 8, 8, 16)
    const p2 = tf.maxPool(a2 as tf.Tensor4D, 2, 2, 'valid'); // p2 is (n, 4, 4, 16)
    const f = tf.reshape(p2, [n, 256]); // f is (n, 256)
    const prob = tf.softmax(tf.add(tf.matMul(f, w[4] as tf.Tensor2D), w[5])); // prob is (n, 10)
    const loss = tf.neg(tf.sum(tf.mul(y, tf.log(tf.clipByValue(prob, 1e-7, 1 - 1e-7)))));
    const dLogits = tf.sub(prob, y); // (n, 10)
    const dW3 = tf.matMul(f, dLogits, true, false); // (256, 10)
    const db3 = tf.sum(dLogits, 0); // (10)
    const dP2 = tf.reshape(tf.matMul(dLogits, w[4] as tf.Tensor2D, false, true), [n, 4, 4, 16]);
    const dZ2 = run(RELU_GRAD, { dy: run(tf.MaxPoolGrad, { dy: dP2, input: a2, output: p2 }, POOL), x: a2 }); // (n, 8, 8, 16)
    const dW2 = run(tf.Conv2DBackpropFilter, { x: p1, dy: dZ2 }, { ...CONV, filterShape: SHAPES[2] }); // (5, 5, 8, 16)
    const db2 = tf.sum(dZ2, [0, 1, 2]); // (16)
    const dP1 = run(tf.Conv2DBackpropInput, { dy: dZ2, filter: w[2] }, { ...CONV, inputShape: [n, 12, 12, 8] }); // (n, 12, 12, 8)
    const dZ1 = run(RELU_GRAD, { dy: run(tf.MaxPoolGrad, { dy: dP1, input: a1, output: p1 }, POOL), x: a1 }); // (n, 24, 24, 8)
    const dW1 = run(tf.Conv2DBackpropFilter, { x, dy: dZ1 }, { ...CONV, filterShape: SHAPES[0] }); // (5, 5, 1, 8)
    const db1 = tf.sum(dZ1, [0, 1, 2]); // (8)
    [dW1, db1, dW2, db2, dW3, db3].forEach((g, k) => grad.set(g.dataSync(), OFFSETS[k]));
    return loss.dataSync()[0];
  });
}

const median = (v: readonly number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1];

async function main(): Promise<void> {
  if ((await initBackend('wasm')) !== 'wasm') throw new Error('this benchmark needs the wasm backend');
  const data = loadDataset();
  const source = layersSource(await loadModelModule(fileURLToPath(new URL('../../examples/convnet.js', import.meta.url))), { targets: 'onehot' });
  if (source.params.length !== SIZES.reduce((a, b) => a + b, 0)) throw new Error('examples/convnet.js no longer has the shapes this benchmark writes out');
  const replica = await LayersReplica.create(source.spec);
  const params = source.params;
  const viaTape = new Float32Array(params.length);
  const handWritten = new Float32Array(params.length);
  let next = 0;
  const batch = (n: number): Batch => ({ ...data.train, indices: Int32Array.from({ length: n }, (_, j) => (next * n + j) % data.train.labels.length) });

  const b = batch(32);
  const lossTape = replica.lossAndGradSum(params, b, viaTape);
  const lossHand = tapeFreeStep(params, b, handWritten);
  let diff = 0;
  let largest = 0;
  viaTape.forEach((g, k) => {
    diff = Math.max(diff, Math.abs(g - handWritten[k]));
    largest = Math.max(largest, Math.abs(g));
  });
  console.log(`loss: autograd ${lossTape}, by hand ${lossHand}; gradients: max |difference| ${diff.toExponential(2)}, ${(diff / largest).toExponential(1)} of the largest`);

  for (const n of [32, 64]) {
    const steps = { autograd: () => replica.lossAndGradSum(params, batch(n), viaTape), byHand: () => tapeFreeStep(params, batch(n), handWritten) };
    const block = (f: () => number, reps: number): number => {
      const t0 = performance.now();
      for (let k = 0; k < reps; k++, next++) f();
      return (performance.now() - t0) / reps;
    };
    block(steps.autograd, 1500); // warm-up: V8 keeps optimising tfjs's code for ~1,000 steps
    block(steps.byHand, 1500);
    const ratios: number[] = [];
    const times: [number[], number[]] = [[], []];
    for (let pair = 0; pair < 12; pair++) {
      // each pair in the other order than the last, so drift does not favour one
      const h0 = pair % 2 === 1 ? block(steps.byHand, 300) : undefined;
      const a = block(steps.autograd, 300);
      const h = h0 ?? block(steps.byHand, 300);
      times[0].push(a);
      times[1].push(h);
      ratios.push(a / h);
    }
    const kernels = async (f: () => number): Promise<number> => (await tf.profile(() => void f())).kernels.length;
    console.log(
      `${n} samples: autograd ${median(times[0]).toFixed(3)} ms (${await kernels(steps.autograd)} kernels), by hand ${median(times[1]).toFixed(3)} ms (${await kernels(steps.byHand)} kernels): ${median(ratios).toFixed(3)}x`,
    );
  }
}

await main();
