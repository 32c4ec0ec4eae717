// The training kernels we register for the wasm backend (src/tfjs-kernels/), each
// against the cpu backend's kernel of the same name on the same inputs, for shapes
// drawn from a seeded Rng around the cases that break gradient code: batch 1 and
// odd sizes, strides 1 and 2 (and 3), 'same', 'valid' and explicit pads, dilation
// 1 and 2, one channel and several, NCHW.
// Relative difference, as everywhere below: max|wasm - cpu| / max(1, max|cpu|).
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleKernels } from '../dist/scripts/wat.js';
import { PINNED_WASM_VERSION, direct, hasHeapKernels, hasHeapViews } from '../dist/src/tfjs-kernels/heap.js';
import { HEAP_KERNELS_WASM_BASE64 } from '../dist/src/tfjs-kernels/heap-kernels-wasm.js';
import { conv2DBackpropFilter } from '../dist/src/tfjs-kernels/conv2d-backprop-filter.js';
import { conv2DBackpropInput } from '../dist/src/tfjs-kernels/conv2d-backprop-input.js';
import { maxPoolGrad } from '../dist/src/tfjs-kernels/max-pool-grad.js';
import { registerWasmTrainingKernels } from '../dist/src/tfjs-kernels/register.js';
import { BIAS_RELU, biasRelu } from '../dist/src/tfjs-kernels/bias-relu.js';
import { RELU_GRAD, reluGradConfig } from '../dist/src/tfjs-kernels/relu-grad.js';
import { Rng } from '../dist/src/rng.js';

const TOL = 1e-4;
const OURS = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'UnsortedSegmentSum',
  'MaxPoolGrad',
  RELU_GRAD,
  BIAS_RELU,
];
/** Stock kernels ours wrap: ours takes some cases and hands the rest to them. */
const WRAPPED = ['Add', 'Sum', 'BatchMatMul', '_FusedMatMul', 'Conv2D', 'Identity', 'Cast'] as const;
type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface Input {
  data: Float32Array | Int32Array;
  shape: number[];
  dtype: 'float32' | 'int32';
}

const rng = new Rng(9);
const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
const rand = (shape: number[]): Input => ({
  data: Float32Array.from({ length: size(shape) }, () => rng.uniform(-1, 1)),
  shape,
  dtype: 'float32',
});

/** The largest relative difference seen per kernel, printed at the end. */
const worst = new Map<string, number>();

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>, kernel: string): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= d)) d = e; // NaN propagates
    m = Math.max(m, Math.abs(b[i]));
  }
  const rel = d / Math.max(1, m);
  worst.set(kernel, Math.max(worst.get(kernel) ?? 0, rel));
  return rel;
}

/** Runs one kernel on one backend; checks that it leaves no tensor or heap buffer behind. */
function runOn(
  backend: 'wasm' | 'cpu',
  kernel: string,
  inputs: Record<string, Input>,
  attrs: object,
): { data: Float32Array | Int32Array; shape: number[] } {
  tf.setBackend(backend);
  const ins = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.data, v.shape, v.dtype)]));
  const tensorsBefore = tf.memory().numTensors;
  const buffersBefore = tf.backend().numDataIds();
  const out = tf.engine().runKernel(kernel, ins, attrs as tf.NamedAttrMap) as tf.Tensor;
  const result = { data: out.dataSync() as Float32Array | Int32Array, shape: out.shape };
  out.dispose();
  expect(tf.memory().numTensors, `${kernel} on ${backend} leaked tensors`).toBe(tensorsBefore);
  expect(tf.backend().numDataIds(), `${kernel} on ${backend} leaked heap buffers`).toBe(buffersBefore);
  tf.dispose(Object.values(ins));
  return result;
}

/** Relative difference of the kernel on wasm against the cpu backend's. */
function againstCpu(kernel: string, inputs: Record<string, Input>, attrs: object): number {
  const cpu = runOn('cpu', kernel, inputs, attrs);
  const wasm = runOn('wasm', kernel, inputs, attrs);
  tf.setBackend('wasm');
  expect(wasm.shape).toEqual(cpu.shape);
  return relDiff(wasm.data, cpu.data, kernel);
}

interface ConvCase {
  x: Shape4; // (B, H, W, Cin)
  k: [number, number];
  cout: number; // Conv2D: output channels; depthwise: channel multiplier
  strides: [number, number];
  dilation: number;
  pad: Pad;
  nchw?: boolean;
}

const conv = (
  x: Shape4,
  k: number | [number, number],
  cout: number,
  s: number | [number, number],
  pad: Pad,
  dilation = 1,
  nchw = false,
): ConvCase => ({
  x,
  k: typeof k === 'number' ? [k, k] : k,
  cout,
  strides: typeof s === 'number' ? [s, s] : s,
  dilation,
  pad,
  nchw,
});

