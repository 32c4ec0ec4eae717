/**
 * npm run bench: micro-benchmarks of the pieces of a step, in one run.
 *  1. all-reduce of the MLP's 109,386 floats across N = 1..8 threads (the
 *     reduce-scatter between two barriers, as in a step) beside a plain copy of
 *     the same 437 KB (the floor);
 *  2. one barrier crossing between 2 threads, sleeping and spinning, beside a
 *     Piscina round trip of one trivial task per thread (the dispatch a
 *     task-per-step design would pay: Note [loop, not a task per step]);
 *  3. one training step (forward + backward + gradient export) per backend and
 *     shard size 64, 32, 16, 8 of the tutorial MLP, the backward written out
 *     (fastestReplica, as the workers run it) and tfjs autograd, and on wasm
 *     the same for examples/convnet.js;
 *     T(64)/T(32) bounds what 2 workers can give at batch 64 (Note [fixed cost]);
 *     then what one tfjs kernel costs before it computes anything;
 *  4. the convnet of the model issue (tf.layers) at batch 64, forward +
 *     backward, on wasm with our training kernels (src/tfjs-kernels/) and on
 *     the cpu backend; then the wasm kernels we replace, stock against ours.
 *     `npm run bench -- --convnet` runs this part alone.
 * `npm run bench -- --model FILE` times only a model of yours, as section 3
 * does the examples, and prints what its fixed cost allows N workers.
 * Medians; compare ratios within one run, never absolute times across runs.
 */
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { Bench } from 'tinybench';
import { initBackend, type BackendName } from '../src/backend.js';
import { epochPermutation } from '../src/data/shuffle.js';
import { allocateArena } from '../src/simd/arena.js';
import { cliModelSource } from '../src/cli/model-recipe.js';
import { loadModelModule } from '../src/cli/model-module.js';
import { loadDataset, type Dataset } from '../src/data/dataset.js';
import { layersSource } from '../src/fit/spec.js';
import { LayersReplica } from '../src/model/layers-replica.js';
import { fastestReplica } from '../src/model/sequential-replica.js';
import { tutorialMlp } from '../src/model/tutorial-mlp.js';
import type { WorkerModel } from '../src/model/types.js';
import { OptionError, DEFAULT_SPIN_CAP_MS as SPIN_CAP_MS } from '../src/options.js';
import { Rng } from '../src/rng.js';
import { Barrier } from '../src/collective/barrier.js';
import type { ThreadJob } from './threads-worker.js';

const CFG = { inputSize: 784, hidden: [128, 64], numClasses: 10 };
/** The tutorial MLP's parameter count: 784*128 + 128 + 128*64 + 64 + 64*10 + 10. */
const P = 109_386;
const us = (ms: number): string => `${(ms * 1000).toFixed(1)} µs`;

async function threads(mode: ThreadJob['mode'], parties: number, spinCapMs: number, iters: number): Promise<number> {
  const arena = allocateArena(P, parties);
  arena.grads.fill(1);
  const barrier = Barrier.cells();
  const url = new URL('./threads-worker.js', import.meta.url);
  const times = await Promise.all(
    Array.from(
      { length: parties },
      (_, rank) =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(url, {
            workerData: { mode, memory: arena.memory, barrier, P, parties, rank, iters, spinCapMs } satisfies ThreadJob,
          });
          w.once('message', (m: number) => {
            resolve(m);
            void w.terminate();
          });
          w.once('error', reject);
        }),
    ),
  );
  return Math.max(...times) / 1000; // ms
}

async function piscinaRoundTrip(threadsN: number, rounds: number): Promise<number> {
  const pool = new Piscina({
    filename: new URL('./noop-task.js', import.meta.url).href,
    minThreads: threadsN,
    maxThreads: threadsN,
  });
  const once = (): Promise<unknown[]> => Promise.all(Array.from({ length: threadsN }, () => pool.run(null)));
  for (let i = 0; i < 50; i++) await once();
  const t: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await once();
    t.push(performance.now() - t0);
  }
  await pool.destroy();
  return t.sort((a, b) => a - b)[t.length >> 1];
}

