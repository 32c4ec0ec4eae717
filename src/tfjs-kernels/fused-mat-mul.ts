import type * as tf from '@tensorflow/tfjs';
import { gemmProduct } from './batch-mat-mul.js';

/** The activations our gemm applies, as the clamp [lo, hi] XNNPACK applies for them. */
const CLAMPS: Readonly<Record<string, readonly [number, number]>> = {
  linear: [-Infinity, Infinity],
  relu: [0, Infinity],
  relu6: [0, 6],
};

/**
 * _FusedMatMul on wasm (tf.fused.matMul; tfjs-layers' dense layer with a bias):
 * activation(a . b + bias) by our gemm, which reads b as it lies (Note [no pack]
 * in batch-mat-mul.ts). The stock kernel, like BatchMatMul, packs b for
 * XNNPACK every time b is a new tensor, and with a transpose flag takes a
 * plain loop. Ours takes float32 products of one matrix by one, a bias of N
 * values or none, and the activations XNNPACK clamps (linear, ReLU, ReLU6);
 * the rest goes to the stock kernel.
 */
export function fusedMatMul({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | undefined {
  const { transposeA, transposeB, activation } = attrs as unknown as tf._FusedMatMulAttrs;
  const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
  const clamp = CLAMPS[activation];
  return clamp === undefined
    ? undefined
    : gemmProduct(backend as tf.KernelBackend, a, b, transposeA, transposeB, bias, clamp);
}
