// The CLI's edge: every bad flag exits 2 with exactly one line on stderr (the
// message, no stack trace) and nothing on stdout; --help exits 0. Plus
// parseCommand on good values, and the library's own option validation.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommand } from '../dist/src/cli/args.js';
import { OptionError, Trainer } from '../dist/src/index.js';
import { osThreads, rejection, runCli, smallMnistDir, subset, type CliResult } from './helpers.js';

const MAIN = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

let tmp: string;
let emptyDir: string;
let smallDir: string;
/** A folder holding another run's model.json. */
let heldDir: string;
/** A CSV whose label column holds regression targets, and one whose labels are all one class. */
let floatsCsv: string;
let oneClassCsv: string;
let fewCsv: string;

/** Runs the compiled CLI in the temp dir (so a default output folder lands there). */
function cli(args: readonly string[]): Result {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: tmp,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Result = CliResult;

/** cli() without blocking: the runs of a table go two at a time (each node start loads tfjs: ~1 s). Killed after `timeoutMs`. */
function cliAsync(args: readonly string[], timeoutMs = 120_000): Promise<Result> {
  return runCli(args, tmp, timeoutMs);
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: limit }, lane));
  return out;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-cli-'));
  emptyDir = join(tmp, 'empty');
  mkdirSync(emptyDir);
  smallDir = smallMnistDir(join(tmp, 'small'), 100, 50); // 100 training and 50 test samples of the real MNIST
  heldDir = join(tmp, 'held');
  mkdirSync(heldDir);
  writeFileSync(join(heldDir, 'model.json'), '{}');
  floatsCsv = join(tmp, 'floats.csv');
  writeFileSync(floatsCsv, 'label,a,b\n0.25,1,2\n1.5,3,4\n');
  fewCsv = join(tmp, 'few.csv'); // 10 rows: 9 train at the default --val-split
  writeFileSync(fewCsv, `label,a\n${Array.from({ length: 10 }, (_, i) => `${i % 2},${i}`).join('\n')}\n`);
  oneClassCsv = join(tmp, 'one-class.csv');
  writeFileSync(oneClassCsv, 'label,a,b\ncat,1,2\ncat,3,4\n');
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('compiled CLI, bad input: exit 2, one stderr line, empty stdout', () => {
  const cases: { args: string[]; message: string }[] = [
    { args: ['--workers', '0'], message: '--workers must be an integer from 1 to 256, got 0' },
    { args: ['--workers', '-1'], message: '--workers must be an integer from 1 to 256, got -1' },
    { args: ['--workers', 'abc'], message: '--workers must be an integer from 1 to 256, got "abc"' },
    { args: ['--workers', '1.5'], message: '--workers must be an integer from 1 to 256, got "1.5"' },
    { args: ['--epochs', '0'], message: '--epochs must be an integer from 1 to 100000, got 0' },
    { args: ['--batch-size', '-5'], message: '--batch-size must be an integer from 1 to 1048576, got -5' },
    { args: ['--lr', '0'], message: '--lr must be a finite number greater than 0, got 0' },
    { args: ['--lr', '-1'], message: '--lr must be a finite number greater than 0, got -1' },
    { args: ['--lr', 'abc'], message: '--lr must be a finite number greater than 0, got "abc"' },
    { args: ['--hidden', '128,x'], message: '--hidden widths must be an integer from 1 to 65536, got "x"' },
    { args: ['--seed', '-1'], message: '--seed must be an integer from 0 to 4294967295, got -1' },
    { args: ['--backend', 'gpu'], message: '--backend must be one of auto, tensorflow, wasm, cpu, got "gpu"' },
    { args: ['--gradients', 'fast'], message: '--gradients must be one of manual, autograd, got "fast"' },
    {
      args: ['--optimizer', 'adamw'],
      message: '--optimizer must be one of sgd, momentum, adam, rmsprop, adagrad, got "adamw"',
    },
    { args: ['--foo'], message: 'unknown flag --foo (see --help)' },
    { args: ['--workers'], message: '--workers needs a value (see --help)' },
    { args: ['--epochs', '2', '--lr'], message: '--lr needs a value (see --help)' },
    // The value is missing and the next token is another flag: parseArgs calls this "ambiguous".
    { args: ['--workers', '--epochs', '2'], message: '--workers needs a value (see --help)' },
    { args: ['--help=yes'], message: '--help takes no value' },
    { args: ['extra'], message: 'unexpected argument extra (flags start with --; see --help)' },
    {
      args: ['--data', '<empty>'],
      message:
        '<empty>: holds neither idx files (train-images-idx3-ubyte, ...) nor class folders (<class>/<image>.png|.jpg|.jpeg)',
    },
    {
      args: ['--data', '<small>', '--batch-size', '101', '--workers', '1'],
      message: 'batch size must be at most the 100 training samples, got 101 (--batch-size)',
    },
    {
      args: ['--data', '<few>', '--workers', '1'],
      message: "batch size must be at most the 9 training samples, got 64 (--batch-size's default: give a smaller one)",
    },
    {
      args: ['--data', '<floats>'],
      message:
        '<floats>: line 2, column "label": the label "0.25" is a number but not a class index (an integer from 0 to 255) (--regression trains the labels as regression targets)',
    },
    {
      args: ['--data', '<one-class>'],
      message: '<one-class>: holds one class only (cat): a classifier needs two or more',
    },
    {
      args: ['--data', '<small>', '--out', '<held>'],
      message: '--out <held>: holds a run already (model.json): give a new folder, or --resume <held> to train it on',
    },
  ];

  const fill = (t: string): string =>
    t
      .replace('<empty>', emptyDir)
      .replace('<small>', smallDir)
      .replaceAll('<held>', heldDir)
      .replace('<floats>', floatsCsv)
      .replace('<one-class>', oneClassCsv)
      .replace('<few>', fewCsv);
  const results = new Map<string, Result>();
  beforeAll(async () => {
    const runs = await mapLimit(cases, 2, (c) => cliAsync(c.args.map(fill)));
    cases.forEach((c, i) => results.set(c.args.join(' '), runs[i]));
  });

  it.each(cases.map((c) => ({ ...c, name: c.args.join(' ') })))('$name', ({ name, message }) => {
    const r = results.get(name);
    if (r === undefined) throw new Error('not run');
    expect(r.stderr).toBe(`error: ${fill(message)}\n`); // exactly one line: the message
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.stdout).toBe('');
    expect(r.status).toBe(2);
  });
});