/**
 * Note [fixed cost]: strong scaling splits a batch of 64 into shards of 64/N,
 * and a step that costs T(n) for a shard of n gives N workers at most
 * T(64) / T(64/N) times one worker's throughput, before any synchronisation.
 * Whatever does not shrink with the shard (tfjs's per-kernel bookkeeping,
 * Note [kernel dispatch]; weight uploads and gradient exports of all P
 * parameters) caps it; the T(64)/T(32) column is that cap for 2 workers.
 */
/** What section 3 times. */
type Stepper = Pick<WorkerModel, 'lossAndGradSum'>;

const SHARDS = [64, 32, 16, 8] as const;

/** The generic path's replica (fastestReplica, as the trainer runs it) for a model module as `npm run train -- --model FILE` loads it, with its initial parameters. */
async function modelReplica(file: string, data: Dataset): Promise<{ replica: Stepper; params: Float32Array }> {
  const { source } = cliModelSource(await loadModelModule(file), {}, data, file);
  return { replica: fastestReplica(await LayersReplica.create(source.spec)), params: source.params };
}

/** Median step time (forward + backward + gradient export) of `replica` on shards of each size in SHARDS, ms. */
async function shardTimes(
  replica: Stepper,
  params: Float32Array,
  data: Dataset,
  order: Int32Array,
  time: number,
): Promise<number[]> {
  const p50s: number[] = [];
  const grads = new Float32Array(params.length);
  for (const B of SHARDS) {
    let i = 0;
    const bench = new Bench({ time, iterations: 5 });
    bench.add('step', () => {
      const indices = order.subarray((i * B) % 59_000, ((i * B) % 59_000) + B);
      i++;
      params[0] += 1e-7; // the weights change every step, as in training
      replica.lossAndGradSum(params, { ...data.train, indices }, grads);
    });
    await bench.run();
    p50s.push(p50(bench));
  }
  return p50s;
}

async function stepBench(backends: BackendName[]): Promise<string[]> {
  const data = loadDataset();
  const order = epochPermutation(data.train.count, 1, 0);
  const lines: string[] = [];
  for (const name of backends) {
    if ((await initBackend(name).catch(() => undefined)) === undefined) {
      lines.push(`| ${name} | (backend not available here) |||||`);
      continue;
    }
    const mlp = tutorialMlp(CFG, 1);
    const { spec, params } = layersSource(mlp, { targets: 'onehot' });
    mlp.dispose();
    const replica = await LayersReplica.create(spec);
    const formulations: [string, Stepper, Float32Array][] = [
      ['MLP, backward written out', fastestReplica(replica), params],
      ['MLP, tfjs autograd', replica, params.slice()],
    ];
    if (name === 'wasm') {
      const file = fileURLToPath(new URL('../../examples/convnet.js', import.meta.url));
      const { replica: convnet, params: p } = await modelReplica(file, data);
      formulations.push(['examples/convnet.js', convnet, p]);
    }
    for (const [fname, replica, params] of formulations) {
      const p50s = await shardTimes(
        replica,
        params,
        data,
        order,
        name === 'cpu' || fname !== 'MLP, backward written out' ? 600 : 400,
      );
      lines.push(`| ${name} | ${fname} | ${p50s.map((t) => us(t)).join(' | ')} | ${(p50s[0] / p50s[1]).toFixed(2)}x |`);
    }
  }
  return lines;
}

/**
 * Note [kernel dispatch]: a tfjs kernel costs microseconds before it computes
 * anything: the engine's bookkeeping (tensor objects, scopes, the gradient
 * tape, which also clones every tensor a gradient needs through an Identity
 * kernel) and, on wasm, XNNPACK creating and deleting an operator per call
 * for the elementwise kernels. A generic-path step under autograd runs over a
 * hundred kernels (counted with tf.profile), so dispatch is a large part of
 * its time at any shard size, and what strong scaling cannot shed (Note
 * [fixed cost]; figures in docs/performance.md). The median here is the best case: in a
 * training step the engine's garbage adds scavenges on top.
 */
async function dispatchMs(): Promise<number> {
  const a = tf.ones([8, 16]);
  const b = tf.ones([8, 16]);
  const bench = new Bench({ time: 400 });
  bench.add('add', () => {
    tf.tidy(() => tf.add(a, b));
  });
  await bench.run();
  tf.dispose([a, b]);
  return p50(bench);
}

const ms = (t: number): string => (t >= 100 ? t.toFixed(0) : t.toPrecision(3)) + ' ms';

