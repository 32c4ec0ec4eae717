#!/usr/bin/env node
/**
 * `npm run train -- [flags]`: CLI -> Trainer (coordinator) -> pool -> workers.
 * Writes metrics.json, loss.png and a checkpoint to the run folder after every
 * epoch, the trained model there too (and to --save), a TensorBoard log (--logdir,
 * default the run folder's tb/) and a trace with --profile.
 * Exit codes: 0 done, 2 bad input (a flag, an option, a data, model or
 * checkpoint file), 130 / 143 stopped by SIGINT / SIGTERM (after a
 * checkpoint), 1 anything else (a step that kept failing, non-finite numbers).
 */
import type { LayersModel } from '@tensorflow/tfjs';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend } from '../backend.js';
import { CHECKPOINT_FILE, CheckpointError, readCheckpoint, type Checkpoint } from '../checkpoint.js';
import { ProcessGroup, underMpirun } from '../collective/group.js';
import type { Dataset } from '../data/dataset.js';
import { stepsPerEpoch } from '../data/shuffle.js';
import { DataFileError } from '../data/idx.js';
import { faultsFromEnv, type Fault } from '../faults.js';
import { MetricsLog, type Metrics } from '../io/metrics.js';
import { layersSource, writeWeights } from '../fit/spec.js';
import { MODEL_JSON, loadModel, saveModel, trainableParams, type SavedModel } from '../io/model-file.js';
import { dataMetadata, setDataMetadata } from '../io/model-metadata.js';
import { describeSizes, tutorialMlp, type MlpConfig } from '../model/tutorial-mlp.js';
import type { LrSchedule } from '../optim/schedule.js';
import { OptionError, resolveOptions, type ResolvedOptions } from '../options.js';
import { NonFiniteError, Trainer, type EpochResult, type ModelSource } from '../trainer/trainer.js';
import { lossPng } from '../viz/loss.js';
import { outliveClosedStdout } from './closed-stdout.js';
import { USAGE, parseCommand, type Command, type RunFlags } from './args.js';
import { fileFlagArgs, keptDataFlags, modelFlagArgs, resumedFileFlags, resumedModelFlags } from './data-flags.js';
import { loadData, type FileFlags } from './data-source.js';
import { cliModelSource, endsInSoftmax } from './model-recipe.js';
import { loadModelModule } from './model-module.js';
import { Reporter, testSummary } from './progress.js';
import { makeDir, makeFile, newRunDir, removeEmptyMade } from './run-dir.js';
import { RunBoard } from './tensorboard-log.js';

/** The run's reporter, once training starts: an error must first clear its bar. */
let reporter: Reporter | undefined;

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** What got a warning about its scale ('the features', 'the targets'): the likelier cause of a non-finite loss than --lr. */
let largeScale: string | undefined;
/** The batch size is --batch-size's default, which the user never gave. */
let defaultBatch = false;

/** This process's MPI job, when started by mpirun (Note [mpirun means one run]). */
let group: ProcessGroup | undefined;

/** A training command as this process runs it (an MPI rank other than 0 runs it quietly). */
interface Setup {
  readonly cmd: Extract<Command, { kind: 'train' }>;
  readonly o: ResolvedOptions;
  /** This process prints, checkpoints and saves: no MPI job, or its rank 0. */
  readonly lead: boolean;
  /** The command's run flags; resuming, --model and --loss default to the checkpoint's. */
  readonly run: RunFlags;
  /** The --resume checkpoint. */
  readonly resumed: Checkpoint | undefined;
}

/** What the run trains on and starts from, every input checked before any worker starts. */
interface Inputs {
  readonly faults: Fault[] | undefined;
  readonly resumed: Checkpoint | undefined;
  readonly dataset: Dataset;
  /** The run folder (undefined on an MPI rank other than 0). */
  readonly out: string | undefined;
  /** The TensorBoard log folder (undefined: none, or an MPI rank other than 0). */
  readonly logdir: string | undefined;
  /** The --load model's file and trainable weights. */
  readonly start: { readonly file: string; readonly params: Float32Array } | undefined;
  /** The tutorial MLP's sizes for this data (a resumed run's from its checkpoint): what trains without --model. */
  readonly mlp: MlpConfig;
  /** What trains: the --model module's LayersModel or the tutorial MLP; the trained weights are saved in it. */
  readonly model: LayersModel;
  readonly source: ModelSource;
  /** The --model module's recipe (its optimizer under the flags). */
  readonly recipe: ReturnType<typeof cliModelSource> | undefined;
}

