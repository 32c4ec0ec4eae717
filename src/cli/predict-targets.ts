/**
 * `predict` for a model trained on a CSV file's regression targets (train's
 * --regression; model.json's userDefinedMetadata.regression): its prediction
 * beside the target of one row of --data (--index K), or of 25 rows from K on
 * (--grid) with their mean absolute error, as text. The rows are read as the
 * model's training file was (its label column and feature columns).
 */
import * as tf from '@tensorflow/tfjs';
import { ModelFileError } from '../io/model-error.js';
import type { SavedModel } from '../io/model-file.js';
import type { DataMetadata } from '../io/model-metadata.js';
import { OptionError, checkInt } from '../options.js';
import { DEFAULT_LABEL_COLUMN, checkFileFlags, dataKind, readFiles } from './data-source.js';
import type { PredictCommand } from './predict-args.js';

/** Rows of a --grid. */
const ROWS = 25;

export async function predictTargets(
  { file, model }: SavedModel,
  meta: DataMetadata,
  cmd: PredictCommand,
): Promise<number> {
  const csv = 'the rows of a CSV file: give rows with --data FILE.csv';
  if (cmd.image !== undefined)
    throw new OptionError(`--image ${cmd.image}: the model ${file} predicts regression targets from ${csv}`);
  if (cmd.data === undefined || dataKind(cmd.data) !== 'csv')
    throw new OptionError(`the model ${file} predicts regression targets from ${csv}`);
  checkFileFlags('csv', cmd.files, cmd.data);
  const label = cmd.files.labelColumn ?? meta.labelColumn ?? DEFAULT_LABEL_COLUMN;
  const samples = await readFiles('csv', cmd.data, { ...cmd.files, labelColumn: label, regression: true }, meta);
  const { count, features, images } = samples.split;
  const targets = samples.y.data;
  const inputs = model.inputs[0].shape.slice(1);
  const outputs = model.outputs[0].shape.slice(1);
  if (
    model.inputs.length !== 1 ||
    model.outputs.length !== 1 ||
    inputs.join() !== String(features) ||
    outputs.join() !== '1'
  )
    throw new ModelFileError(
      file,
      `takes [${inputs.join(', ')}] to [${outputs.join(', ')}]; the rows of ${samples.source} have ${features} values and 1 target`,
    );
  const from = checkInt('--index', cmd.index, [0, count - 1]);
  const n = cmd.grid ? Math.min(ROWS, count - from) : 1;
  const predicted = tf.tidy(() => {
    const x = tf.tensor2d(images.subarray(from * features, (from + n) * features), [n, features]); // x is (n, features)
    return (model.predict(x) as tf.Tensor).dataSync(); // (n, 1)
  });
  const rows = Array.from({ length: n }, (_, j) => ({ p: predicted[j], t: targets[from + j] }));
  const show = (v: number): string => v.toPrecision(6);
  if (!cmd.grid) {
    const { p, t } = rows[0];
    process.stdout.write(`test sample ${from}: predicted ${show(p)}, ${label} ${show(t)} (error ${show(p - t)})\n`);
    return 0;
  }
  const mae = rows.reduce((a, { p, t }) => a + Math.abs(p - t), 0) / n;
  const table = rows.map(({ p, t }, j) => [String(from + j), show(p), show(t), show(p - t)]);
  const head = ['sample', 'predicted', label, 'error'];
  const width = head.map((h, k) => Math.max(h.length, ...table.map((r) => r[k].length)));
  const lines = [
    `test ${n === 1 ? `sample ${from}` : `samples ${from}-${from + n - 1}`}: mean absolute error ${show(mae)}`,
    ...[head, ...table].map((r) => r.map((c, k) => c.padStart(width[k])).join('  ')),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
