// The engine internals src/tfjs-kernels/shared-saves.ts uses must fail loudly here, not silently in
// training, if @tensorflow/tfjs-core changes under it; and the saves it makes must change nothing
// but the kernels run: the same gradients, bit for bit, higher-order ones included, and no leaks.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../dist/src/backend.js';
import { engineHasSharedSaves, shareSavedTensors } from '../dist/src/tfjs-kernels/shared-saves.js';
import { registerWasmTrainingKernels } from '../dist/src/tfjs-kernels/register.js';
import { variablesOf } from '../dist/src/model/flat-weights.js';
import { Rng } from '../dist/src/rng.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
});
afterAll(() => {
  shareSavedTensors(false);
});

/** A conv, ReLU, pooling, dense and softmax model: every kind of saved tensor a convnet's step makes. */
function model(): tf.Sequential {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [9, 9, 2],
        filters: 4,
        kernelSize: 3,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
        biasInitializer: 'ones',
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({
        units: 5,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }),
      }),
    ],
  });
  m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
  return m;
}

function batch(): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const rng = new Rng(7);
  const x = tf.tensor4d(
    Float32Array.from({ length: 3 * 9 * 9 * 2 }, () => rng.next() * 2 - 1),
    [3, 9, 9, 2],
  );
  const y = tf.oneHot(tf.tensor1d([0, 4, 2], 'int32'), 5) as tf.Tensor2D;
  return { x, y };
}

/** The loss's gradients for each weight, and the kernels one step ran. */
async function step(
  m: tf.Sequential,
  x: tf.Tensor,
  y: tf.Tensor,
): Promise<{ grads: Float32Array[]; kernels: string[] }> {
  let grads: Float32Array[] = [];
  const profile = await tf.profile(() => {
    grads = tf.tidy(() => {
      const vars = variablesOf(m.trainableWeights);
      const { grads: g } = tf.variableGrads(
        () => tf.mean(tf.metrics.categoricalCrossentropy(y, m.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
        vars,
      );
      return vars.map((v) => g[v.name].dataSync() as Float32Array);
    });
  });
  return { grads, kernels: profile.kernels.map((k) => k.name) };
}

describe('saves without a kernel (tfjs-core internals)', () => {
  it('is pinned: the installed tfjs-core is the version the module was written for', () => {
    const core = JSON.parse(readFileSync('node_modules/@tensorflow/tfjs-core/package.json', 'utf8')) as {
      version: string;
    };
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      peerDependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(core.version).toBe('4.22.0');
    expect(pkg.peerDependencies['@tensorflow/tfjs']).toBe('4.22.0');
    expect(pkg.devDependencies['@tensorflow/tfjs']).toBe('4.22.0');
  });

  it('finds the internals it uses on the engine', () => {
    expect(
      engineHasSharedSaves(),
      'Engine.clone / makeTensorFromTensorInfo / addTapeNode / state.activeScope changed: src/tfjs-kernels/shared-saves.ts needs updating',
    ).toBe(true);
  });

  it('gives the same gradients bit for bit, runs no Identity kernel for its saves, and leaks nothing', async () => {
    const m = model();
    const { x, y } = batch();
    const before = tf.memory().numTensors;
    expect(shareSavedTensors(false)).toBe(false);
    const stock = await step(m, x, y);
    expect(tf.memory().numTensors).toBe(before);
    expect(shareSavedTensors(true)).toBe(true);
    const shared = await step(m, x, y);
    expect(tf.memory().numTensors).toBe(before);
    // conv kernel (3, 3, 2, 4) and bias, dense kernel (3 x 3 x 4 pooled, 5) and bias; each reached by the loss
    expect(stock.grads.map((g) => g.length)).toEqual([3 * 3 * 2 * 4, 4, 3 * 3 * 4 * 5, 5]);
    expect(stock.grads.every((g) => g.some((v) => v !== 0))).toBe(true);
    expect(shared.grads.map((g) => Array.from(g))).toEqual(stock.grads.map((g) => Array.from(g)));
    const identities = (k: string[]): number => k.filter((n) => n === 'Identity').length;
    expect(identities(stock.kernels)).toBeGreaterThan(5);
    // the Identity kernels left are tf.clone ops (in broadcastTo), not the engine's saves
    expect(identities(shared.kernels)).toBeLessThan(identities(stock.kernels) - 5);
    expect(shared.kernels.length).toBe(stock.kernels.length - (identities(stock.kernels) - identities(shared.kernels)));
    tf.dispose([x, y]);
    m.dispose();
  });

  it("initBackend('wasm') installs them, with the one-kernel ReLU gradient: a ReLU's backward is its kernel alone", async () => {
    shareSavedTensors(false);
    await initBackend('wasm');
    const x = tf.tensor1d([1, -1, 2]);
    const profile = await tf.profile(() => tf.grad((v: tf.Tensor) => tf.relu(v))(x));
    expect(profile.kernels.map((k) => k.name)).toEqual(['Relu', 'WorkerDdpReluGrad']);
    x.dispose();
  });

  it('keeps higher-order gradients: d2/dx2 of x*x*x through the saved tensors is 6x', () => {
    shareSavedTensors(true);
    const x = tf.tensor1d([0.5, -2, 3]);
    const before = tf.memory().numTensors;
    const second = tf.tidy(() =>
      tf
        .grad((v: tf.Tensor) =>
          tf
            .grad((u: tf.Tensor) => tf.sum(tf.mul(tf.mul(u, u), u)))(v)
            .sum(),
        )(x)
        .dataSync(),
    );
    expect(Array.from(second)).toEqual([3, -12, 18]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