/** Median latency of the one task of a finished Bench, in ms. */
function p50(bench: Bench): number {
  const r = bench.tasks[0].result;
  return r !== undefined && 'latency' in r ? (r.latency.p50 ?? NaN) : NaN;
}

/** One training step of a tf.layers model on (x, y), forward + backward (tfjs autograd), gradients freed. */
function layersStep(model: tf.Sequential, x: tf.Tensor, y: tf.Tensor): () => void {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return () => {
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor),
      vars,
    );
    tf.dispose([value, ...Object.values(grads)]);
  };
}

/** The convnet of the model issue; the softmax of its last layer is in the loss (softmaxCrossEntropy). */
function convnet(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ filters: 8, kernelSize: 5, activation: 'relu', inputShape: [28, 28, 1] }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10 }),
    ],
  });
}

/** The stock wasm kernels ours replace or wrap (src/tfjs-kernels/register.ts FASTER and WRAPPED). */
const REPLACED = [
  'Conv2DBackpropInput',
  'MaxPoolGrad',
  'Add',
  'Sum',
  'BatchMatMul',
  '_FusedMatMul',
  'Conv2D',
  'Identity',
  'Cast',
];

/** Runs `f`, which returns a kernel's result, and frees the result; median ms over `time` ms. */
async function kernelMs(f: () => tf.TensorInfo, time = 1000): Promise<number> {
  const bench = new Bench({ time, iterations: 20 });
  bench.add('kernel', () => {
    tf.backend().disposeData(f().dataId);
  });
  await bench.run();
  return p50(bench);
}

/**
 * 4. The convnet at batch 64 (MNIST-shaped random input), forward + backward.
 * `stock` holds the stock wasm kernels we replace, taken before initBackend
 * registered ours (their setup ran when the backend started, before that).
 */
