// The tutorial's MLP as a tf.sequential, for `npm run train -- --model examples/mlp.js`.
// 784 -> 128 -> 64 -> 10 with ReLU and softmax, categorical crossentropy, plain SGD lr 0.003.
// (The built-in MLP, the CLI default, is the same network with a hand-written backward.)
import * as tf from '@tensorflow/tfjs';

export default function mlp() {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 128, activation: 'relu' }),
      tf.layers.dense({ units: 64, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(0.003), loss: 'categoricalCrossentropy', metrics: ['acc'] });
  return model;
}
