#!/usr/bin/env node
/**
 * `npm run train -- [flags]`: CLI -> Trainer (coordinator) -> pool -> workers.
 * Writes metrics.json and loss.png to the run folder after every epoch, and
 * the model with --save. Exit codes: 0 done, 2 bad input (a flag, an option,
 * a data or model file), 1 anything else.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../backend.js';
import { loadDataset } from '../data/dataset.js';
import { DataFileError } from '../data/idx.js';
import { describeSizes } from '../io/layers.js';
import { MetricsLog } from '../io/metrics.js';
import { MODEL_JSON, checkArchitecture, loadModel, saveModel, type SavedModel } from '../io/model-file.js';
import type { MlpConfig } from '../model/mlp.js';
import { OptionError, resolveOptions } from '../options.js';
import { Trainer } from '../trainer/trainer.js';
import { lossPng } from '../viz/loss.js';
import { USAGE, parseCommand } from './args.js';
import { Reporter } from './progress.js';
import { makeDir, newRunDir } from './run-dir.js';

/** The run's reporter, once training starts: an error must first clear its bar. */
let reporter: Reporter | undefined;

async function main(argv: readonly string[]): Promise<number> {
  const cmd = parseCommand(argv);
  if (cmd.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const { run } = cmd;
  const o = resolveOptions(cmd.options);
  if (o.workers > availableParallelism()) {
    console.error(`warning: ${o.workers} workers on ${availableParallelism()} cores: threads will share cores and run slower`);
  }
  // Everything that can be wrong with the input is checked before the workers start.
  const dataset = loadDataset(typeof o.data === 'string' ? o.data : undefined);
  const model: MlpConfig = { inputSize: dataset.train.features, hidden: o.hidden, numClasses: dataset.numClasses };
  const out = run.out === undefined ? newRunDir() : makeDir('--out', run.out);
  if (run.save !== undefined) makeDir('--save', run.save);
  let start: SavedModel | undefined;
  if (run.save !== undefined || run.load !== undefined) await initBackend(o.backend); // this thread's tfjs, for the LayersModel
  if (run.load !== undefined) {
    start = await loadModel(run.load);
    checkArchitecture(start, model, `this run (--hidden ${o.hidden.join(',')} on ${dataset.dir})`);
  }

  await using trainer = await Trainer.create({ ...cmd.options, data: dataset });
  if (start !== undefined) trainer.setParams(start.params);
  const report = Reporter.create(run.report, { epochs: o.epochs, stepsPerEpoch: trainer.stepsPerEpoch, batchSize: o.batchSize, samples: dataset.train.count });
  reporter = report;
  report.info(
    `worker-ddp: ${trainer.workers} worker${trainer.workers > 1 ? 's' : ''}, backend ${trainer.backend}, MLP ${describeSizes(model)}, ` +
      `batch ${o.batchSize}, lr ${o.lr}, seed ${o.seed}, ${o.epochs} epochs, data ${dataset.dir}` +
      (start === undefined ? '' : `, from ${start.file}`),
  );
  const { workers, epochs, batchSize, lr, hidden, seed, backend, gradients, stepTimeoutMs } = trainer.options;
  const log = new MetricsLog({
    startedAt: new Date().toISOString(),
    options: { workers, epochs, batchSize, lr, hidden, seed, backend, gradients, stepTimeoutMs },
    backend: trainer.backend,
    layers: [model.inputSize, ...model.hidden, model.numClasses],
    data: dataset.dir,
    trainSamples: dataset.train.count,
    testSamples: dataset.test.count,
    stepsPerEpoch: trainer.stepsPerEpoch,
    loadedFrom: run.load ?? null,
  });

  const onSteps = (losses: Float64Array): void => {
    log.addSteps(losses);
    report.steps(trainer.stepsDone, losses);
  };
  let last;
  for await (const e of trainer.fit({ chunkSteps: report.chunkSteps(), onSteps })) {
    last = e;
    log.addEpoch(e);
    writeFileSync(join(out, 'metrics.json'), `${JSON.stringify(log.toJSON(), null, 2)}\n`);
    writeFileSync(join(out, 'loss.png'), await lossPng(log.toJSON()));
    report.epoch(e);
  }
  if (last !== undefined) {
    const t = last.test;
    report.info(`test accuracy ${(100 * t.accuracy).toFixed(2)}% (${Math.round(t.accuracy * t.count)}/${t.count}), test loss ${t.loss.toFixed(4)}`);
  }
  report.info(`wrote ${join(out, 'metrics.json')} and ${join(out, 'loss.png')}`);
  if (run.save !== undefined) {
    await saveModel(run.save, { config: model, params: trainer.getParams() });
    report.info(`saved the model to ${join(run.save, MODEL_JSON)}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    reporter?.stopBar();
    const bad = err instanceof OptionError || err instanceof DataFileError;
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = bad ? 2 : 1;
  },
);
