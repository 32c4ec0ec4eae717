// A small MNIST convnet, for `npm run train -- --model examples/convnet.js --workers 2 --epochs 1`.
// conv 5x5x8 (ReLU) -> maxpool 2 -> conv 5x5x16 (ReLU) -> maxpool 2 -> flatten -> dense 10 softmax,
// categorical crossentropy, plain SGD lr 0.2. Seeded initializers (He for the ReLU convs), so a
// run repeats; with them one epoch reaches ~97.5% test accuracy. On the wasm backend it trains with
// the gradient kernels worker-ddp registers (stock tfjs-wasm lacks Conv2DBackpropFilter).
import * as tf from '@tensorflow/tfjs';

export default function convnet() {
  const model = tf.sequential({
    layers: [
      // (28, 28, 1) -> (24, 24, 8)
      tf.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: 8,
        kernelSize: 5,
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: 1 }),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }), // (12, 12, 8)
      tf.layers.conv2d({
        filters: 16,
        kernelSize: 5,
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: 1 }),
      }), // (8, 8, 16)
      tf.layers.maxPooling2d({ poolSize: 2 }), // (4, 4, 16)
      tf.layers.flatten(), // (256)
      tf.layers.dense({
        units: 10,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(0.2), loss: 'categoricalCrossentropy', metrics: ['acc'] });
  return model;
}
