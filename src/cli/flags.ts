/**
 * Flag parsing shared by the CLI commands: node:util parseArgs, with its
 * errors rewritten into the one-line OptionError messages the CLI prints
 * before exiting with code 2.
 */
import { parseArgs } from 'node:util';
import { OptionError, checkInt } from '../options.js';

export type FlagSpecs = Readonly<Record<string, { readonly type: 'string' | 'boolean'; readonly short?: string }>>;

/** What parseArgs gives for each flag: a string for a valued flag, true for a switch, absent when not given. */
export type FlagValues<F extends FlagSpecs> = { [K in keyof F]?: F[K]['type'] extends 'string' ? string : boolean };

/** Parses argv (without node and script) strictly: no positionals, no unknown flags. */
export function parseFlags<F extends FlagSpecs>(argv: readonly string[], flags: F): FlagValues<F> {
  try {
    const { values } = parseArgs({
      args: joinNegatives(argv, flags),
      options: flags,
      strict: true,
      allowPositionals: false,
    });
    return values as FlagValues<F>;
  } catch (err) {
    throw new OptionError(parseError(err));
  }
}

/** An integer flag, range-checked; undefined when absent. */
export function intFlag(flag: string, raw: string | undefined, limits: readonly [number, number]): number | undefined {
  return raw === undefined ? undefined : checkInt(`--${flag}`, integer(raw), limits);
}

/** A path flag: undefined when absent; an empty path is an error, not "the current folder". */
export function pathFlag(flag: string, raw: string | undefined, what: string): string | undefined {
  if (raw !== undefined && raw.trim() === '') throw new OptionError(`--${flag} needs ${what}, got ""`);
  return raw;
}

/** The number a flag's text spells, or the text itself so the range check quotes it back. */
export function number(raw: string): number | string {
  return /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(raw) ? Number(raw) : raw;
}

export function integer(raw: string): number | string {
  return /^\s*[-+]?\d+\s*$/.test(raw) ? Number(raw) : raw;
}

/** `--lr -1` -> `--lr=-1`: parseArgs would take -1 for a flag, but here it is a (bad) value the range check should quote. */
function joinNegatives(argv: readonly string[], flags: FlagSpecs): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    const takesValue = a.startsWith('--') && flags[a.slice(2)]?.type === 'string';
    if (takesValue && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function parseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const flag = (/'(-[^']*)'/.exec(e.message ?? '')?.[1] ?? '').split(', ').pop() ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag} (see --help)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      // "argument missing" (last flag) and "argument is ambiguous" (another flag follows): both lack a value.
      return /argument (missing|is ambiguous)/.test(e.message ?? '')
        ? `${flag.split(' ')[0]} needs a value (see --help)`
        : `${flag} takes no value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'([^']*)'/.exec(e.message ?? '')?.[1] ?? ''} (flags start with --; see --help)`;
    default:
      return e.message ?? String(err);
  }
}
