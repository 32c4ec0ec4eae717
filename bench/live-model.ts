/**
 * `node dist/bench/live-model.js`: what the live model (src/fit/live-model.ts)
 * costs per callback event on the coordinator, for the tutorial MLP
 * (examples/mlp.js) and the convnet (examples/convnet.js), on the cpu and wasm
 * backends: the weights written into the user's model after a step (before())
 * with the change check and optimizer read-back (after()), and the read-back of
 * weights a callback set (model.setWeights). A stand-in trainer serves the
 * parameters as the real one does (a copy of the shared vector), so the figures
 * are the coordinator's cost alone; an event with no step since costs neither.
 * Medians of 200 events.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { LiveModel } from '../src/fit/live-model.js';
import { readFlat } from '../src/model/flat-weights.js';
import type { OptimizerSpec } from '../src/optim/spec.js';
import { registerWasmTrainingKernels } from '../src/tfjs-kernels/register.js';
import type { Trainer } from '../src/trainer/trainer.js';

const EVENTS = 200;

/** The parts of a Trainer the live model uses; each call to step() is one optimizer step. */
class StandIn {
  stepsDone = 0;
  constructor(private readonly params: Float32Array) {}
  step(): void {
    this.stepsDone++;
    this.params[0] += 1e-3;
  }
  getParams(): Float32Array {
    return this.params.slice();
  }
  setParams(p: Float32Array): void {
    this.params.set(p);
  }
  async nonTrainable(): Promise<Float32Array> {
    return new Float32Array(0);
  }
  setOptimizer(_: OptimizerSpec): void {}
  setOptimizerState(): void {}
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(name: string, make: () => tf.LayersModel): Promise<void> {
  const model = make();
  const trainer = new StandIn(readFlat(model.trainableWeights.map((w) => w.read())));
  const live = new LiveModel(model, trainer as unknown as Trainer, { iterations: 0, state: new Float32Array(0) });
  const after: number[] = [];
  const restored: number[] = [];
  const saved = model.getWeights().map((w) => w.clone());
  for (let i = 0; i < EVENTS; i++) {
    trainer.step();
    let t0 = performance.now();
    await live.before();
    live.after();
    after.push(performance.now() - t0);
    model.setWeights(saved); // what a restoring callback does, then its read-back
    t0 = performance.now();
    live.after();
    restored.push(performance.now() - t0);
  }
  const P = trainer.getParams().length;
  console.log(
    `${tf.getBackend().padEnd(4)} ${name.padEnd(8)} ${String(P).padStart(7)} params: after a step ${median(after).toFixed(3)} ms per event, read-back of setWeights ${median(restored).toFixed(3)} ms`,
  );
}

const example = async (file: string): Promise<() => tf.LayersModel> =>
  ((await import(new URL(`../../examples/${file}`, import.meta.url).href)) as { default: () => tf.LayersModel })
    .default;
registerWasmTrainingKernels();
for (const backend of ['cpu', 'wasm']) {
  await tf.setBackend(backend);
  await measure('mlp', await example('mlp.js'));
  await measure('convnet', await example('convnet.js'));
}
