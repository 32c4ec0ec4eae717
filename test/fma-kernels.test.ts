// The FMA variant of heap-kernels.wat (Note [FMA variant] in src/tfjs-kernels/kernel-variant.ts):
// its GEMM and convolution kernels against the plain module's on the same inputs, both
// instantiated on one memory of their own, on the MLP's and the convnet's shapes and on
// shapes with tiles left over; then through tfjs, the variant as the kernels run it.
// Relative difference: max|fma - plain| / max|plain|, per kernel call.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { assembleKernels, fmaVariant } from '../dist/scripts/wat.js';
import { OptionError } from '../dist/src/errors.js';
import { Rng } from '../dist/src/rng.js';
import { HEAP_KERNELS_FMA_WASM_BASE64 } from '../dist/src/tfjs-kernels/heap-kernels-fma-wasm.js';
import { HEAP_KERNELS_WASM_BASE64 } from '../dist/src/tfjs-kernels/heap-kernels-wasm.js';
import type { HeapKernels } from '../dist/src/tfjs-kernels/heap.js';
import { KERNELS_ENV, allowRelaxedSimd, chooseKernelVariant, hasRelaxedSimd, kernelVariant } from '../dist/src/tfjs-kernels/kernel-variant.js';
import { registerWasmTrainingKernels } from '../dist/src/tfjs-kernels/register.js';
import { Trainer, type TrainerOptions } from '../dist/src/index.js';
import { maxAbs, maxAbsDiff, rejection, subset } from './helpers.js';

const TOL = 1e-6;
// This file's kernels run the FMA variant: the choice is made at the first kernel call.
process.env[KERNELS_ENV] = 'fma';
allowRelaxedSimd(); // before this file compiles relaxed SIMD itself

const rng = new Rng(28);
const PAGE = 65536;

/** Whether this machine's relaxed_madd rounds once: (1 + 2^-23)(1 - 2^-23) - 1 is -2^-46 fused, 0 otherwise. */
async function fuses(): Promise<boolean> {
  const wat = '(module (func (export "f") (param f32) (result f32) (f32x4.extract_lane 0 (f32x4.relaxed_madd (f32x4.splat (local.get 0)) (f32x4.splat (f32.const 0x1.fffffcp-1)) (f32x4.splat (f32.const -1))))))';
  const { f } = new WebAssembly.Instance(new WebAssembly.Module(await assembleKernels(wat))).exports as { f: (x: number) => number };
  return f(1 + 2 ** -23) !== 0;
}

/** Both modules on one fresh memory; `call` runs a kernel on inputs drawn from rng and returns its output from each. */
function pair(): { call: (inputs: number[], outSize: number, run: (k: HeapKernels, ins: number[], out: number) => void) => [Float32Array, Float32Array] } {
  const memory = new WebAssembly.Memory({ initial: 512, maximum: 65536 });
  const [plain, fma] = [HEAP_KERNELS_WASM_BASE64, HEAP_KERNELS_FMA_WASM_BASE64].map(
    (b) => new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(b, 'base64')), { env: { memory } }).exports as unknown as HeapKernels,
  );
  return {
    call(inputs, outSize, run) {
      const floats = new Float32Array(memory.buffer);
      let at = 0;
      const ins = inputs.map((n) => {
        const p = at;
        for (let i = 0; i < n; i++) floats[p + i] = rng.uniform(-1, 1);
        at += Math.ceil(n / 4) * 4;
        return p * 4;
      });
      expect((at + outSize) * 4).toBeLessThan(512 * PAGE);
      const outputs = [plain, fma].map((k) => {
        floats.fill(0, at, at + outSize); // conv2d_input_grad adds into zeros
        run(k, ins, at * 4);
        return floats.slice(at, at + outSize);
      });
      return [outputs[0], outputs[1]];
    },
  };
}

/** max|a - b| / max|b| */
const relDiff = (a: Float32Array, b: Float32Array): number => maxAbsDiff(a, b) / maxAbs(b);

const differs = (a: Float32Array, b: Float32Array): boolean => a.some((v, i) => !Object.is(v, b[i]));