/** Hand-picked cases, then random ones: batch 1..5, sizes 3..14, channels 1..6, kernels 1..5, strides 1..2. */
function convCases(dilations: number[]): ConvCase[] {
  const picked = [
    conv([1, 7, 7, 1], 3, 1, 1, 'valid'),
    conv([1, 9, 8, 3], 3, 5, 2, 'same'),
    conv([3, 11, 10, 1], 5, 4, 2, 'valid'), // the stride leaves the last row unread: a negative pad
    conv([5, 12, 12, 8], 5, 16, 1, 'valid'), // the convnet's second layer, smaller batch
    conv([3, 10, 9, 3], 4, 2, 3, 'same'),
    conv(
      [3, 8, 9, 2],
      [2, 3],
      3,
      [2, 1],
      [
        [0, 0],
        [1, 2],
        [0, 3],
        [0, 0],
      ],
    ),
    conv([2, 9, 7, 3], 3, 2, 2, 1),
    // several output channels with strides and explicit pads, and the convnet's first layer at batch 1
    conv([1, 28, 28, 1], 5, 8, 1, 'valid'), // the convnet's first layer, batch 1
    conv([2, 9, 8, 3], 3, 8, 2, 'same'),
    conv(
      [3, 8, 9, 2],
      [2, 3],
      4,
      [2, 1],
      [
        [0, 0],
        [1, 2],
        [0, 3],
        [0, 0],
      ],
    ),
    // 4, 8 or 12 input channels at stride 1: Conv2DBackpropInput through our direct Conv2D (Note
    // [which path]), 'same', and explicit pads wider than the filter (a crop on one side)
    conv([2, 10, 9, 8], 3, 5, 1, 'same'),
    conv([1, 6, 7, 8], [3, 2], 4, 1, [
      [0, 0],
      [0, 2],
      [3, 1],
      [0, 0],
    ]),
    conv([2, 9, 10, 4], 3, 3, 1, 'same'),
    conv([1, 8, 7, 12], [2, 3], 5, 1, 'valid'),
    // 8 or 16 input channels: the scatter (Note [scatter]), an even filter under 'same', strides
    // 2 and (2, 1), and 3 with explicit pads wider than the filter
    conv([3, 7, 11, 16], [4, 3], 8, 1, 'same'),
    conv([2, 9, 8, 8], 3, 4, 2, 'same'),
    conv([1, 10, 11, 16], [3, 2], 8, [2, 1], 'valid'),
    conv([2, 11, 9, 8], [2, 3], 5, 3, [
      [0, 0],
      [4, 1],
      [0, 5],
      [0, 0],
    ]),
  ];
  const random: ConvCase[] = [];
  for (let i = 0; i < 12; i++) {
    const k = 1 + rng.int(5);
    const d = dilations[rng.int(dilations.length)];
    const s = d > 1 ? 1 : 1 + rng.int(2);
    const min = (k - 1) * d + 1;
    random.push(
      conv(
        [1 + rng.int(5), min + rng.int(10), min + rng.int(10), 1 + rng.int(6)],
        k,
        1 + rng.int(4),
        s,
        rng.next() < 0.5 ? 'same' : 'valid',
        d,
      ),
    );
  }
  const dilated = dilations.includes(2)
    ? [conv([1, 9, 9, 2], 3, 2, 1, 'same', 2), conv([3, 11, 8, 1], [3, 2], 1, 1, 'valid', 2)]
    : [];
  return [...picked, ...dilated, ...random];
}

const label = (c: ConvCase): string =>
  `x ${c.x.join('x')}, k ${c.k.join('x')}, out ${c.cout}, stride ${c.strides.join(',')}, dilation ${c.dilation}, pad ${JSON.stringify(c.pad)}${c.nchw ? ', NCHW' : ''}`;

function outShape(c: ConvCase, depthwise: boolean): number[] {
  const filter: Shape4 = [c.k[0], c.k[1], c.x[3], c.cout];
  return tf.backend_util.computeConv2DInfo(c.x, filter, c.strides, c.dilation, c.pad, undefined, depthwise).outShape;
}

const toNchw = (t: Input): Input => {
  const [B, H, W, C] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++)
        for (let c = 0; c < C; c++) out[((b * C + c) * H + h) * W + w] = t.data[((b * H + h) * W + w) * C + c];
  return { data: out, shape: [B, C, H, W], dtype: 'float32' };
};

/** filter (kh, kw, C, M) with d-1 zeros between taps: the same convolution at dilation 1. */
function dilateFilter(f: Input, d: number): Input {
  const [kh, kw, C, M] = f.shape;
  const [dkh, dkw] = [(kh - 1) * d + 1, (kw - 1) * d + 1];
  const out = new Float32Array(dkh * dkw * C * M);
  for (let p = 0; p < kh; p++)
    for (let q = 0; q < kw; q++)
      for (let i = 0; i < C * M; i++) out[(p * d * dkw + q * d) * C * M + i] = f.data[(p * kw + q) * C * M + i];
  return { data: out, shape: [dkh, dkw, C, M], dtype: 'float32' };
}

let stock: Map<string, tf.KernelConfig | undefined>;

afterAll(() => {
  console.log(
    `max relative difference, wasm vs cpu: ${[...worst].map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`,
  );
});

beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('wasm');
  stock = new Map([...OURS, ...WRAPPED].map((name) => [name, tf.getKernel(name, 'wasm')]));
  registerWasmTrainingKernels();
});