async function convnetBench(stock: Map<string, tf.KernelConfig>): Promise<void> {
  const B = 64;
  const rng = new Rng(1);
  const pixels = Float32Array.from({ length: B * 784 }, () => rng.next());
  const labels = Int32Array.from({ length: B }, () => rng.int(10));
  console.log(
    `\n4. the model issue's convnet (conv 5x5x8 relu, maxpool 2, conv 5x5x16 relu, maxpool 2, dense 10), batch ${B}, forward + backward, median`,
  );
  console.log('| backend | step | samples/s | vs cpu |\n|---|---|---|---|');
  const step = new Map<BackendName, number>();
  for (const name of ['wasm', 'cpu'] as const) {
    await initBackend(name);
    const model = convnet();
    const x = tf.tensor4d(pixels, [B, 28, 28, 1]); // x is (B, 28, 28, 1)
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10); // y is (B, 10)
    // The cpu backend takes seconds a step: a few are enough. On wasm the step keeps speeding up
    // for a few hundred steps (V8 optimising tfjs's JavaScript): 3 s of warm-up first.
    const bench = new Bench(
      name === 'cpu'
        ? { time: 0, iterations: 3, warmupIterations: 1, warmupTime: 0 }
        : { time: 2000, iterations: 20, warmupTime: 3000, warmupIterations: 300 },
    );
    bench.add('step', layersStep(model, x, y));
    await bench.run();
    step.set(name, p50(bench));
    tf.dispose([x, y]);
    model.dispose();
  }
  const cpuMs = step.get('cpu') ?? NaN;
  for (const [name, t] of step) {
    console.log(
      `| ${name === 'wasm' ? 'wasm + our kernels' : name} | ${ms(t)} | ${((1000 * B) / t).toFixed(0)} | ${(cpuMs / t).toFixed(cpuMs / t >= 10 ? 0 : 2)}x |`,
    );
  }

  await initBackend('wasm');
  const t4 = (shape: number[]): tf.Tensor =>
    tf.tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.uniform(-1, 1)),
      shape,
    );
  const [dy2, w2, x2] = [t4([B, 8, 8, 16]), t4([5, 5, 8, 16]), t4([B, 12, 12, 8])];
  const [x1, dy1, w1] = [t4([B, 28, 28, 1]), t4([B, 24, 24, 8]), t4([5, 5, 1, 8])];
  const pooled = tf.relu(t4([B, 24, 24, 8])); // a ReLU's output, with its ties at 0
  const pooledMax = tf.maxPool(pooled as tf.Tensor4D, 2, 2, 'valid');
  const dyPool = t4([B, 12, 12, 8]);
  const bias1 = tf.randomNormal([8]);
  const dense = { x: tf.randomNormal([B, 784]), w: tf.randomNormal([784, 128]), dy: tf.randomNormal([B, 128]) }; // the MLP's first layer, generic path
  const backend = tf.backend();
  /**
   * One kernel call: through the engine (the registered kernel, ours), or through a given config (stock).
   * Inputs named in `fresh` are copied into new tensors for every call, as a training step's weights and
   * activations are new tensors every step: the stock XNNPACK kernels cache their packs per tensor.
   */
  const call = (
    kernel: string,
    inputs: tf.NamedTensorMap,
    attrs: object,
    config?: tf.KernelConfig,
    fresh: readonly string[] = [],
  ) => {
    const values = fresh.map((k) => [k, inputs[k].dataSync(), inputs[k].shape] as const);
    return (): tf.TensorInfo => {
      const copies = Object.fromEntries(values.map(([k, v, shape]) => [k, tf.tensor(v, shape)]));
      const ins = { ...inputs, ...copies };
      try {
        return config !== undefined
          ? (config.kernelFunc({ inputs: ins, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo)
          : (tf.engine().runKernel(kernel, ins, attrs as tf.NamedAttrMap) as tf.Tensor);
      } finally {
        tf.dispose(Object.values(copies));
      }
    };
  };
  console.log('\n   its kernels on wasm, median (stock: @tensorflow/tfjs-backend-wasm, ours: src/tfjs-kernels/)');
  console.log('| kernel | stock | ours | stock / ours |\n|---|---|---|---|');
  const conv = { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1 };
  const fused = { a: dense.x.reshape([1, B, 784]), b: dense.w.reshape([1, 784, 128]), bias: tf.randomNormal([128]) }; // as tf.fused.matMul hands them over
  const replaced: [string, string, tf.NamedTensorMap, object, string[]?][] = [
    [
      'conv1 forward (x 64x28x28x1, filter 5x5x1x8; both fresh)',
      'Conv2D',
      { x: x1, filter: w1 },
      conv,
      ['x', 'filter'],
    ],
    [
      'conv2 forward (x 64x12x12x8, filter 5x5x8x16; both fresh)',
      'Conv2D',
      { x: x2, filter: w2 },
      conv,
      ['x', 'filter'],
    ],
    [
      'dense forward x W (64x784 . 784x128; W fresh)',
      'BatchMatMul',
      { a: dense.x, b: dense.w },
      { transposeA: false, transposeB: false },
      ['b'],
    ],
    [
      'dense forward relu(x W + b) (W fresh)',
      '_FusedMatMul',
      fused,
      { transposeA: false, transposeB: false, activation: 'relu' },
      ['b'],
    ],
    [
      'conv2 (dy 64x8x8x16, filter 5x5x8x16)',
      'Conv2DBackpropInput',
      { dy: dy2, filter: w2 },
      { strides: 1, pad: 'valid', dataFormat: 'NHWC', inputShape: [B, 12, 12, 8] },
    ],
    [
      'pool1 (x 64x24x24x8 after ReLU)',
      'MaxPoolGrad',
      { dy: dyPool, input: pooled, output: pooledMax },
      { filterSize: 2, strides: 2, pad: 'valid' },
    ],
    ['conv1 bias (64x24x24x8 + 8)', 'Add', { a: dy1, b: bias1 }, {}],
    ['conv1 bias gradient (64x24x24x8 -> 8)', 'Sum', { x: dy1 }, { axis: [0, 1, 2], keepDims: false }],
    ['conv1 activations (64x24x24x8), as the gradient tape saves them', 'Identity', { x: dy1 }, {}],
    [
      'dense dx = dy W^T (64x128 . (784x128)^T)',
      'BatchMatMul',
      { a: dense.dy, b: dense.w },
      { transposeA: false, transposeB: true },
    ],
    [
      'dense dW = x^T dy ((64x784)^T . 64x128)',
      'BatchMatMul',
      { a: dense.x, b: dense.dy },
      { transposeA: true, transposeB: false },
    ],
  ];
  for (const [what, kernel, inputs, attrs, fresh] of replaced) {
    const config = stock.get(kernel);
    if (config === undefined) continue;
    const stockMs = await kernelMs(call(kernel, inputs, attrs, config, fresh));
    const oursMs = await kernelMs(call(kernel, inputs, attrs, undefined, fresh));
    console.log(`| ${kernel}, ${what} | ${ms(stockMs)} | ${ms(oursMs)} | ${(stockMs / oursMs).toFixed(1)}x |`);
  }
  const dW = (x: tf.Tensor, dy: tf.Tensor, filterShape: number[]) =>
    call('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape });
  const [filter1, filter2] = [await kernelMs(dW(x1, dy1, [5, 5, 1, 8])), await kernelMs(dW(x2, dy2, [5, 5, 8, 16]))];
  console.log(
    `| Conv2DBackpropFilter, conv1 / conv2 | none (tensorflow/tfjs#8474) | ${ms(filter1)} / ${ms(filter2)} | |`,
  );
  tf.dispose([
    dy2,
    w2,
    x2,
    x1,
    dy1,
    w1,
    pooled,
    pooledMax,
    dyPool,
    bias1,
    dense.x,
    dense.w,
    dense.dy,
    ...Object.values(fused),
  ]);
  await swappedSteps(stock, pixels, labels);
}

/**
 * Whole training steps at batch 64 with every stock kernel we replace or wrap
 * (REPLACED) against ours, swapped in this thread: 30 pairs of back-to-back
 * blocks, each pair's ratio, the median of them. The kernels stock lacks
 * (Conv2DBackpropFilter) are ours in both.
 */
async function swappedSteps(
  stock: Map<string, tf.KernelConfig>,
  pixels: Float32Array,
  labels: Int32Array,
): Promise<void> {
  const names = REPLACED;
  const ours = names.map((n) => tf.getKernel(n, 'wasm'));
  const use = (configs: (tf.KernelConfig | undefined)[]): void =>
    names.forEach((n, i) => {
      const c = configs[i];
      if (c === undefined) return;
      tf.unregisterKernel(n, 'wasm');
      tf.registerKernel(c);
    });
  const B = 64;
  const x = tf.tensor4d(pixels, [B, 28, 28, 1]); // x is (B, 28, 28, 1)
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10); // y is (B, 10)
  const mlp = tf.sequential({
    layers: [
      tf.layers.dense({ units: 128, activation: 'relu', inputShape: [784] }),
      tf.layers.dense({ units: 64, activation: 'relu' }),
      tf.layers.dense({ units: 10 }),
    ],
  });
  const cnn = convnet();
  const flat = x.reshape([B, 784]); // flat is (B, 784)
  const rows: [string, () => void, number][] = [
    ['the tutorial MLP as tf.layers, tfjs autograd', layersStep(mlp, flat, y), 100],
    ['the convnet (section 4), tfjs autograd', layersStep(cnn, x, y), 20],
  ];
  console.log(
    `\n   whole steps at batch 64: the stock ${names.join(', ')} against ours (30 pairs of blocks, swapped in one thread)`,
  );
  console.log('| step | stock | ours | stock / ours (middle half) |\n|---|---|---|---|');
  for (const [what, step, n] of rows) {
    const block = (configs: (tf.KernelConfig | undefined)[]): number => {
      use(configs);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) step();
      return (performance.now() - t0) / n;
    };
    const stockConfigs = names.map((k) => stock.get(k));
    for (let w = 0; w < 10; w++) {
      block(stockConfigs);
      block(ours);
    }
    const pairs = Array.from({ length: 30 }, () => [block(stockConfigs), block(ours)]).sort(
      (a, b) => a[0] / a[1] - b[0] / b[1],
    );
    const [s, o] = pairs[15];
    console.log(
      `| ${what} | ${ms(s)} | ${ms(o)} | ${(s / o).toFixed(2)}x (${(pairs[7][0] / pairs[7][1]).toFixed(2)}-${(pairs[22][0] / pairs[22][1]).toFixed(2)}) |`,
    );
  }
  use(ours);
  tf.dispose([x, y, flat]);
  mlp.dispose();
  cnn.dispose();
}