describe('the FMA variant of the GEMM and convolution kernels against the plain ones', () => {
  let fused = false;
  const k = pair();
  beforeAll(async () => {
    fused = await fuses();
  });

  it('heap-kernels-fma-wasm.ts is generated from heap-kernels.wat; every vector multiply-accumulate is fused, and nothing else changes', async () => {
    const wat = readFileSync('src/tfjs-kernels/heap-kernels.wat', 'utf8');
    const variant = fmaVariant(wat);
    const base64 = Buffer.from(await assembleKernels(variant)).toString('base64');
    expect(base64 === HEAP_KERNELS_FMA_WASM_BASE64, 'src/tfjs-kernels/heap-kernels-fma-wasm.ts is out of date: run `npm run build:wasm` and commit the result').toBe(true);
    const count = (s: string, word: string): number => s.split(word).length - 1;
    expect(count(variant, 'f32x4.relaxed_madd')).toBe(wat.match(/\(f32x4\.add \(local\.get \$\w+\) \(f32x4\.mul /g)?.length);
    expect(count(variant, 'f32x4.mul')).toBe(count(wat, 'f32x4.mul') - count(variant, 'f32x4.relaxed_madd'));
    expect(variant.replace(/\s+/g, '').length).toBe(wat.replace(/\s+/g, '').length - count(variant, 'f32x4.relaxed_madd') * ('(f32x4.add(f32x4.mul)'.length - '(f32x4.relaxed_madd'.length));
  });

  it('fmaVariant refuses a module with nothing to fuse', () => {
    expect(() => fmaVariant('(module)')).toThrow('fmaVariant: the module has no (f32x4.add (local.get $c) (f32x4.mul a b)) to fuse');
  });

  // gemm(a, b, c, M, K, N, bias, lo, hi): c (M, N) = clamp(bias + a (M, K) . b (K, N), lo, hi)
  it.each([
    [64, 784, 128, true], // the tutorial MLP's first layer, with a bias and a ReLU
    [64, 128, 64, true],
    [25, 4608, 8, false], // a convnet filter gradient's shape: k in 18 chunks
    [7, 300, 13, false], // 3 rows and 5 columns beyond the tiles
    [1, 5, 3, false], // no full tile
  ])('gemm (%i, %i) x (%i), bias and ReLU %s', (M, K, N, biased) => {
    const [plain, fma] = k.call([M * K, K * N, N], M * N, (w, [a, b, bias], c) => w.gemm(a, b, c, M, K, N, biased ? bias : 0, biased ? 0 : -Infinity, Infinity));
    expect(relDiff(fma, plain)).toBeLessThanOrEqual(TOL);
    if (M * N >= 32) expect(differs(fma, plain), 'the FMA variant ran with two roundings (or the plain one with one)').toBe(fused);
  });

  // conv2d(x, w, out, B, H, W, C, Ho, Wo, kh, kw, sh, sw, N, r0, r1, c0, c1): x padded, w (kh, kw, C, N)
  it.each([
    [16, 28, 28, 1, 5, 1, 8], // the convnet's first layer
    [16, 12, 12, 8, 5, 1, 16], // its second
    [3, 9, 10, 4, 3, 2, 12], // N % 8 = 4, stride 2, pixels beyond the tiles
  ])('conv2d x (%i, %i, %i, %i), %i x %i filter at stride %i, %i channels out', (B, H, W, C, kk, s, N) => {
    const [Ho, Wo] = [Math.floor((H - kk) / s) + 1, Math.floor((W - kk) / s) + 1];
    const [plain, fma] = k.call([B * H * W * C, kk * kk * C * N], B * Ho * Wo * N, (w, [x, f], out) => w.conv2d(x, f, out, B, H, W, C, Ho, Wo, kk, kk, s, s, N, 0, H, 0, W));
    expect(relDiff(fma, plain)).toBeLessThanOrEqual(TOL);
    expect(differs(fma, plain)).toBe(fused);
  });

  // conv2d_input_grad(dy, wt, dx, B, H, W, C, Ho, Wo, kh, kw, sh, sw, N, pt, pl): wt (kh, kw, N, C), C % 8 = 0
  it.each([
    [16, 12, 12, 8, 5, 1, 16, 0], // the convnet's second layer's input gradient
    [3, 9, 9, 8, 3, 2, 5, 0], // stride 2, 5 channels in dy
    [2, 10, 9, 16, 3, 1, 4, 1], // 'same' padding
  ])('conv2d_input_grad dx (%i, %i, %i, %i), %i x %i filter at stride %i, %i dy channels, pad %i', (B, H, W, C, kk, s, N, pad) => {
    const [Ho, Wo] = [Math.floor((H + 2 * pad - kk) / s) + 1, Math.floor((W + 2 * pad - kk) / s) + 1];
    const [plain, fma] = k.call([B * Ho * Wo * N, kk * kk * N * C], B * H * W * C, (w, [dy, wt], dx) => w.conv2d_input_grad(dy, wt, dx, B, H, W, C, Ho, Wo, kk, kk, s, s, N, pad, pad));
    expect(relDiff(fma, plain)).toBeLessThanOrEqual(TOL);
    expect(differs(fma, plain)).toBe(fused);
  });

  // conv2d_filter_grad(x, dy, dw, B, H, W, C, Ho, Wo, kh, kw, sh, sw, N): x padded, dy (B, Ho, Wo, N)
  it.each([
    [16, 28, 28, 1, 5, 1, 8], // the convnet's first layer's filter gradient
    [16, 12, 12, 8, 5, 1, 16], // its second
    [3, 9, 9, 3, 3, 2, 13], // rows beyond the tiles, 5 columns beyond the last 8
  ])('conv2d_filter_grad x (%i, %i, %i, %i), %i x %i filter at stride %i, %i channels out', (B, H, W, C, kk, s, N) => {
    const [Ho, Wo] = [Math.floor((H - kk) / s) + 1, Math.floor((W - kk) / s) + 1];
    const [plain, fma] = k.call([B * H * W * C, B * Ho * Wo * N], kk * kk * C * N, (w, [x, dy], dw) => w.conv2d_filter_grad(x, dy, dw, B, H, W, C, Ho, Wo, kk, kk, s, s, N));
    expect(relDiff(fma, plain)).toBeLessThanOrEqual(TOL);
    expect(differs(fma, plain)).toBe(fused);
  });
});

describe('choosing the variant (Note [FMA variant])', () => {
  it('takes what WORKER_DDP_KERNELS asks for, fma where the engine has relaxed SIMD when unset, and refuses anything else in one line', () => {
    expect(hasRelaxedSimd()).toBe(true); // Node 20 with the flag allowRelaxedSimd sets, and every later Node
    expect(chooseKernelVariant('plain')).toBe('plain');
    expect(chooseKernelVariant('fma')).toBe('fma');
    expect(chooseKernelVariant(undefined)).toBe('fma');
    expect(chooseKernelVariant('')).toBe('fma');
    expect(() => chooseKernelVariant('FMA')).toThrow(OptionError);
    expect(() => chooseKernelVariant('FMA')).toThrow("WORKER_DDP_KERNELS must be 'fma' or 'plain', got 'FMA'");
  });

  it('a Trainer whose workers see another value fails at creation, in one line naming the variable', async () => {
    process.env[KERNELS_ENV] = 'avx';
    const created = Trainer.create({ backend: 'wasm', data: subset(64, 10), workers: 1, batchSize: 8 });
    process.env[KERNELS_ENV] = 'fma';
    const err = await rejection(created);
    expect(String(err)).toBe("Error: worker 0: WORKER_DDP_KERNELS must be 'fma' or 'plain', got 'avx'");
  });

  it('the registered kernels run the variant this thread chose: BatchMatMul and Conv2D within the tolerance of the stock (XNNPACK) kernels', async () => {
    await tf.setBackend('wasm');
    const stock = new Map(['BatchMatMul', 'Conv2D'].map((n) => [n, tf.getKernel(n, 'wasm') as tf.KernelConfig]));
    registerWasmTrainingKernels();
    const rand = (shape: number[]): tf.Tensor => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1, 1)), shape);
    const cases: [string, tf.Tensor[], tf.NamedAttrMap][] = [
      ['BatchMatMul', [rand([64, 784]), rand([784, 128])], { transposeA: false, transposeB: false }],
      ['Conv2D', [rand([8, 12, 12, 8]), rand([5, 5, 8, 16])], { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] }],
    ];
    for (const [name, [a, b], attrs] of cases) {
      const inputs: tf.NamedTensorMap = name === 'Conv2D' ? { x: a, filter: b } : { a, b };
      const ours = tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
      const info = stock.get(name)?.kernelFunc({ inputs, backend: tf.backend(), attrs }) as tf.TensorInfo;
      const theirs = tf.engine().makeTensorFromTensorInfo(info);
      const [o, t] = [ours.dataSync() as Float32Array, theirs.dataSync() as Float32Array];
      expect(relDiff(o, t), name).toBeLessThanOrEqual(TOL);
      expect(differs(o, t), `${name}: ours gave XNNPACK's bits, so it did not run the FMA variant`).toBe(await fuses());
      tf.dispose([ours, theirs, a, b]);
    }
    expect(kernelVariant()).toBe('fma');
  });
});