describe('registerWasmTrainingKernels', () => {
  it('registers every kernel, replaces the slower stock Conv2DBackpropInput and MaxPoolGrad, and is idempotent', () => {
    const mine = OURS.map((name) => tf.getKernel(name, 'wasm'));
    for (const [i, name] of OURS.entries()) expect(mine[i], name).toBeDefined();
    expect(
      stock.get('Conv2DBackpropFilter'),
      'tfjs-backend-wasm now has Conv2DBackpropFilter: compare it with ours',
    ).toBeUndefined();
    expect(
      stock.get('UnsortedSegmentSum'),
      'tfjs-backend-wasm now has UnsortedSegmentSum: compare it with ours',
    ).toBeUndefined();
    expect(mine[OURS.indexOf('Conv2DBackpropInput')]).not.toBe(stock.get('Conv2DBackpropInput'));
    expect(mine[OURS.indexOf('MaxPoolGrad')]).not.toBe(stock.get('MaxPoolGrad'));
    registerWasmTrainingKernels();
    expect(OURS.map((name) => tf.getKernel(name, 'wasm'))).toEqual(mine);
  });

  it('is pinned: heap.ts reads @tensorflow/tfjs-backend-wasm internals, which it finds', () => {
    const installed = JSON.parse(readFileSync('node_modules/@tensorflow/tfjs-backend-wasm/package.json', 'utf8')) as {
      version: string;
    };
    expect(installed.version).toBe(PINNED_WASM_VERSION);
    expect(
      hasHeapViews(tf.backend()),
      'BackendWasm.makeOutput / typedArrayFromHeap are gone: src/tfjs-kernels/heap.ts needs updating',
    ).toBe(true);
    expect(
      hasHeapKernels(tf.backend()),
      'BackendWasm.wasm.asm.memory is gone: src/tfjs-kernels/heap.ts needs updating',
    ).toBe(true);
  });

  it('heap-kernels-wasm.ts is generated from heap-kernels.wat', async () => {
    const base64 = Buffer.from(
      await assembleKernels(readFileSync('src/tfjs-kernels/heap-kernels.wat', 'utf8')),
    ).toString('base64');
    expect(
      base64 === HEAP_KERNELS_WASM_BASE64,
      'src/tfjs-kernels/heap-kernels-wasm.ts is out of date: run `npm run build:wasm` and commit the result',
    ).toBe(true);
  });

  it('direct kernels give the same result through heap views and through readSync/write, and leak nothing', () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const before = tf.backend().numDataIds();
    const results = (['heap', 'public'] as const).map((path) => {
      const info = direct(
        tf.backend(),
        [x],
        [2, 3],
        'float32',
        (out, [xs]) => {
          for (let i = 0; i < 6; i++) out[(i % 2) * 3 + Math.floor(i / 2)] += xs[i] * 10; // a transpose, times 10
        },
        path,
      );
      const t = tf.engine().makeTensorFromTensorInfo(info);
      const values = Array.from(t.dataSync());
      t.dispose();
      return values;
    });
    expect(results[0]).toEqual([10, 30, 50, 20, 40, 60]);
    expect(results[1]).toEqual(results[0]);
    expect(tf.backend().numDataIds()).toBe(before);
    x.dispose();
  });
});

/** againstCpu for one path of our kernel function, called directly on the wasm backend (leaks checked). */
function pathAgainstCpu(
  kernel: string,
  fn: (args: Parameters<tf.KernelFunc>[0]) => tf.TensorInfo,
  inputs: Record<string, Input>,
  attrs: object,
): number {
  const cpu = runOn('cpu', kernel, inputs, attrs);
  tf.setBackend('wasm');
  const ins = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.data, v.shape, v.dtype)]));
  const buffersBefore = tf.backend().numDataIds();
  const out = tf
    .engine()
    .makeTensorFromTensorInfo(fn({ inputs: ins, backend: tf.backend(), attrs: attrs as tf.NamedAttrMap }));
  expect(out.shape).toEqual(cpu.shape);
  const data = out.dataSync() as Float32Array;
  out.dispose();
  expect(tf.backend().numDataIds(), `${kernel} leaked heap buffers`).toBe(buffersBefore);
  tf.dispose(Object.values(ins));
  return relDiff(data, cpu.data, kernel);
}

describe('Conv2D gradients on wasm against the cpu backend', () => {
  // Conv2DBackpropFilter/Input have no dilations attribute in tfjs (and tf.grad refuses dilated conv2d).
  const cases = convCases([1]);
  cases.push({ ...cases[1], nchw: true }, { ...cases[2], nchw: true });

  it.each(cases.map((c) => [label(c), c] as const))('Conv2DBackpropFilter, %s', (_, c) => {
    const filterShape: Shape4 = [c.k[0], c.k[1], c.x[3], c.cout];
    let x = rand(c.x);
    let dy = rand(outShape(c, false));
    if (c.nchw) [x, dy] = [toNchw(x), toNchw(dy)];
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: c.nchw ? 'NCHW' : 'NHWC', filterShape };
    expect(againstCpu('Conv2DBackpropFilter', { x, dy }, attrs)).toBeLessThanOrEqual(TOL);
    // both paths: the patches in place (NHWC) and the swapped-roles convolution (Note [patches in place])
    for (const path of ['auto', 'conv'] as const) {
      expect(
        pathAgainstCpu('Conv2DBackpropFilter', (a) => conv2DBackpropFilter(a, path), { x, dy }, attrs),
        path,
      ).toBeLessThanOrEqual(TOL);
    }
  });

  it.each(cases.map((c) => [label(c), c] as const))('Conv2DBackpropInput, %s', (_, c) => {
    const filter = rand([c.k[0], c.k[1], c.x[3], c.cout]);
    let dy = rand(outShape(c, false));
    let inputShape: number[] = c.x;
    if (c.nchw) [dy, inputShape] = [toNchw(dy), [c.x[0], c.x[3], c.x[1], c.x[2]]];
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: c.nchw ? 'NCHW' : 'NHWC', inputShape };
    expect(againstCpu('Conv2DBackpropInput', { dy, filter }, attrs)).toBeLessThanOrEqual(TOL);
    for (const path of ['gemm', 'conv', 'scatter', 'auto'] as const) {
      expect(
        pathAgainstCpu('Conv2DBackpropInput', (a) => conv2DBackpropInput(a, path), { dy, filter }, attrs),
        path,
      ).toBeLessThanOrEqual(TOL);
    }
  });
});

