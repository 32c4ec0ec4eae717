// The tfjs internals the replicas use (src/tfjs-kernels/heap.ts, through src/model/wasm-heap.ts) must fail loudly here,
// not silently in training, if @tensorflow/tfjs-backend-wasm changes under it.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { MlpReplica } from '../dist/src/model/mlp.js';
import { mlpDef } from '../dist/src/model/mlp.js';
import { makeLayout } from '../dist/src/model/layout.js';
import { publicIo } from '../dist/src/model/tensor-io.js';
import { wasmHeapIo } from '../dist/src/model/wasm-heap.js';
import { PINNED_WASM_VERSION } from '../dist/src/tfjs-kernels/heap.js';
import { Rng } from '../dist/src/rng.js';
import { maxAbsDiff, mnist } from './helpers.js';

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

  it('gives the MLP exactly the gradients of the public path, and leaks no tensors', () => {
    const heap = wasmHeapIo();
    if (heap === undefined) throw new Error('no heap access');
    const def = mlpDef(CFG);
    const P = makeLayout(def.variables).size;
    const params = new Float32Array(P);
    const rng = new Rng(7);
    def.init(params, () => rng.next());
    const data = mnist();
    const a = new MlpReplica(CFG, heap);
    const b = new MlpReplica(CFG, publicIo());
    const ga = new Float32Array(P);
    const gb = new Float32Array(P);
    const before = tf.memory().numTensors;
    for (const n of [1, 7, 32, 64]) {
      const batch = { ...data.train, indices: Int32Array.from({ length: n }, (_, j) => 100 + 3 * j) };
      const la = a.lossAndGradSum(params, batch, ga);
      const lb = b.lossAndGradSum(params, batch, gb);
      expect(la).toBe(lb);
      expect(maxAbsDiff(ga, gb)).toBe(0);
      expect(maxAbsDiff(a.logProbs(params, batch), b.logProbs(params, batch))).toBe(0);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
