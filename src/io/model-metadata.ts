/**
 * What a model trained on files knows about its data, kept with the model in
 * the place tfjs keeps such things: model.json's `userDefinedMetadata`
 * (`model.setUserDefinedMetadata`, saved by `model.save`, read back by
 * `tf.loadLayersModel` as `model.getUserDefinedMetadata()`):
 *
 *   { "classes": ["cat", "dog"], "image": { "height": 28, "width": 28, "channels": 1 } }
 *
 * `classes` names the outputs (output k is class classes[k]); `image` is the
 * sample format of a model trained on an image folder, so an image to classify
 * is decoded as its training images were; `labelColumn` is the label column of
 * a model trained on a CSV file, so its test file is read as it was, and
 * `columns` its feature columns in order, which a test file must have;
 * `regression: true` says that label column held regression targets (the
 * outputs are their predictions, not classes). Other keys are left as they are.
 */
import type * as tf from '@tensorflow/tfjs';
import { ModelFileError } from './model-error.js';

export interface DataMetadata {
  readonly classes?: readonly string[];
  readonly image?: { readonly height: number; readonly width: number; readonly channels: 1 | 3 };
  readonly labelColumn?: string;
  readonly columns?: readonly string[];
  readonly regression?: boolean;
}

/** Adds `meta`'s fields to the model's userDefinedMetadata (kept by the next model.save); none: nothing changes. */
export function setDataMetadata(model: tf.LayersModel, meta: DataMetadata): void {
  const given = Object.entries(meta).filter(([, v]) => v !== undefined);
  if (given.length > 0)
    model.setUserDefinedMetadata({ ...(model.getUserDefinedMetadata() ?? {}), ...Object.fromEntries(given) });
}

/** The data metadata of a loaded model (`file` its model.json, for messages); a ModelFileError when it is malformed. */
export function dataMetadata(model: tf.LayersModel, file: string): DataMetadata {
  const m = (model.getUserDefinedMetadata() ?? {}) as {
    classes?: unknown;
    image?: unknown;
    labelColumn?: unknown;
    columns?: unknown;
    regression?: unknown;
  };
  const out: { -readonly [K in keyof DataMetadata]: DataMetadata[K] } = {};
  if (m.classes !== undefined) {
    if (!Array.isArray(m.classes) || !m.classes.every((c) => typeof c === 'string'))
      throw new ModelFileError(file, 'userDefinedMetadata.classes is not a list of names');
    out.classes = m.classes as string[];
  }
  if (m.image !== undefined) {
    const i = m.image as { height?: unknown; width?: unknown; channels?: unknown };
    const side = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1;
    if (!side(i.height) || !side(i.width) || (i.channels !== 1 && i.channels !== 3))
      throw new ModelFileError(file, 'userDefinedMetadata.image is not { height, width, channels: 1 or 3 }');
    out.image = { height: i.height, width: i.width, channels: i.channels };
  }
  if (m.labelColumn !== undefined) {
    if (typeof m.labelColumn !== 'string' || m.labelColumn.trim() === '')
      throw new ModelFileError(file, 'userDefinedMetadata.labelColumn is not a column name');
    out.labelColumn = m.labelColumn;
  }
  if (m.columns !== undefined) {
    if (!Array.isArray(m.columns) || !m.columns.every((c) => typeof c === 'string'))
      throw new ModelFileError(file, 'userDefinedMetadata.columns is not a list of column names');
    out.columns = m.columns as string[];
  }
  if (m.regression !== undefined) {
    if (typeof m.regression !== 'boolean')
      throw new ModelFileError(file, 'userDefinedMetadata.regression is not true or false');
    out.regression = m.regression;
  }
  return out;
}