describe('Conv2D on wasm against the cpu backend', () => {
  // Output channels 4, 8, 12 or 20, the cases ours takes (conv2d.ts: tiles of 8 channels, then one of 4)
  // at dilation 1; dilation 2 and 6 channels go to the stock kernel.
  const cases = convCases([1, 2]).map((c, i) => ({ ...c, cout: [4, 8, 12, 20][i % 4] }));
  cases.push(conv([2, 9, 7, 3], 3, 6, 1, 'same'), conv([2, 7, 9, 3], 3, 12, 1, 'valid'));
  // pads wider than the filter: whole rows and whole tiles of pixels that meet only padding (skipped), at strides 1 and 2
  cases.push(
    conv([2, 5, 6, 3], [2, 3], 8, 1, [
      [0, 0],
      [4, 3],
      [7, 9],
      [0, 0],
    ]),
    conv([1, 4, 5, 2], 3, 8, 2, [
      [0, 0],
      [5, 1],
      [6, 8],
      [0, 0],
    ]),
  );

  it.each(cases.map((c) => [label(c), c] as const))('%s', (_, c) => {
    const filter = rand([c.k[0], c.k[1], c.x[3], c.cout]);
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: [c.dilation, c.dilation] };
    expect(againstCpu('Conv2D', { x: rand(c.x), filter }, attrs)).toBeLessThanOrEqual(TOL);
  });

  it('NCHW goes to the stock kernel, which refuses it', () => {
    const [x, filter] = [tf.zeros([1, 8, 9, 9]), tf.zeros([3, 3, 8, 8])];
    expect(() =>
      tf
        .engine()
        .runKernel('Conv2D', { x, filter }, { strides: [1, 1], pad: 'same', dataFormat: 'NCHW', dilations: [1, 1] }),
    ).toThrow("wasm backend Conv2D does not support dataFormat:'channelsFirst'. Please use 'channelsLast'.");
    tf.dispose([x, filter]);
  });
});

describe('DepthwiseConv2dNative gradients on wasm against the cpu backend', () => {
  // tfjs's cpu (and webgl) depthwise gradient kernels ignore dilations; tfjs-core's gradient never
  // passes any but 1. Ours honour them, so at dilation d the reference is the cpu kernel at dilation 1
  // with the filter spread to (k-1)*d+1 taps: the same convolution.
  const cases = convCases([1, 2]);

  it.each(cases.map((c) => [label(c), c] as const))('DepthwiseConv2dNativeBackpropFilter, %s', (_, c) => {
    const d = c.dilation;
    const filterShape: Shape4 = [c.k[0], c.k[1], c.x[3], c.cout];
    const x = rand(c.x);
    const dy = rand(outShape(c, true));
    const attrs = { strides: c.strides, pad: c.pad, dilations: [d, d], filterShape };
    if (d === 1) {
      expect(againstCpu('DepthwiseConv2dNativeBackpropFilter', { x, dy }, attrs)).toBeLessThanOrEqual(TOL);
      return;
    }
    const spreadShape: Shape4 = [(c.k[0] - 1) * d + 1, (c.k[1] - 1) * d + 1, c.x[3], c.cout];
    const ref = runOn(
      'cpu',
      'DepthwiseConv2dNativeBackpropFilter',
      { x, dy },
      { ...attrs, dilations: [1, 1], filterShape: spreadShape },
    );
    const taps = new Float32Array(size(filterShape));
    const [kh, kw, C, M] = filterShape;
    for (let p = 0; p < kh; p++)
      for (let q = 0; q < kw; q++)
        for (let i = 0; i < C * M; i++)
          taps[(p * kw + q) * C * M + i] = ref.data[(p * d * spreadShape[1] + q * d) * C * M + i];
    const wasm = runOn('wasm', 'DepthwiseConv2dNativeBackpropFilter', { x, dy }, attrs);
    expect(wasm.shape).toEqual(filterShape);
    expect(relDiff(wasm.data, taps, 'DepthwiseConv2dNativeBackpropFilter')).toBeLessThanOrEqual(TOL);
  });

  it.each(cases.map((c) => [label(c), c] as const))('DepthwiseConv2dNativeBackpropInput, %s', (_, c) => {
    const d = c.dilation;
    const filter = rand([c.k[0], c.k[1], c.x[3], c.cout]);
    const dy = rand(outShape(c, true));
    const attrs = { strides: c.strides, pad: c.pad, dilations: [d, d], inputShape: c.x };
    if (d === 1) {
      expect(againstCpu('DepthwiseConv2dNativeBackpropInput', { dy, filter }, attrs)).toBeLessThanOrEqual(TOL);
      return;
    }
    const ref = runOn(
      'cpu',
      'DepthwiseConv2dNativeBackpropInput',
      { dy, filter: dilateFilter(filter, d) },
      { ...attrs, dilations: [1, 1] },
    );
    const wasm = runOn('wasm', 'DepthwiseConv2dNativeBackpropInput', { dy, filter }, attrs);
    expect(wasm.shape).toEqual(c.x);
    expect(relDiff(wasm.data, ref.data, 'DepthwiseConv2dNativeBackpropInput')).toBeLessThanOrEqual(TOL);
  });
});

