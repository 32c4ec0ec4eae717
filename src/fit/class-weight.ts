import { OptionError } from '../errors.js';
import { argMax } from '../model/cross-entropy-head.js';
import type { OutputSpec } from '../model/layers-spec.js';

/** A weight per class index, as model.fit's classWeight: { 0: 1, 1: 5 }. */
export type ClassWeight = Readonly<Record<number, number>>;

/** model.fit's classWeight: one ClassWeight (a one-output model), an array of them in output order, or a map by output name. */
export type ClassWeightArg =
  ClassWeight | readonly (ClassWeight | null | undefined)[] | Readonly<Record<string, ClassWeight>>;

/** One output's targets as the data copy-in holds them: where they came from (for messages), values and per-sample shape. */
export interface TargetColumn {
  readonly label: string;
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** classWeight checked against the model: each output's ClassWeight, undefined where the output is unweighted. */
export type OutputClassWeights = readonly (ClassWeight | undefined)[];

/**
 * classWeight as tfjs-layers 4.22's standardizeClassWeights takes it (one map for
 * one output, an array in output order, or a map by output name), checked against
 * the outputs before any data is read: every weight finite, for a class the output
 * can have. Stricter than tfjs in one way: a weight for a class the output cannot
 * have is refused (tfjs ignores it), since it is almost always a mislabelled key.
 */
export function classWeightsOf(arg: ClassWeightArg, outputs: readonly OutputSpec[]): OutputClassWeights {
  const each = perOutput(arg, outputs);
  for (const [k, cw] of each.entries()) if (cw !== undefined) checkClasses(cw, outputs[k]);
  return each;
}

/**
 * classWeight made per sample, as tfjs-layers 4.22's fit and fitDataset do it
 * (training.js standardizeUserData, training_dataset.js, training_utils.js
 * standardizeWeights): each weighted output gets w_i = classWeight[class of sample i],
 * the class being the target itself for class indices (per-sample shape [] or [1]) and
 * the first maximum for one-hot rows ([k], k > 1). The loss then averages
 * loss_i * w_i over the batch; metrics and validation stay unweighted.
 * Returns one array per output (count values), undefined where an output is unweighted.
 */
export function sampleWeights(
  weights: OutputClassWeights,
  targets: readonly TargetColumn[],
): (Float32Array | undefined)[] {
  return weights.map((cw, k) => (cw === undefined ? undefined : weightsOf(cw, targets[k])));
}

/** tfjs's standardizeClassWeights: the ClassWeight of each output, or undefined. */
function perOutput(arg: ClassWeightArg, outputs: readonly OutputSpec[]): (ClassWeight | undefined)[] {
  const names = outputs.map((o) => o.name);
  if (typeof arg !== 'object' || arg === null) {
    throw new OptionError(
      `classWeight must be an object mapping class indices to weights, an array of them (one per output) or a map by output name, got ${JSON.stringify(arg)}`,
    );
  }
  if (Array.isArray(arg)) {
    if (arg.length !== names.length)
      throw new OptionError(
        `classWeight is an array of ${arg.length} but the model has ${names.length} output${names.length === 1 ? '' : 's'}`,
      );
    return arg.map((cw: ClassWeight | null | undefined) => cw ?? undefined);
  }
  const map = arg as Readonly<Record<string, unknown>>;
  const keys = Object.keys(map);
  const byName = keys.length > 0 && keys.every((key) => typeof map[key] === 'object' && map[key] !== null);
  if (names.length === 1 && !byName) return [arg as ClassWeight];
  if (!byName)
    throw new OptionError(
      `the model has ${names.length} outputs: classWeight must be an array of ${names.length} or a map by output name (${names.join(', ')})`,
    );
  for (const key of keys)
    if (!names.includes(key))
      throw new OptionError(`classWeight names no output of the model: "${key}" (its outputs: ${names.join(', ')})`);
  return names.map((name) => map[name] as ClassWeight | undefined);
}

/** Every key a class of the output, every weight finite. */
function checkClasses(cw: ClassWeight, output: OutputSpec): void {
  const k = output.shape[output.shape.length - 1] ?? 1;
  const classes = k > 1 ? k : 2; // one unit: a binary output, classes 0 and 1
  for (const [key, w] of Object.entries(cw)) {
    const c = Number(key);
    if (!Number.isInteger(c) || c < 0 || c >= classes) {
      throw new OptionError(
        `classWeight has a weight for class ${key}, but output "${output.name}" has ${classes} classes (0 to ${classes - 1})`,
      );
    }
    if (typeof w !== 'number' || !Number.isFinite(w))
      throw new OptionError(
        `classWeight's weight for class ${key} of output "${output.name}" must be a finite number, got ${JSON.stringify(w)}`,
      );
  }
}

function weightsOf(cw: ClassWeight, y: TargetColumn): Float32Array {
  const per = y.shape.reduce((a, b) => a * b, 1);
  if (y.shape.length > 1)
    throw new OptionError(
      `classWeight needs class indices or one-hot rows, but ${y.label} has samples of shape [${y.shape.join(', ')}]`,
    );
  const count = y.data.length / per;
  const out = new Float32Array(new SharedArrayBuffer(4 * count));
  for (let i = 0; i < count; i++) {
    const c = per > 1 ? argMax(y.data, i * per, per) : y.data[i];
    const w = cw[c];
    if (w === undefined)
      throw new OptionError(`classWeight has no weight for class ${c}, which sample ${i} of ${y.label} has`);
    out[i] = w;
  }
  return out;
}