describe('compiled CLI, good input', () => {
  it('a reader that leaves early (| head -1) ends the output, not the run: the model is saved, exit 0 (Note [a closed stdout])', () => {
    const out = join(tmp, 'piped');
    const args = ['--data', smallDir, '--workers', '2', '--epochs', '3', '--batch-size', '10', '--logdir', 'none'];
    const r = spawnSync(
      'bash',
      ['-c', '"$0" "$@" | head -1; exit ${PIPESTATUS[0]}', process.execPath, MAIN, ...args, '--out', out],
      {
        cwd: tmp,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(r.stderr).not.toContain('EPIPE');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l !== '')).toHaveLength(1);
    expect(existsSync(join(out, 'model.json'))).toBe(true);
  });

  it('integer labels with gaps: a warning naming the classes no training sample has', () => {
    const file = join(tmp, 'gaps.csv');
    const rows = Array.from({ length: 60 }, (_, i) => `${[3, 7, 9][i % 3]},${i % 5},${i % 7}`);
    writeFileSync(file, `label,a,b\n${rows.join('\n')}\n`);
    const r = cli(['--data', file, '--workers', '1', '--epochs', '1', '--batch-size', '8', '--out', join(tmp, 'gaps')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.split('\n')[0]).toBe(
      'warning: 7 of the 10 classes have no training samples (0, 1, 2, 4, 5, 6, 8): integer labels make the classes 0 to the largest label; name the classes (cat, dog, ...) to train only those seen',
    );
  });

  it('--help and -h exit 0 and print the usage', () => {
    for (const flag of ['--help', '-h']) {
      const r = cli([flag]);
      expect(r.status).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^Usage: /);
      for (const f of [
        '--workers',
        '--epochs',
        '--batch-size',
        '--optimizer',
        '--lr',
        '--hidden',
        '--seed',
        '--backend',
        '--gradients',
        '--data',
        '--help',
      ]) {
        expect(r.stdout).toContain(f);
      }
    }
  });

  it('trains one epoch on a 100-sample folder and reports the test accuracy: a number, the same in both lines, that of a count of the 50', () => {
    const r = cli([
      '--data',
      smallDir,
      '--epochs',
      '1',
      '--workers',
      '1',
      '--backend',
      'wasm',
      '--batch-size',
      '20',
      '--lr',
      '0.05',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const epoch =
      /^epoch 1\/1 {2}loss (\d+\.\d{4}) {2}\d+ samples\/s {2}\d+\.\d{2} s {2}test accuracy (\d+\.\d{2})%$/m.exec(
        r.stdout,
      );
    const summary = /^test accuracy (\d+\.\d{2})% \((\d+)\/50\), test loss (\d+\.\d{4})$/m.exec(r.stdout);
    expect(epoch, r.stdout).not.toBeNull();
    expect(summary, r.stdout).not.toBeNull();
    const [, loss, shown] = epoch ?? [];
    const [, accuracy, correct, testLoss] = summary ?? [];
    expect(Number(correct)).toBeLessThanOrEqual(50);
    expect(accuracy).toBe(((100 * Number(correct)) / 50).toFixed(2));
    expect(shown).toBe(accuracy);
    // Five steps from random weights: the losses are still near ln 10 = 2.30.
    for (const l of [loss, testLoss]) {
      expect(Number(l)).toBeGreaterThan(1);
      expect(Number(l)).toBeLessThan(3);
    }
  });
});

// Node 20's mkdirSync(dir, { recursive: true }) never returns under /proc (mkdir there answers
// ENOENT and Node retries forever): every folder the CLI creates must fail there at once instead.
describe.skipIf(!existsSync('/proc/self'))(
  'compiled CLI, output folders that cannot be made: exit 2, one line, at once',
  () => {
    const cases: { args: string[]; message: string }[] = [
      { args: ['--out', '/proc/x'], message: '--out /proc/x: cannot create the folder (ENOENT)' },
      { args: ['--out', '/proc/x/y/z'], message: '--out /proc/x/y/z: cannot create the folder (ENOENT)' },
      {
        args: ['--out', '<tmp>/out-save', '--save', '/proc/x'],
        message: '--save /proc/x: cannot create the folder (ENOENT)',
      },
      {
        args: ['--out', '<tmp>/out-profile', '--profile', '/proc/x/trace.json'],
        message: '--profile: cannot write /proc/x/trace.json: ENOENT',
      },
    ];
    const results = new Map<string, Result>();
    const fill = (a: string): string => a.replace('<tmp>', tmp);
    beforeAll(async () => {
      const base = ['--data', smallDir, '--workers', '1', '--backend', 'wasm'];
      const runs = await mapLimit(cases, 2, (c) => cliAsync([...base, ...c.args.map(fill)], 20_000));
      cases.forEach((c, i) => results.set(c.args.join(' '), runs[i]));
    });

    it.each(cases.map((c) => ({ ...c, name: c.args.join(' ') })))('$name', ({ name, message }) => {
      const r = results.get(name);
      if (r === undefined) throw new Error('not run');
      expect(r).toEqual({ status: 2, stdout: '', stderr: `error: ${message}\n` });
    });

    it("--optimizer adam: tfjs's Adam at its default rate, named in the first line", () => {
      const r = cli([
        '--data',
        smallDir,
        '--epochs',
        '1',
        '--workers',
        '2',
        '--backend',
        'wasm',
        '--batch-size',
        '20',
        '--optimizer',
        'adam',
      ]);
      expect(r.stderr).not.toMatch(/error/i);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/batch 20, adam lr 0\.001, seed 0/);
      expect(r.stdout).toMatch(/accuracy/i);
    });
  },
);

describe('parseCommand', () => {
  const options = (argv: string[]): unknown => {
    const c = parseCommand(argv);
    if (c.kind !== 'train') throw new Error(`expected a train command, got ${c.kind}`);
    return c.options;
  };

  it('parses good values', () => {
    expect(options(['--workers', '3', '--hidden', '32,16', '--lr', '0.01'])).toEqual({
      workers: 3,
      hidden: [32, 16],
      lr: 0.01,
    });
    expect(options([])).toEqual({});
    expect(options(['--workers=4', '--lr=1e-3'])).toEqual({ workers: 4, lr: 0.001 });
    expect(options(['--optimizer', 'rmsprop', '--lr', '0.01'])).toEqual({ optimizer: 'rmsprop', lr: 0.01 });
    // with a --model, --gradients picks its backward (autograd keeps tfjs's throughout)
    expect(options(['--model', 'examples/convnet.js', '--gradients', 'autograd'])).toEqual({ gradients: 'autograd' });
    expect(
      options([
        '--epochs',
        '2',
        '--batch-size',
        '128',
        '--seed',
        '4294967295',
        '--backend',
        'wasm',
        '--gradients',
        'autograd',
        '--data',
        '/some/dir',
        '--step-timeout',
        '2.5',
        '--lr',
        '.5',
        '--hidden',
        '7',
      ]),
    ).toEqual({
      epochs: 2,
      batchSize: 128,
      seed: 4294967295,
      backend: 'wasm',
      gradients: 'autograd',
      data: '/some/dir',
      stepTimeoutMs: 2500,
      lr: 0.5,
      hidden: [7],
    });
  });

  it('--help / -h give the help command', () => {
    expect(parseCommand(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommand(['-h'])).toEqual({ kind: 'help' });
  });

  it('bad values throw OptionError with the message the CLI prints', () => {
    const msg = (argv: string[]): string => {
      try {
        parseCommand(argv);
      } catch (err) {
        expect(err).toBeInstanceOf(OptionError);
        return (err as Error).message;
      }
      throw new Error(`${argv.join(' ')} parsed`);
    };
    expect(msg(['--workers', '0'])).toBe('--workers must be an integer from 1 to 256, got 0');
    expect(msg(['--lr', '-1'])).toBe('--lr must be a finite number greater than 0, got -1');
    expect(msg(['--hidden', ''])).toBe('--hidden widths must be an integer from 1 to 65536, got ""');
    expect(msg(['--step-timeout', '0'])).toBe('--step-timeout must be a finite number greater than 0, got 0');
  });
});

describe('library option validation: Trainer.create rejects with OptionError, starting no thread', () => {
  const cases: { name: string; options: () => object; message: string }[] = [
    {
      name: '{ workers: 0 }',
      options: () => ({ workers: 0 }),
      message: 'workers must be an integer from 1 to 256, got 0',
    },
    {
      name: '{ workers: 2.5 }',
      options: () => ({ workers: 2.5 }),
      message: 'workers must be an integer from 1 to 256, got 2.5',
    },
    {
      name: "{ epochs: '3' }",
      options: () => ({ epochs: '3' }),
      message: 'epochs must be an integer from 1 to 100000, got "3"',
    },
    {
      name: '{ lr: NaN }',
      options: () => ({ lr: Number.NaN }),
      message: 'lr must be a finite number greater than 0, got NaN',
    },
    {
      name: '{ lr: Infinity }',
      options: () => ({ lr: Number.POSITIVE_INFINITY }),
      message: 'lr must be a finite number greater than 0, got Infinity',
    },
    {
      name: '{ hidden: [] }',
      options: () => ({ hidden: [] }),
      message: 'hidden must list 1 to 16 layer widths, got []',
    },
    {
      name: '{ hidden: [128, 0] }',
      options: () => ({ hidden: [128, 0] }),
      message: 'hidden widths must be an integer from 1 to 65536, got 0',
    },
    {
      name: "{ backend: 'gpu' }",
      options: () => ({ backend: 'gpu' }),
      message: 'backend must be one of auto, tensorflow, wasm, cpu, got "gpu"',
    },
    {
      name: "{ gradients: 'fast' }",
      options: () => ({ gradients: 'fast' }),
      message: 'gradients must be one of manual, autograd, got "fast"',
    },
    {
      name: "{ optimizer: 'adamw' }",
      options: () => ({ optimizer: 'adamw' }),
      message: 'optimizer must be one of sgd, momentum, adam, rmsprop, adagrad, got "adamw"',
    },
    {
      name: '{ optimizer: 42 }',
      options: () => ({ optimizer: 42 }),
      message: 'optimizer must be one of sgd, momentum, adam, rmsprop, adagrad or an optimizer spec object, got 42',
    },
    {
      name: "{ optimizer: { kind: 'adam', lr: 0.001 } }",
      options: () => ({ optimizer: { kind: 'adam', lr: 0.001 } }),
      message: 'optimizer.beta1 must be a number in [0, 1), got undefined',
    },
    {
      name: "{ optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9 } }",
      options: () => ({ optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9 } }),
      message: 'optimizer has no field "momentum" (sgd takes lr)',
    },
    {
      name: "{ optimizer: { kind: 'sgd', lr: 0.1 }, lr: 0.2 }",
      options: () => ({ optimizer: { kind: 'sgd', lr: 0.1 }, lr: 0.2 }),
      message: 'lr 0.2 differs from optimizer.lr 0.1: give the learning rate once',
    },
    {
      name: '{ seed: -1 }',
      options: () => ({ seed: -1 }),
      message: 'seed must be an integer from 0 to 4294967295, got -1',
    },
    {
      name: '{ stepTimeoutMs: 50 }',
      options: () => ({ stepTimeoutMs: 50 }),
      message: 'stepTimeoutMs must be an integer from 100 to 86400000, got 50',
    },
    {
      name: '{ barrierSpinMs: -1 }',
      options: () => ({ barrierSpinMs: -1 }),
      message: 'barrierSpinMs must be a number from 0 to 1000, got -1',
    },
    {
      name: '{ barrierSpinMs: NaN }',
      options: () => ({ barrierSpinMs: Number.NaN }),
      message: 'barrierSpinMs must be a number from 0 to 1000, got NaN',
    },
    {
      name: "{ scavengeTogether: 'yes' }",
      options: () => ({ scavengeTogether: 'yes' }),
      message: 'scavengeTogether must be true or false, got "yes"',
    },
    {
      name: '{ youngGenerationMb: 4 }',
      options: () => ({ youngGenerationMb: 4 }),
      message: 'youngGenerationMb must be an integer from 8 to 4096, got 4',
    },
    { name: '{ wrokers: 2 }', options: () => ({ wrokers: 2 }), message: 'unknown option "wrokers"' },
    { name: '{ data: 42 }', options: () => ({ data: 42 }), message: 'data must be a folder path or a Dataset, got 42' },
    {
      name: '{ data: null }',
      options: () => ({ data: null }),
      message: 'data must be a folder path or a Dataset, got null',
    },
    {
      name: '{ data: <100 samples>, batchSize: 101 }',
      options: () => ({ data: subset(100, 10), batchSize: 101, backend: 'wasm' }),
      message: 'batch size must be at most the 100 training samples, got 101',
    },
  ];

  it.each(cases)('$name', async ({ options, message }) => {
    const threads = osThreads();
    const err = await rejection(Trainer.create(options() as never));
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).name).toBe('OptionError');
    expect((err as Error).message).toBe(message);
    if (threads !== undefined) expect(osThreads()).toBeLessThanOrEqual(threads);
  });
});