describe('training on the FMA variant: N workers equal 1 worker, and the plain variant within the equivalence tolerance', () => {
  const RUN_TOL = 1e-5; // test/equivalence.test.ts's
  const data = subset(375, 100);

  /** 20 steps of the MLP at batch 37 (a short last batch, an epoch boundary), its workers on `kernels`. */
  async function params(workers: number, kernels: 'fma' | 'plain'): Promise<{ params: Float32Array; losses: Float64Array }> {
    process.env[KERNELS_ENV] = kernels; // worker threads copy the environment when they start
    const options: TrainerOptions = { backend: 'wasm', seed: 7, lr: 0.05, hidden: [128, 64], data, workers, batchSize: 37 };
    const trainer = await Trainer.create(options);
    process.env[KERNELS_ENV] = 'fma';
    try {
      const losses = await trainer.train(20);
      return { params: trainer.getParams(), losses };
    } finally {
      await trainer.close();
    }
  }

  it('2 and 3 workers against 1, all on fma; fma against plain', async () => {
    const one = await params(1, 'fma');
    for (const n of [2, 3]) {
      const r = await params(n, 'fma');
      expect(maxAbsDiff(r.params, one.params), `${n} workers`).toBeLessThanOrEqual(RUN_TOL);
      expect(maxAbsDiff(r.losses, one.losses), `${n} workers`).toBeLessThanOrEqual(RUN_TOL);
    }
    const plain = await params(1, 'plain');
    expect(maxAbsDiff(plain.params, one.params)).toBeLessThanOrEqual(RUN_TOL);
    expect(Array.from(plain.params).some((v, i) => !Object.is(v, one.params[i]))).toBe(await fuses());
  });
});
