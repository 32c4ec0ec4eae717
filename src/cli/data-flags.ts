/**
 * The flags a run read its inputs with, its data files and its --model module,
 * kept in its checkpoint as the flags themselves (Dataset.readAs -> the recipe's
 * readAs), so that `--resume` reads them as the run did: a flag given again
 * replaces the kept one.
 */
import { resolve } from 'node:path';
import { CheckpointError } from '../checkpoint.js';
import { OptionError } from '../options.js';
import { FILE_FLAGS, fileFlags } from './args.js';
import type { FileFlags } from './data-source.js';
import { parseFlags } from './flags.js';

/** `flags` as command-line flags (a --val-data path made absolute); defaults are left out. */
export function fileFlagArgs(flags: FileFlags): string[] {
  const args: string[] = [];
  const add = (flag: string, value: string | number | boolean | undefined): void => {
    if (value === true) args.push(flag);
    else if (value !== undefined && value !== false) args.push(flag, String(value));
  };
  add('--label-column', flags.labelColumn);
  add('--regression', flags.regression);
  add('--val-data', flags.valData === undefined ? undefined : resolve(flags.valData));
  add('--val-split', flags.valSplit);
  add('--channels', flags.channels);
  add('--image-size', flags.imageSize?.join('x'));
  add('--skip-bad-files', flags.skipBadFiles);
  add('--decode', flags.decode);
  return args;
}

/** The --model module and its --loss, as a run trains them. */
export interface ModelFlags {
  readonly model: string | undefined;
  readonly loss: string | undefined;
}

/** `flags` as command-line flags (the module's path made absolute). */
export function modelFlagArgs({ model, loss }: ModelFlags): string[] {
  return [...(model === undefined ? [] : ['--model', resolve(model)]), ...(loss === undefined ? [] : ['--loss', loss])];
}

const KEPT_FLAGS = { ...FILE_FLAGS, model: { type: 'string' }, loss: { type: 'string' } } as const;

/** The checkpoint's kept flags (`kept`, from `file`), read; a bad one is a CheckpointError. */
function parseKept(kept: readonly string[] | undefined, file: string): { files: FileFlags; model: ModelFlags } {
  try {
    const v = parseFlags(kept ?? [], KEPT_FLAGS);
    return { files: fileFlags(v), model: { model: v.model, loss: v.loss } };
  } catch (err) {
    if (err instanceof OptionError) throw new CheckpointError(file, `recipe.readAs: ${err.message}`);
    throw err;
  }
}

/** The data flags of the checkpoint's kept flags (`kept`, from `file`); undefined where it keeps none. */
export function keptDataFlags(kept: readonly string[] | undefined, file: string): string[] | undefined {
  return kept === undefined ? undefined : fileFlagArgs(parseKept(kept, file).files);
}

/** A resumed run's --model and --loss: the command's, else the checkpoint's (`kept`, from `file`). */
export function resumedModelFlags(kept: readonly string[] | undefined, given: ModelFlags, file: string): ModelFlags {
  const saved = parseKept(kept, file).model;
  return { model: given.model ?? saved.model, loss: given.loss ?? saved.loss };
}

/**
 * A resumed run's file flags: the checkpoint's (`kept`, from `file`), each
 * replaced by the command's where it gives one; a test set given either way
 * (--val-data or --val-split) replaces the kept one.
 */
export function resumedFileFlags(kept: readonly string[] | undefined, given: FileFlags, file: string): FileFlags {
  const saved = parseKept(kept, file).files;
  const testSet = given.valData !== undefined || given.valSplit !== undefined;
  return {
    labelColumn: given.labelColumn ?? saved.labelColumn,
    regression: given.regression || saved.regression,
    valData: testSet ? given.valData : saved.valData,
    valSplit: testSet ? given.valSplit : saved.valSplit,
    channels: given.channels ?? saved.channels,
    imageSize: given.imageSize ?? saved.imageSize,
    skipBadFiles: given.skipBadFiles || saved.skipBadFiles,
    decode: given.decode ?? saved.decode,
  };
}