describe('MaxPoolGrad on wasm against the cpu backend', () => {
  // Ties decide where the gradient goes (the first maximum): inputs quantised to {0, 1, 2} after a
  // ReLU have whole windows of zeros.
  const pools: [Shape4, number, number, 'same' | 'valid', boolean][] = [
    [[64, 24, 24, 8], 2, 2, 'valid', true],
    [[2, 9, 9, 6], 3, 2, 'same', true],
    [[1, 7, 7, 1], 2, 2, 'valid', false],
    [[3, 9, 8, 2], 3, 2, 'same', true],
    [[2, 11, 10, 3], 3, 1, 'same', true],
    [[5, 12, 12, 8], 2, 2, 'valid', true],
    [[3, 10, 9, 5], 3, 3, 'valid', false],
    [[1, 5, 6, 4], 2, 1, 'valid', true],
    // Windows that tile x (Note [tiles] in max-pool-grad.ts): a row and a column no window covers,
    // 'same' that needs no padding, 3x3, and 'same' that pads (the scatter again).
    [[2, 9, 11, 4], 2, 2, 'valid', true],
    [[2, 8, 8, 4], 2, 2, 'same', true],
    [[2, 9, 9, 12], 3, 3, 'valid', false],
    [[1, 9, 9, 4], 2, 2, 'same', true],
  ];
  it.each(pools.map((p) => [`x ${p[0].join('x')}, pool ${p[1]}, stride ${p[2]}, ${p[3]}, ties ${p[4]}`, p] as const))(
    '%s',
    (_, [shape, k, s, pad, ties]) => {
      const input = rand(shape);
      if (ties) input.data = input.data.map((v) => Math.max(0, Math.round(2 * v)));
      const y = tf.tidy(() => tf.maxPool(tf.tensor4d(input.data, shape), k, s, pad));
      const output: Input = { data: y.dataSync() as Float32Array, shape: y.shape, dtype: 'float32' };
      y.dispose();
      const dy = rand(output.shape);
      const attrs = { filterSize: k, strides: s, pad };
      expect(againstCpu('MaxPoolGrad', { dy, input, output }, attrs)).toBeLessThanOrEqual(TOL);
      // The JS loop (taken without the heap internals) and the SIMD kernel: the same sums in the same order.
      const ins = {
        dy: tf.tensor(dy.data, dy.shape),
        input: tf.tensor(input.data, shape),
        output: tf.tensor(output.data, output.shape),
      };
      const [js, wasmSimd] = (['js', 'simd'] as const).map((path) => {
        const t = tf
          .engine()
          .makeTensorFromTensorInfo(
            maxPoolGrad({ inputs: ins, backend: tf.backend(), attrs } as unknown as Parameters<tf.KernelFunc>[0], path),
          );
        const values = Array.from(t.dataSync());
        t.dispose();
        return values;
      });
      expect(
        js.findIndex((v, i) => v !== wasmSimd[i]),
        'first index where the JS loop and the SIMD kernel differ',
      ).toBe(-1);
      expect(js.length).toBe(wasmSimd.length);
      tf.dispose(Object.values(ins));
    },
  );
});

describe('Identity and same-dtype Cast on wasm (Note [shared, not copied])', () => {
  it('a clone shares its memory, reads the same, outlives the original, and the memory goes with the last one', () => {
    const before = tf.memory().numBytes;
    const buffers = tf.backend().numDataIds();
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const x = tf.tensor([1, 0, 3, 4], [2, 2], dtype);
      const y = tf.clone(x); // the engine's Identity kernel
      expect(y.dtype).toBe(dtype);
      expect(tf.backend().numDataIds(), 'a clone makes no new heap buffer').toBe(buffers + 1);
      x.dispose();
      expect(Array.from(y.dataSync())).toEqual(dtype === 'bool' ? [1, 0, 1, 1] : [1, 0, 3, 4]);
      y.dispose();
    }
    const s = tf.tensor(['a', 'bc']); // strings: the stock kernel's copy
    const t = tf.clone(s);
    s.dispose();
    expect(t.arraySync()).toEqual(['a', 'bc']);
    t.dispose();
    expect(tf.backend().numDataIds()).toBe(buffers);
    expect(tf.memory().numBytes).toBe(before);
  });

  it('Cast to the dtype x has shares too; other casts convert (stock)', () => {
    const buffers = tf.backend().numDataIds();
    const x = tf.tensor([1.5, 0, -2], [3], 'float32');
    const same = tf.cast(x, 'float32');
    expect(tf.backend().numDataIds()).toBe(buffers + 1);
    const toInt = tf.cast(x, 'int32');
    expect(tf.backend().numDataIds()).toBe(buffers + 2);
    x.dispose();
    expect([Array.from(same.dataSync()), Array.from(toInt.dataSync())]).toEqual([
      [1.5, 0, -2],
      [1, 0, -2],
    ]);
    expect([same.dtype, toInt.dtype]).toEqual(['float32', 'int32']);
    tf.dispose([same, toInt]);
    expect(tf.backend().numDataIds()).toBe(buffers);
  });

  it('what the gradient tape saves stays right: tf.grad through a clone of a clone', () => {
    const x = tf.tensor1d([1, -2, 3]);
    const g = tf.grad((v: tf.Tensor) => tf.clone(tf.clone(v)).relu().square().sum())(x);
    expect(Array.from(g.dataSync())).toEqual([2, 0, 6]);
    tf.dispose([x, g]);
  });
});