/** What the training loop reports to and records in. */
interface RunRecord {
  readonly report: Reporter;
  readonly log: MetricsLog;
  /** The TensorBoard log, if any: disposed after finish(). */
  readonly board: RunBoard | undefined;
  readonly model: MlpConfig;
  /** The signal that stopped the run, if one did. */
  readonly stoppedBy: () => keyof typeof SIGNAL_EXIT | undefined;
}

/** The run's steps: parse -> inputs (data, models) -> trainer -> record -> training loop -> save and report. */
async function main(argv: readonly string[]): Promise<number> {
  const setup = parse(argv);
  if (setup === undefined) return 0;
  process.on('SIGINT', stopBeforeTraining).on('SIGTERM', stopBeforeTraining);
  const inputs = await loadInputs(setup);
  if (inputs === undefined) return 0;
  await using trainer = await createTrainer(setup, inputs);
  if (inputs.start !== undefined) trainer.setParams(inputs.start.params);
  const record = startRecord(setup, inputs, trainer);
  using _board = record.board; // closed last: a stopped run's checkpoint is written first
  const last = await trainLoop(setup, inputs, trainer, record);
  // Awaited inside the `using` scope: finish() still needs the pool.
  return await finish(setup, inputs, trainer, record, last);
}

/** The command line, and this process's part in an MPI job; undefined after --help. */
function parse(argv: readonly string[]): Setup | undefined {
  const cmd = parseCommand(argv);
  if (cmd.kind === 'help') {
    process.stdout.write(USAGE);
    return undefined;
  }
  const o = resolveOptions(cmd.options);
  // Note [mpirun means one run]: started by mpirun with several processes, the CLI joins them into one
  // training run (no flag to forget: P independent copies of a run are never what mpirun -np P means).
  // Rank 0 prints, evaluates for the record, checkpoints and saves; the other ranks only train, quietly.
  if (underMpirun()) group = ProcessGroup.join(o.workers);
  const lead = group === undefined || group.rank === 0;
  const resumed = cmd.run.resume === undefined ? undefined : readCheckpoint(cmd.run.resume);
  const given: RunFlags =
    resumed === undefined || cmd.run.resume === undefined
      ? cmd.run
      : {
          ...cmd.run,
          ...resumedModelFlags(resumed.header.recipe.readAs, cmd.run, join(cmd.run.resume, CHECKPOINT_FILE)),
        };
  const run: RunFlags = lead
    ? given
    : { ...given, report: 'quiet', save: undefined, profile: undefined, logdir: false };
  return { cmd, o, lead, run, resumed };
}

/** A run writes its model and checkpoint into a folder of its own: one that holds another run's is refused. */
function checkFreshOut(dir: string): void {
  const held = [MODEL_JSON, CHECKPOINT_FILE].filter((f) => existsSync(join(dir, f)));
  if (held.length > 0)
    throw new OptionError(
      `--out ${dir}: holds a run already (${held.join(', ')}): give a new folder, or --resume ${dir} to train it on`,
    );
}

/**
 * Data, checkpoint, folders and models, checked before anything starts;
 * undefined when a resumed run has nothing left to train.
 */