/**
 * `npm run bench -- --model FILE`: would this model scale? Its step on the
 * generic path (wasm) per shard size, and the cap T(64)/T(64/N) that the fixed
 * cost puts on N workers at batch 64 (Note [fixed cost]).
 */
async function modelBench(file: string): Promise<void> {
  await initBackend('wasm');
  const data = loadDataset();
  const { replica, params } = await modelReplica(file, data);
  const t = await shardTimes(replica, params, data, epochPermutation(data.train.count, 1, 0), 600);
  console.log(`${file} on the generic path (wasm), forward + backward + gradient export, median per shard size`);
  console.log(
    `| ${SHARDS.join(' | ')} |\n|${SHARDS.map(() => '---').join('|')}|\n| ${t.map((v) => us(v)).join(' | ')} |`,
  );
  console.log(
    `at most, before synchronisation, vs 1 worker at batch 64: ${SHARDS.slice(1)
      .map((n, k) => `${64 / n} workers ${(t[0] / t[k + 1]).toFixed(2)}x`)
      .join(', ')}`,
  );
}

function parse(): { convnet: boolean; model: string | undefined } {
  const { values } = parseArgs({ options: { convnet: { type: 'boolean' }, model: { type: 'string' } }, strict: true });
  if (values.convnet === true && values.model !== undefined)
    throw new OptionError('--convnet and --model are two different runs: give one');
  return { convnet: values.convnet === true, model: values.model };
}