describe('the ReLU gradient (Note [one ReLU gradient kernel])', () => {
  const specials = [Number.NaN, -1, 0, -0, 2, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-38, -1e-38];
  /** tf.grad of relu at x for dy: values, NaN as null (its payload is not ours to keep), -0 kept. */
  const grad = (x: Float32Array, dy: Float32Array): (number | null)[] => {
    const g = tf.tidy(() => tf.grad((v: tf.Tensor) => tf.relu(v))(tf.tensor1d(x), tf.tensor1d(dy)));
    const values = Array.from(g.dataSync(), (v) => (Number.isNaN(v) ? null : v));
    g.dispose();
    return values;
  };

  it('is registered for every backend, and runs our kernel on wasm: one kernel where tfjs runs three', async () => {
    expect(tf.getGradient(tf.Relu)).toBe(reluGradConfig);
    const x = tf.tensor1d([1, -1]);
    const profile = await tf.profile(() => tf.grad((v: tf.Tensor) => tf.relu(v))(x));
    // Identity kernels are the engine's clones (of x, for the tape)
    expect(profile.kernels.map((k) => k.name).filter((k) => k !== 'Identity')).toEqual(['Relu', RELU_GRAD]);
    x.dispose();
  });

  it("gives the bits of tfjs's mul(dy, step(x)) on the cpu backend, for every length around the SIMD width, special values included", () => {
    for (let n = 1; n <= 37; n += n < 12 ? 1 : 5) {
      const x = Float32Array.from({ length: n }, (_, i) =>
        i % 3 === 0 ? specials[(i / 3) % specials.length] : rng.uniform(-1, 1),
      );
      const dy = Float32Array.from({ length: n }, (_, i) =>
        i % 5 === 4 ? specials[i % specials.length] : rng.uniform(-2, 2),
      );
      const wasm = grad(x, dy);
      tf.setBackend('cpu');
      const cpu = grad(x, dy);
      tf.setBackend('wasm');
      expect(
        wasm.map((v) => (Object.is(v, -0) ? '-0' : v)),
        `n = ${n}`,
      ).toEqual(cpu.map((v) => (Object.is(v, -0) ? '-0' : v)));
    }
  });
});

describe('relu(x + bias) in one kernel (bias-relu.ts)', () => {
  const specials = [Number.NaN, -1, 0, -0, 2, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-38, -1e-38];
  const show = (t: tf.Tensor): (string | number)[] =>
    Array.from(t.dataSync(), (v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : v));

  it("gives the stock Add and Relu's bits on wasm, channels 1 to 13 (SIMD lanes and the rest), special values included; one kernel", async () => {
    for (const C of [1, 3, 4, 5, 8, 13]) {
      const rows = 7;
      const x = tf.tensor2d(
        Float32Array.from({ length: rows * C }, (_, i) =>
          i % 4 === 0 ? specials[(i / 4) % specials.length] : rng.uniform(-1, 1),
        ),
        [rows, C],
      );
      const bias = tf.tensor1d(
        Float32Array.from({ length: C }, (_, i) => (i % 3 === 1 ? specials[i % specials.length] : rng.uniform(-1, 1))),
      );
      const ours = biasRelu(x, bias);
      const stock = tf.relu(tf.add(x, bias));
      expect(show(ours), `C = ${C}`).toEqual(show(stock));
      tf.dispose([x, bias, ours, stock]);
    }
    const x = tf.zeros([2, 3, 3, 8]);
    const bias = tf.ones([8]);
    const profile = await tf.profile(() => biasRelu(x, bias));
    expect(profile.kernels.map((k) => k.name)).toEqual([BIAS_RELU]);
    tf.dispose([x, bias]);
  });

  it("takes tfjs's add and relu where the bias is not a row of x", () => {
    const x = tf.tensor2d([
      [1, -2],
      [-3, 4],
    ]);
    const bias = tf.tensor2d([[1], [-1]]); // a column: broadcast along the other axis
    expect(Array.from(biasRelu(x, bias).dataSync())).toEqual([2, 0, 0, 3]);
    tf.dispose([x, bias]);
  });
});

describe("MaxPoolGrad where the windows tile x: the scatter's bits", () => {
  it('windows of NaN and -Infinity get no gradient, a -0 gradient lands as +0, as the JS loop does', () => {
    const shape: Shape4 = [1, 4, 4, 4];
    const x = Float32Array.from({ length: 64 }, (_, i) => (i % 7) - 3);
    x.fill(NaN, 0, 8); // window (0, 0): its two top pixels NaN, the rest numbers
    for (const p of [2, 3, 6, 7]) x.fill(Number.NEGATIVE_INFINITY, p * 4, p * 4 + 4); // window (0, 1): all -Infinity
    const dy = Float32Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? -0 : i + 0.5));
    const ins = { dy: tf.tensor(dy, [1, 2, 2, 4]), input: tf.tensor(x, shape), output: tf.zeros([1, 2, 2, 4]) };
    const attrs = { filterSize: 2, strides: 2, pad: 'valid' };
    const [js, wasmSimd] = (['js', 'simd'] as const).map((path) => {
      const t = tf
        .engine()
        .makeTensorFromTensorInfo(
          maxPoolGrad({ inputs: ins, backend: tf.backend(), attrs } as unknown as Parameters<tf.KernelFunc>[0], path),
        );
      const bits = Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));
      t.dispose();
      return bits;
    });
    expect(wasmSimd).toEqual(js);
    // 16 gradients: window (0, 1)'s 4 (all -Infinity) get none, and 5 others are -0 (dy is -0 at 0, 3, 6, 9, 12, 15; 6 is in window (0, 1)).
    expect(js.filter((b) => b !== 0).length, 'nonzero gradients').toBe(16 - 4 - 5);
    tf.dispose(Object.values(ins));
  });
});