async function loadInputs({ cmd, o, lead, run, resumed }: Setup): Promise<Inputs | undefined> {
  // Everything that can be wrong with the input is checked before the workers start,
  // and before anything is written. A resumed run takes its recipe (data folder
  // included) from the checkpoint.
  const faults = faultsFromEnv();
  const seed = cmd.options.seed ?? resumed?.header.recipe.seed ?? o.seed;
  const dataPath = typeof o.data === 'string' ? o.data : (resumed?.header.recipe.data ?? undefined);
  const files =
    resumed === undefined || run.resume === undefined
      ? run.files
      : resumedFileFlags(resumed.header.recipe.readAs, run.files, join(run.resume, CHECKPOINT_FILE));
  const loaded = await loadData(dataPath, files, seed);
  const { metadata, warnings } = loaded;
  // What a checkpoint keeps for --resume: the data flags, and the --model module's (data-flags.ts).
  const readAs = loaded.dataset.readAs === undefined ? undefined : [...loaded.dataset.readAs, ...modelFlagArgs(run)];
  const dataset: Dataset = { ...loaded.dataset, readAs };
  largeScale = loaded.largeScale;
  defaultBatch = cmd.options.batchSize === undefined && resumed === undefined;
  if (lead) for (const w of warnings) console.error(`warning: ${w}`);
  if (resumed !== undefined && run.resume !== undefined) {
    checkResumedData(resumed, dataset, files, join(run.resume, CHECKPOINT_FILE));
    const epochs = cmd.options.epochs ?? resumed.header.recipe.epochs;
    if (resumed.header.step >= epochs * stepsPerEpoch(dataset.train.count, resumed.header.recipe.batchSize)) {
      const say = run.report === 'auto' ? console.log : console.error; // --json keeps stdout JSON only
      const done = `${run.resume} finished its ${epochs} epochs at step ${resumed.header.step}`;
      if (lead) say(`nothing left to train: ${done}; to train on, resume with a larger --epochs`);
      return undefined;
    }
  }
  if (run.profile !== undefined) makeFile('--profile', run.profile);
  const resumesOut = run.out !== undefined && run.resume !== undefined && resolve(run.out) === resolve(run.resume);
  if (lead && run.out !== undefined && !resumesOut) checkFreshOut(run.out);
  const out = lead ? makeDir('--out', run.out ?? run.resume ?? newRunDir()) : undefined;
  const logdir =
    out === undefined || run.logdir === false ? undefined : makeDir('--logdir', run.logdir ?? join(out, 'tb'));
  if (run.save !== undefined) makeDir('--save', run.save);
  // This thread's tfjs, for the LayersModel that trains: the --model module's, or the tutorial MLP
  // (a resumed run's with its checkpoint's sizes and seed; the Trainer checks it is the checkpoint's model).
  await initBackend(o.backend);
  const recipe = resumed?.header.recipe;
  const mlp: MlpConfig = {
    inputSize: dataset.train.features,
    hidden: cmd.options.hidden ?? recipe?.hidden ?? o.hidden,
    numClasses: dataset.numClasses,
    head: dataset.train.targets === undefined ? 'classes' : 'regression',
  };
  const model = run.model === undefined ? tutorialMlp(mlp, seed) : await loadModelModule(run.model);
  setDataMetadata(model, metadata); // saved with the model: predict names the classes
  const flags = {
    loss: run.loss,
    optimizer: typeof cmd.options.optimizer === 'string' ? cmd.options.optimizer : undefined,
    lr: cmd.options.lr,
  };
  const moduleRecipe = run.model === undefined ? undefined : cliModelSource(model, flags, dataset, run.model);
  const targets = dataset.train.targets === undefined ? 'onehot' : 'given';
  const source = moduleRecipe?.source ?? layersSource(model, { targets });
  let start: Inputs['start'];
  if (run.load !== undefined) {
    const saved = await loadModel(run.load);
    checkLoadedHead(saved, dataset.train.targets !== undefined, run.load);
    const why = run.model === undefined ? `this run's MLP ${describeSizes(mlp)} (--hidden)` : `--model ${run.model}`;
    start = { file: saved.file, params: trainableParams(saved, source.spec.trainable, why) };
    saved.model.dispose();
  }
  return { faults, resumed, dataset, out, logdir, start, mlp, model, source, recipe: moduleRecipe };
}

/**
 * Refuses, naming the data flags of both, data of other sizes than the
 * checkpoint's run read: another file, split or reading (the Trainer then checks
 * the labels themselves and the model).
 */
