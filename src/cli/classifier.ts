import * as tf from '@tensorflow/tfjs';
import { ModelFileError } from '../io/model-error.js';
import type { SavedModel } from '../io/model-file.js';
import { dataMetadata, type DataMetadata } from '../io/model-metadata.js';
import { endsInSoftmax } from './model-recipe.js';

/**
 * A saved LayersModel read as an image classifier, for `predict`: one input of
 * any shape (an image's pixels, row-major, reshaped to it) and one output with
 * a value per class. The outputs are class probabilities when the model ends in
 * a softmax (its last layer's activation, or a Softmax layer), else logits, which
 * get a softmax here.
 */
export class Classifier {
  private constructor(
    readonly file: string,
    private readonly model: tf.LayersModel,
    /** Per sample, without the batch axis. */
    private readonly inputShape: readonly number[],
    readonly numClasses: number,
    private readonly softmaxed: boolean,
    /** What it was trained on, from model.json (io/model-metadata.ts): class names, image format. */
    readonly data: DataMetadata,
  ) {}

  /** The classifier view of `saved`; a ModelFileError naming the file when it has not one input and one class output. */
  static of({ file, model }: SavedModel): Classifier {
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw new ModelFileError(
        file,
        `has ${model.inputs.length} inputs and ${model.outputs.length} outputs; predict needs one of each`,
      );
    }
    const input = model.inputs[0].shape.slice(1);
    const output = model.outputs[0].shape.slice(1);
    if (input.some((d) => d === null) || output.length !== 1 || output[0] === null) {
      throw new ModelFileError(
        file,
        `takes [${input.join(', ')}] to [${output.join(', ')}]; predict needs a fixed input shape and one value per class`,
      );
    }
    const data = dataMetadata(model, file);
    if (data.classes !== undefined && data.classes.length !== output[0])
      throw new ModelFileError(file, `names ${data.classes.length} classes for its ${output[0]} outputs`);
    return new Classifier(file, model, input as number[], output[0], endsInSoftmax(model), data);
  }

  /** Class k's name as the model.json keeps it, else k. */
  className(k: number): string {
    return this.data.classes?.[k] ?? String(k);
  }

  /** Values per input: the product of the input shape. */
  get inputSize(): number {
    return this.inputShape.reduce((a, d) => a * d, 1);
  }

  /** Class probabilities (count, numClasses), row-major, of `count` inputs given row-major. */
  probabilities(inputs: Float32Array, count: number): Float32Array {
    return tf.tidy(() => {
      const y = this.model.predict(tf.tensor(inputs, [count, ...this.inputShape])) as tf.Tensor; // y is (count, classes)
      return (this.softmaxed ? y : tf.softmax(y)).dataSync() as Float32Array;
    });
  }
}