describe("Add, Sum, BatchMatMul and _FusedMatMul: our cases give the stock kernels' bits, the rest go to them; wrappers", () => {
  /**
   * The kernel as registered now (ours) and the stock one, on the same inputs: values as numbers,
   * and which kernel the registered one ran. The wrapper hands a case to the stock kernel through
   * the stock config's kernelFunc, looked up at each call (Note [which kernel ran] in
   * src/tfjs-kernels/register.ts): spied on here, it says whether ours took the case.
   */
  function both(
    kernel: (typeof WRAPPED)[number],
    inputs: Record<string, Input>,
    attrs: object,
  ): { ours: number[]; theirs: number[]; shape: number[]; ran: 'ours' | 'stock' } {
    const ins = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.data, v.shape, v.dtype)]));
    const config = stock.get(kernel);
    if (config === undefined) throw new Error(`no stock ${kernel}`);
    const stockFunc = config.kernelFunc;
    let stockCalls = 0;
    config.kernelFunc = (args) => (stockCalls++, stockFunc(args));
    let ours: tf.Tensor;
    try {
      ours = tf.engine().runKernel(kernel, ins, attrs as tf.NamedAttrMap) as tf.Tensor;
    } finally {
      config.kernelFunc = stockFunc;
    }
    expect(stockCalls, 'calls of the stock kernel').toBeLessThanOrEqual(1);
    const info = config.kernelFunc({
      inputs: ins,
      backend: tf.backend(),
      attrs: attrs as tf.NamedAttrMap,
    }) as tf.TensorInfo;
    const theirs = tf.engine().makeTensorFromTensorInfo(info);
    expect(ours.shape).toEqual(theirs.shape);
    const out = {
      ours: Array.from(ours.dataSync()),
      theirs: Array.from(theirs.dataSync()),
      shape: ours.shape,
      ran: stockCalls === 0 ? ('ours' as const) : ('stock' as const),
    };
    tf.dispose([ours, theirs, ...Object.values(ins)]);
    return out;
  }
  /** The first index where the float32 bit patterns differ, -1 if none (a toEqual on 300k values would take vitest minutes to diff). */
  const firstDifference = (a: number[], b: number[]): number => {
    const [x, y] = [a, b].map((v) => new Uint32Array(Float32Array.from(v).buffer));
    return x.length !== y.length ? -2 : x.findIndex((bits, i) => bits !== y[i]);
  };

  it('registers wrappers once: a second call leaves them', () => {
    const wrapped = WRAPPED.map((name) => tf.getKernel(name, 'wasm'));
    wrapped.forEach((k, i) => expect(k).not.toBe(stock.get(WRAPPED[i])));
    registerWasmTrainingKernels();
    expect(WRAPPED.map((name) => tf.getKernel(name, 'wasm'))).toEqual(wrapped);
  });

  it.each([
    [[64, 24, 24, 8], [8], 'ours'],
    [[8], [5, 3, 8], 'ours'], // the vector first
    [[7, 10], [1, 10], 'ours'],
    [[3, 5, 6], [1, 1, 6], 'ours'],
    [[64, 128], [128], 'ours'],
    [[2, 3], [2, 3], 'stock'], // no broadcast
    [[4, 6], [4, 1], 'stock'], // a column
    [[5], [5], 'stock'], // rank 1
    [[0, 4], [4], 'stock'], // empty
  ] as const)('Add %j + %j: %s', (a, b, path) => {
    const r = both('Add', { a: rand([...a]), b: rand([...b]) }, {});
    expect(r.ran).toBe(path);
    expect(firstDifference(r.ours, r.theirs)).toBe(-1);
  });

  // Our gemm (Note [no pack]) against XNNPACK's: both sum over k in order, so the same bits.
  it.each([
    [[64, 784], [784, 128], [64, 128], 'ours'], // the tutorial MLP's first layer
    [[25, 36864], [36864, 8], [25, 8], 'ours'], // the convnet's first filter gradient: k in 144 chunks
    [[7, 300], [300, 13], [7, 13], 'ours'], // 3 rows and 5 columns beyond the tiles, a short last k chunk
    [[1, 5], [5, 3], [1, 3], 'ours'], // no full tile at all
    [[1, 6, 9], [9, 17], [1, 6, 17], 'ours'], // ranks differ
    [[1, 1, 4, 8], [1, 8, 8], [1, 1, 4, 8], 'ours'],
    [[2, 4, 8], [2, 8, 8], [2, 4, 8], 'stock'], // batched
  ] as const)('BatchMatMul %j x %j without flags: %s', (a, b, out, path) => {
    const r = both('BatchMatMul', { a: rand([...a]), b: rand([...b]) }, { transposeA: false, transposeB: false });
    expect(r.ran).toBe(path);
    expect(firstDifference(r.ours, r.theirs)).toBe(-1);
    expect(r.shape).toEqual(out);
  });

  it.each([
    // tf.fused.matMul hands the kernel (batch, rows, cols) and a bias of rank 1.
    [[1, 64, 784], [1, 784, 128], [128], 'relu', 'ours'], // a dense layer with a bias and a ReLU
    [[1, 7, 300], [1, 300, 13], [13], 'linear', 'ours'],
    [[1, 5, 9], [1, 9, 17], undefined, 'relu6', 'ours'],
    [[1, 9, 5], [1, 5, 11], [11], 'relu', 'ours'],
    [[2, 6, 5], [2, 5, 4], [4], 'relu', 'stock'], // batched
    [[1, 6, 5], [1, 5, 4], [4], 'elu', 'stock'], // an activation XNNPACK does not clamp
  ] as const)('_FusedMatMul %j x %j + %j, %s, without flags: %s', (a, b, bias, activation, path) => {
    const inputs = { a: rand([...a]), b: rand([...b]), ...(bias === undefined ? {} : { bias: rand([...bias]) }) };
    // Values of both signs near zero and beyond 6, so the clamps act.
    for (const v of Object.values(inputs)) v.data = v.data.map((x) => x * 3);
    const r = both('_FusedMatMul', inputs, { transposeA: false, transposeB: false, activation });
    expect(r.ran).toBe(path);
    expect(firstDifference(r.ours, r.theirs)).toBe(-1);
  });

  it('Add of int32 goes to the stock kernel', () => {
    const ints = (shape: number[]): Input => ({
      data: Int32Array.from({ length: size(shape) }, () => rng.int(100)),
      shape,
      dtype: 'int32',
    });
    const r = both('Add', { a: ints([3, 4]), b: ints([4]) }, {});
    expect(r.ran).toBe('stock');
    expect(r.ours).toEqual(r.theirs);
  });

  it.each([
    [[64, 24, 24, 8], [0, 1, 2], false, 'ours'],
    [[64, 24, 24, 8], [0, 1, 2], true, 'ours'],
    [[64, 24, 24, 8], [2, 0, 1], false, 'stock'], // stock sums in this order
    [[64, 10], 0, false, 'ours'],
    [[64, 10], [-2], true, 'ours'],
    [[9, 7, 5], [0], false, 'ours'],
    [[64, 128], 0, false, 'ours'], // 16 columns at a time
    [[6, 29], [0], false, 'ours'], // 16, 8, 4, then 1 at a time
    [[64, 10], [1], false, 'stock'], // the last axis
    [[4, 5, 6], [0, 2], false, 'stock'], // not leading
    [[4, 5], [0, 1], false, 'stock'], // everything
    [[4, 5], null, false, 'stock'],
  ] as const)('Sum of %j over axes %j, keepDims %s: %s', (shape, axis, keepDims, path) => {
    // Large and small values, so that a different order of additions would show.
    const x = rand([...shape]);
    x.data = x.data.map((v, i) => v * 10 ** ((i % 7) - 3));
    const r = both('Sum', { x }, { axis, keepDims });
    expect(r.ran).toBe(path);
    expect(firstDifference(r.ours, r.theirs)).toBe(-1);
    // The reduced axes (negative ones counted from the end; null: all) become 1, or go.
    const axes =
      axis === null
        ? shape.map((_, i) => i)
        : (typeof axis === 'number' ? [axis] : [...axis]).map((a) => (a + shape.length) % shape.length);
    const expected = keepDims
      ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
      : shape.filter((_, i) => !axes.includes(i));
    expect(r.shape).toEqual(expected);
  });
});

