/**
 * The flags a run read its data files with, kept in its checkpoint as the
 * flags themselves (Dataset.readAs -> the recipe's readAs), so that `--resume`
 * reads the files as the run did: a flag given again replaces the kept one.
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

/**
 * A resumed run's file flags: the checkpoint's (`kept`, from `file`), each
 * replaced by the command's where it gives one; a test set given either way
 * (--val-data or --val-split) replaces the kept one.
 */
export function resumedFileFlags(kept: readonly string[] | undefined, given: FileFlags, file: string): FileFlags {
  let saved: FileFlags;
  try {
    saved = fileFlags(parseFlags(kept ?? [], FILE_FLAGS));
  } catch (err) {
    if (err instanceof OptionError) throw new CheckpointError(file, `recipe.readAs: ${err.message}`);
    throw err;
  }
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