async function main(): Promise<void> {
  const args = parse();
  if (args.model !== undefined) return modelBench(args.model);
  const cores = availableParallelism();
  console.log(
    `worker-ddp micro-benchmarks, ${new Date().toISOString()}\n${cpus()[0]?.model.trim() ?? ''}, ${cores} cores, Node ${process.version}\n`,
  );
  const stock = new Map<string, tf.KernelConfig>();
  for (const name of REPLACED) {
    const config = tf.getKernel(name, 'wasm');
    if (config !== undefined) stock.set(name, config);
  }
  if (args.convnet) {
    await convnetBench(stock);
    tf.disposeVariables();
    return;
  }

  const src = new Float32Array(new SharedArrayBuffer(4 * P)).fill(1);
  const dst = new Float32Array(new SharedArrayBuffer(4 * P));
  const copyBench = new Bench({ time: 300 });
  copyBench.add('copy', () => dst.set(src));
  await copyBench.run();
  const cr = copyBench.tasks[0].result;
  const copy = cr !== undefined && 'latency' in cr ? (cr.latency.p50 ?? NaN) : NaN;
  console.log(`1. all-reduce of ${P.toLocaleString('en-US')} floats (reduce-scatter between two barriers, wasm SIMD)`);
  console.log(
    `   plain copy of ${((4 * P) / 1000).toFixed(0)} KB (Float32Array.set between SharedArrayBuffers): ${us(copy)}`,
  );
  console.log('| threads | all-reduce | / plain copy |\n|---|---|---|');
  for (let n = 1; n <= 8; n++) {
    const t = await threads('allreduce', n, n <= cores ? SPIN_CAP_MS : 0, 2000);
    console.log(`| ${n} | ${us(t)} | ${(t / copy).toFixed(2)}x |`);
  }
  const sleep = await threads('barrier', 2, 0, 20_000);
  const spin = await threads('barrier', 2, SPIN_CAP_MS, 20_000);
  const rt2 = await piscinaRoundTrip(2, 2000);
  console.log(
    `\n2. synchronisation, 2 threads: barrier crossing ${us(sleep)} (Atomics.wait) / ${us(spin)} (spin first);`,
  );
  console.log(
    `   Piscina round trip of 2 trivial tasks on 2 threads: ${us(rt2)} (${(rt2 / sleep).toFixed(0)}x a sleeping crossing)`,
  );

  console.log(
    '\n3. one training step (forward + backward + gradient export), median per shard size; T(64)/T(32): Note [fixed cost]',
  );
  console.log('| backend | formulation | 64 | 32 | 16 | 8 | T(64)/T(32) |\n|---|---|---|---|---|---|---|');
  for (const line of await stepBench(['wasm', 'cpu', 'tensorflow'])) console.log(line);
  await initBackend('wasm');
  console.log(
    `   one tfjs kernel on wasm, tf.add of two (8,16) tensors in a tidy: ${us(await dispatchMs())} (Note [kernel dispatch])`,
  );
  await convnetBench(stock);
  tf.disposeVariables();
}

main().catch((err: unknown) => {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode =
    err instanceof OptionError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true ? 2 : 1;
});