describe('BatchMatMul with transposes on wasm against the cpu backend', () => {
  it.each([
    [[64, 784], [64, 128], true, false], // a dense layer's dW = x^T dy
    [[64, 128], [784, 128], false, true], // its dx = dy W^T
    [[1, 64, 10], [1, 256, 10], false, true],
    [[3, 7, 5], [3, 7, 4], true, false],
    [[2, 6, 5], [1, 4, 6], true, true], // broadcast batch
    [[5, 3], [3, 4], false, false], // no flags
    [[1, 300, 7], [1, 13, 300], true, true], // tails of every kind, a short last k chunk
  ])('%j x %j, transposeA %s, transposeB %s', (a, b, transposeA, transposeB) => {
    expect(againstCpu('BatchMatMul', { a: rand(a), b: rand(b) }, { transposeA, transposeB })).toBeLessThanOrEqual(TOL);
  });
});

describe('_FusedMatMul with transposes on wasm against the cpu backend', () => {
  it.each([
    [[1, 64, 784], [1, 64, 128], true, false, 'relu'],
    [[1, 64, 128], [1, 784, 128], false, true, 'linear'],
    [[1, 300, 7], [1, 13, 300], true, true, 'relu6'],
  ] as const)('%j x %j, transposeA %s, transposeB %s, %s, with a bias', (a, b, transposeA, transposeB, activation) => {
    const n = transposeB ? b[b.length - 2] : b[b.length - 1];
    const inputs = { a: rand([...a]), b: rand([...b]), bias: rand([n]) };
    expect(againstCpu('_FusedMatMul', inputs, { transposeA, transposeB, activation })).toBeLessThanOrEqual(TOL);
  });
});

describe('UnsortedSegmentSum on wasm against the cpu backend', () => {
  const ids = (n: number, numSegments: number): Input => ({
    data: Int32Array.from({ length: n }, () => rng.int(numSegments + 2) - 1),
    shape: [n],
    dtype: 'int32',
  });
  it('float32, ids in and out of range (dropped), empty segments', () => {
    expect(
      againstCpu('UnsortedSegmentSum', { x: rand([13, 4, 3]), segmentIds: ids(13, 9) }, { numSegments: 9 }),
    ).toBeLessThanOrEqual(TOL);
  });
  it('ids of rank 2 over x of rank 3 (against the cpu on both flattened: its kernel takes rank 1 only)', () => {
    const flatIds = ids(12, 5);
    const flatX = rand([12, 7]);
    const ref = runOn('cpu', 'UnsortedSegmentSum', { x: flatX, segmentIds: flatIds }, { numSegments: 5 });
    const wasm = runOn(
      'wasm',
      'UnsortedSegmentSum',
      { x: { ...flatX, shape: [4, 3, 7] }, segmentIds: { ...flatIds, shape: [4, 3] } },
      { numSegments: 5 },
    );
    expect(wasm.shape).toEqual([5, 7]);
    expect(relDiff(wasm.data, ref.data, 'UnsortedSegmentSum')).toBeLessThanOrEqual(TOL);
  });
  it('int32 values', () => {
    const x: Input = { data: Int32Array.from({ length: 20 }, () => rng.int(100) - 50), shape: [10, 2], dtype: 'int32' };
    expect(againstCpu('UnsortedSegmentSum', { x, segmentIds: ids(10, 4) }, { numSegments: 4 })).toBe(0);
  });
  it('a batch of embedding lookups: vocabulary 300, 64x20 tokens, width 16', () => {
    expect(
      againstCpu('UnsortedSegmentSum', { x: rand([1280, 16]), segmentIds: ids(1280, 299) }, { numSegments: 300 }),
    ).toBeLessThanOrEqual(TOL);
  });
});
