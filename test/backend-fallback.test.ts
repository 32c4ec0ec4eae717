// Note [auto never breaks a run]: when tfjs-node loads in some worker threads but not in
// others, `auto` falls back to wasm in every worker with one warning, and an explicit
// `tensorflow` fails with the worker's own error. tfjs-node cannot install here, so the
// documented stand-in (Note [native stand-in] in src/backend.ts) plays it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NATIVE_STANDIN_ENV } from '../dist/src/backend.js';
import { Trainer } from '../dist/src/index.js';
import { rejection, subset } from './helpers.js';

const data = subset(256, 64);

describe('with the native stand-in', () => {
  beforeAll(() => {
    process.env[NATIVE_STANDIN_ENV] = '1'; // read by worker threads started after this
  });
  afterAll(() => {
    delete process.env[NATIVE_STANDIN_ENV];
  });

  it('auto: native in one worker, failing in the other -> every worker on wasm, one warning, same model as wasm', async () => {
    const warnings: string[] = [];
    const faults = [{ kind: 'native-fail' as const, rank: 1, step: 0 }];
    const a = await Trainer.create({
      workers: 2,
      backend: 'auto',
      data,
      seed: 1,
      faults,
      onWarning: (m) => warnings.push(m),
    });
    const b = await Trainer.create({ workers: 2, backend: 'wasm', data, seed: 1 });
    try {
      expect(warnings).toEqual([
        'backend auto: tfjs-node loaded in worker 0 but not in worker 1; every worker uses wasm instead',
      ]);
      expect(a.backend).toBe('wasm');
      await a.train(4);
      await b.train(4);
      expect(a.getParams()).toEqual(b.getParams());
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('auto: native in every worker -> native, no warning, and every worker trains on it: the steps of the cpu backend it stands in for', async () => {
    // tfjs-node cannot install here: the stand-in's "native" is tfjs's cpu backend, so the steps
    // trained through it must be those of an explicit cpu run, bit for bit.
    const warnings: string[] = [];
    const t = await Trainer.create({ workers: 2, backend: 'auto', data, seed: 1, onWarning: (m) => warnings.push(m) });
    const cpu = await Trainer.create({ workers: 2, backend: 'cpu', data, seed: 1 });
    try {
      expect(t.backend).toBe('tensorflow');
      expect(warnings).toEqual([]);
      const before = t.getParams();
      const losses = await t.train(2);
      expect(Array.from(losses)).toEqual(Array.from(await cpu.train(2)));
      expect(t.getParams()).toEqual(cpu.getParams());
      expect(t.getParams()).not.toEqual(before);
    } finally {
      await t.close();
      await cpu.close();
    }
  });

  it('tensorflow: fails with the failing worker own error', async () => {
    const err = await rejection(
      Trainer.create({ workers: 2, backend: 'tensorflow', data, faults: [{ kind: 'native-fail', rank: 1, step: 0 }] }),
    );
    expect((err as Error).message).toBe(
      "worker 1: backend tensorflow: @tensorflow/tfjs-node is not installed or failed to load: injected fault 'native-fail': the native backend failed to load in this thread",
    );
  });
});