function checkResumedData(resumed: Checkpoint, data: Dataset, files: FileFlags, file: string): void {
  const r = resumed.header.recipe;
  if (r.trainCount === data.train.count && r.inputSize === data.train.features && r.numClasses === data.numClasses)
    return;
  const outputs = data.train.targets === undefined ? 'classes' : 'regression targets';
  const kept = keptDataFlags(r.readAs, file);
  const flags = (f: readonly string[] | undefined): string =>
    f === undefined ? 'data flags it does not keep (give them again)' : f.length === 0 ? 'no data flags' : f.join(' ');
  throw new CheckpointError(
    file,
    `trained on ${r.trainCount} samples of ${r.inputSize} values and ${r.numClasses} outputs, read from ${r.data} with ${flags(kept)}; ` +
      `this run reads ${data.train.count} samples of ${data.train.features} values and ${data.numClasses} ${outputs}, from ${resolve(data.dir)} with ${flags(fileFlagArgs(files))}`,
  );
}

/** Refuses a --load model made for the other kind of labels: a regression model for classes, a classifier for targets. */
function checkLoadedHead({ file, model }: SavedModel, regression: boolean, dir: string): void {
  if (!regression && dataMetadata(model, file).regression === true)
    throw new OptionError(
      `--load ${dir}: a regression model (its model.json says regression: true): give --regression`,
    );
  if (regression && endsInSoftmax(model))
    throw new OptionError(
      `--load ${dir}: a classifier (its output is a softmax); --regression needs a regression model`,
    );
}

/** The coordinator for the command's options: its pool started, each worker's tfjs ready. */
async function createTrainer(
  { cmd, run }: Setup,
  { faults, dataset, out, logdir, source, recipe }: Inputs,
): Promise<Trainer> {
  const trainer = await Trainer.create(
    {
      ...cmd.options,
      // A resumed run takes the optimizer from its checkpoint, unless a flag names one.
      ...(recipe === undefined ||
      (run.resume !== undefined && cmd.options.optimizer === undefined && cmd.options.lr === undefined)
        ? {}
        : { optimizer: recipe.optimizer }),
      data: dataset,
      resume: run.resume,
      checkpointDir: out,
      checkpointEvery: run.checkpointEvery,
      group,
      profile: run.profile !== undefined,
      phaseTimes: logdir !== undefined,
      faults,
      onWarning: warn,
    },
    source,
  );
  return trainer;
}

/** One warning line on stderr, below the bar. */
function warn(message: string): void {
  reporter?.stopBar();
  console.error(`warning: ${message}`);
}

/** The reporter, the signal handlers, the header line, the metrics log (continued for a resumed run) and the TensorBoard log. */
function startRecord(
  { lead, run }: Setup,
  { resumed, out, logdir, start, mlp: model }: Inputs,
  trainer: Trainer,
): RunRecord {
  const t = trainer.options;
  const data = trainer.dataset;
  // A step's samples: accumulated batches count together.
  const report = Reporter.create(run.report, {
    epochs: t.epochs,
    stepsPerEpoch: trainer.stepsPerEpoch,
    batchSize: t.batchSize * t.accumulateSteps,
    samples: data.train.count,
  });
  reporter = report;

  const stoppedBy = onSignals(trainer, report, lead);

  const what =
    run.model === undefined
      ? `MLP ${describeSizes(model)}${model.head === 'regression' ? ' (linear output, mean squared error)' : ''}`
      : `model ${run.model} (${trainer.layout.size} parameters)`;
  const processes = group === undefined ? '' : `${group.size} processes x `;
  report.info(
    `worker-ddp: ${processes}${trainer.workers} worker${trainer.workers > 1 ? 's' : ''}, backend ${trainer.backend}, ${what}, ` +
      `batch ${t.batchSize}${t.accumulateSteps > 1 ? ` x ${t.accumulateSteps} accumulated` : ''}, ${t.optimizer.kind === 'sgd' ? '' : `${t.optimizer.kind} `}lr ${t.lr}` +
      `${describeSchedule(t.lrSchedule)}, seed ${t.seed}, ${t.epochs} epochs, data ${data.dir}` +
      (start === undefined ? '' : `, from ${start.file}`) +
      (run.resume === undefined ? '' : `, resumed at step ${trainer.stepsDone} from ${run.resume}`),
  );
  const { workers, epochs, batchSize, lr, hidden, seed, backend, gradients, stepTimeoutMs } = t;
  const log = new MetricsLog({
    startedAt: new Date().toISOString(),
    options: { workers, epochs, batchSize, lr, hidden, seed, backend, gradients, stepTimeoutMs },
    backend: trainer.backend,
    layers: run.model === undefined ? [model.inputSize, ...model.hidden, model.numClasses] : [],
    data: data.dir,
    trainSamples: data.train.count,
    testSamples: data.test.count,
    stepsPerEpoch: trainer.stepsPerEpoch,
    loadedFrom: run.load ?? null,
  });
  if (resumed !== undefined) {
    log.continueFrom(out === undefined ? undefined : previousMetrics(out), trainer.stepsDone, trainer.stepsPerEpoch);
  }
  const board =
    logdir === undefined
      ? undefined
      : RunBoard.open(logdir, trainer, { every: run.logEvery, resumed: resumed !== undefined, warn });
  if (board !== undefined) report.info(`watch it in TensorBoard: tensorboard --logdir ${board.dir}`);
  return { report, log, board, model, stoppedBy };
}

