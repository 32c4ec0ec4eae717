// The tfjs internals the replicas use (src/tfjs-kernels/heap.ts, through src/model/wasm-heap.ts) must fail loudly here,
// not silently in training, if @tensorflow/tfjs-backend-wasm changes under it.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignFlat, readFlat, variablesOf } from '../dist/src/model/flat-weights.js';
import { tutorialMlp } from '../dist/src/model/tutorial-mlp.js';
import { publicIo } from '../dist/src/model/tensor-io.js';
import { wasmHeapIo } from '../dist/src/model/wasm-heap.js';
import { PINNED_WASM_VERSION } from '../dist/src/tfjs-kernels/heap.js';
import { maxAbsDiff } from './helpers.js';

const CFG = { inputSize: 784, hidden: [128, 64], numClasses: 10 };

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('wasm heap access (tfjs internals)', () => {
  it('is pinned: the installed and declared versions are the one the module was written for', () => {
    const installed = JSON.parse(readFileSync('node_modules/@tensorflow/tfjs-backend-wasm/package.json', 'utf8')) as {
      version: string;
    };
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      peerDependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(installed.version).toBe(PINNED_WASM_VERSION);
    expect(pkg.peerDependencies['@tensorflow/tfjs-backend-wasm']).toBe(PINNED_WASM_VERSION);
    expect(pkg.devDependencies['@tensorflow/tfjs-backend-wasm']).toBe(PINNED_WASM_VERSION);
  });

  it('finds the internals on the wasm backend', () => {
    const io = wasmHeapIo();
    expect(
      io,
      'BackendWasm.makeOutput / typedArrayFromHeap are gone: src/tfjs-kernels/heap.ts needs updating',
    ).toBeDefined();
    expect(io?.name).toBe('wasm-heap');
  });

  it('make() builds the tensor its fill wrote, and read() copies a tensor out', () => {
    const io = wasmHeapIo();
    if (io === undefined) throw new Error('no heap access');
    const data = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 2);
    const before = tf.memory().numTensors;
    const t = io.make([3, 4], (into) => into.set(data)) as tf.Tensor2D;
    expect(Array.from(t.dataSync())).toEqual(Array.from(data));
    expect(t.shape).toEqual([3, 4]);
    const t4 = io.make([3, 2, 2, 1], (into) => into.set(data)); // any rank: the generic path's images and conv kernels
    expect(t4.shape).toEqual([3, 2, 2, 1]);
    expect(Array.from(t4.dataSync())).toEqual(Array.from(data));
    t4.dispose();
    const ones = tf.ones([4, 2]);
    const product = tf.matMul(t, ones);
    const out = new Float32Array(8);
    io.read(product, 6, out, 1);
    expect(Array.from(out)).toEqual([0, ...Array.from(product.dataSync()).slice(0, 6), 0]);
    tf.dispose([t, ones, product]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("moves the tutorial MLP's weights in and out exactly as the public path does, and leaks no tensors", () => {
    const heap = wasmHeapIo();
    if (heap === undefined) throw new Error('no heap access');
    const model = tutorialMlp(CFG, 7);
    const vars = variablesOf(model.trainableWeights);
    const before = tf.memory().numTensors;
    const a = readFlat(vars, heap);
    const b = readFlat(vars, publicIo());
    expect(a.length).toBe(109_386);
    expect(maxAbsDiff(a, b)).toBe(0);
    const moved = a.map((v, i) => v + Math.sin(i));
    assignFlat(vars, moved, heap);
    expect(maxAbsDiff(readFlat(vars, publicIo()), moved)).toBe(0);
    assignFlat(vars, a, publicIo());
    expect(maxAbsDiff(readFlat(vars, heap), a)).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