/**
 * Note [Ctrl-C]: the first signal asks the workers to stop at a step boundary
 * (within two steps), after which a checkpoint is written and the pool closed;
 * a second one exits at once. Returns the signal that stopped the run, if one did.
 */
function onSignals(trainer: Trainer, report: Reporter, lead: boolean): () => keyof typeof SIGNAL_EXIT | undefined {
  process.off('SIGINT', stopBeforeTraining).off('SIGTERM', stopBeforeTraining);
  let stoppedBy: keyof typeof SIGNAL_EXIT | undefined;
  const onSignal = (sig: keyof typeof SIGNAL_EXIT): void => {
    if (stoppedBy !== undefined) process.exit(SIGNAL_EXIT[sig]);
    stoppedBy = sig;
    trainer.requestStop();
    report.stopBar();
    if (lead) console.error(`${sig}: stopping after the current step and writing a checkpoint (again to exit now)`);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  return () => stoppedBy;
}

/** A signal before training began: nothing to checkpoint; the run's new folders go (Note [no empty run folders]). */
function stopBeforeTraining(sig: keyof typeof SIGNAL_EXIT): void {
  console.error(`${sig}: stopped before training began; nothing was trained`);
  removeEmptyMade();
  process.exit(SIGNAL_EXIT[sig]);
}

/** Trains the remaining epochs, recording each; the last one finished, if any. */
async function trainLoop(
  { run }: Setup,
  { out }: Inputs,
  trainer: Trainer,
  { report, log, board }: RunRecord,
): Promise<EpochResult | undefined> {
  // Note [metrics with the checkpoint]: metrics.json is written wherever a checkpoint is (every epoch
  // end, every --checkpoint-every steps, a stop), so a resume finds the step losses up to its step and
  // continues them without a gap (Note [steps continue across a resume] in io/metrics.ts). A step that
  // fails for good ends train() without its chunk's losses: metrics.json then stops short of that
  // checkpoint, and the resumed curve has a gap there. Re-check: npx vitest run test/cli-resume.test.ts
  const every = trainer.options.checkpointEvery;
  const onSteps = (losses: Float64Array): void => {
    log.addSteps(losses);
    report.steps(trainer.stepsDone, losses);
    board?.steps(trainer.stepsDone, losses);
    const s = trainer.stepsDone;
    const checkpointed = s % trainer.stepsPerEpoch === 0 || (every > 0 && s % every === 0);
    if (out !== undefined && checkpointed) writeMetrics(out, log);
  };
  let last: EpochResult | undefined;
  try {
    for await (const e of trainer.fit({ chunkSteps: report.chunkSteps(), onSteps })) {
      last = e;
      log.addEpoch(e);
      if (out === undefined) continue;
      await writeRecord(out, log);
      report.epoch(e);
      board?.epoch(e);
    }
  } finally {
    if (run.profile !== undefined && trainer.trace !== undefined) {
      try {
        trainer.trace.write(run.profile);
        report.info(`wrote the trace ${run.profile}`);
      } catch (err) {
        console.error(`warning: --profile: ${(err as Error).message}`); // must not hide the run's own outcome
      }
    }
  }
  return last;
}

/** After training: a stopped run's checkpoint, or the summary and the saved model. */
async function finish(
  { run }: Setup,
  { out, model: trained }: Inputs,
  trainer: Trainer,
  { report, log, stoppedBy }: RunRecord,
  last: EpochResult | undefined,
): Promise<number> {
  // Under mpirun the signal may reach another process first; the stop is the whole job's (SIGTERM is what mpirun sends).
  const stop = stoppedBy();
  const stopCode = stop !== undefined ? SIGNAL_EXIT[stop] : trainer.stopped ? SIGNAL_EXIT.SIGTERM : undefined;
  if (out === undefined) return stopCode ?? 0; // an MPI rank other than 0: done
  if (stopCode !== undefined) {
    const file = trainer.saveCheckpoint(out);
    if (log.steps === trainer.stepsDone) await writeRecord(out, log);
    console.error(`stopped after step ${trainer.stepsDone}; checkpoint ${file}; continue with --resume ${out}`);
    return stopCode;
  }
  if (last !== undefined) report.info(testSummary(last.test));
  report.info(`wrote ${join(out, 'metrics.json')}, ${join(out, 'loss.png')} and a checkpoint`);
  writeWeights(trained, trainer.getParams(), await trainer.nonTrainable());
  for (const dir of run.save === undefined ? [out] : [out, run.save]) {
    await saveModel(dir, trained);
    report.info(`saved the model to ${join(dir, MODEL_JSON)}`);
  }
  return 0;
}

/** ` (cosine, 100 warm-up steps)`, or nothing for a constant rate without warm-up. */
function describeSchedule(s: LrSchedule): string {
  const warmup = s.warmupSteps !== undefined && s.warmupSteps > 0 ? `${s.warmupSteps} warm-up steps` : '';
  const parts = [s.kind === 'constant' ? '' : s.kind, warmup].filter((p) => p !== '');
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

/**
 * The run folder's metrics.json for a resumed run to continue; undefined (with a
 * warning when it is unreadable) starts a new record.
 */
function previousMetrics(out: string): Metrics | undefined {
  const file = join(out, 'metrics.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Metrics;
  } catch (err) {
    console.error(`warning: ${file}: not continued, the resumed run starts a new record (${(err as Error).message})`);
    return undefined;
  }
}

function writeMetrics(out: string, log: MetricsLog): void {
  writeFileSync(join(out, 'metrics.json'), `${JSON.stringify(log.toJSON(), null, 2)}\n`);
}

/** metrics.json and loss.png, the run's record so far. */
async function writeRecord(out: string, log: MetricsLog): Promise<void> {
  writeMetrics(out, log);
  writeFileSync(join(out, 'loss.png'), await lossPng(log.toJSON()));
}

outliveClosedStdout();
main(process.argv.slice(2)).then(
  (code) => {
    group?.finalize();
    process.exitCode = code;
  },
  (err: unknown) => {
    reporter?.stopBar();
    removeEmptyMade();
    const bad = err instanceof OptionError || err instanceof DataFileError || err instanceof CheckpointError;
    const rank = group === undefined ? '' : `MPI rank ${group.rank} of ${group.size}: `;
    // Every process reaches a non-finite verdict at once (Note [one verdict everywhere]): rank 0 reports it.
    // The library names no flags: the learning-rate and batch-size advice gets its flag here.
    const hint =
      err instanceof NonFiniteError && err.message.endsWith('try a smaller one')
        ? largeScale !== undefined
          ? ` (--lr; but first ${largeScale}, whose scale was warned of: scale them)`
          : ' (--lr)'
        : err instanceof OptionError && err.message.startsWith('batch size must be at most')
          ? defaultBatch
            ? " (--batch-size's default: give a smaller one)"
            : ' (--batch-size)'
          : '';
    if (group === undefined || group.rank === 0 || !(err instanceof NonFiniteError))
      console.error(`error: ${rank}${err instanceof Error ? err.message : String(err)}${hint}`);
    const code = bad ? 2 : 1;
    // A non-finite verdict is reached by every process at the same step (Note [one verdict everywhere]):
    // they all leave cleanly. Any other error may be this process's alone: end the job, or the others would wait.
    if (group !== undefined && !(err instanceof NonFiniteError)) group.abort(code);
    group?.finalize();
    process.exitCode = code;
  },
);
