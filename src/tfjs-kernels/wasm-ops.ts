import * as tf from '@tensorflow/tfjs';

/**
 * Stock wasm kernels, called from inside our kernels through their public
 * kernelFunc (tf.getKernel), with every intermediate freed when the kernel ends.
 *
 * Note [composition]: the wasm backend's Conv2D, DepthwiseConv2dNative,
 * Transpose, PadV2, Reverse and Sum are native (XNNPACK and C++). A gradient
 * kernel written as a handful of them runs at their speed; one written as JS
 * loops would run at the cpu backend's. So our kernels are compositions of
 * these. Only scatters (UnsortedSegmentSum, MaxPoolGrad) are loops, one pass
 * over their input each (heap.ts). Re-measure: `npm run bench -- --convnet`.
 *
 * Note [lifetimes]: a kernelFunc's result is a TensorInfo with one reference
 * that the engine does not know about; if we drop it, its heap memory (and,
 * for a tensor used as a convolution filter, the XNNPACK operator packed from
 * it) leaks. `composed` hands the body an Ops that records every result and
 * frees all of them except the one returned, also when the body throws.
 * A Reshape result shares its input's memory with a reference of its own, so
 * freeing the input does not free the reshaped view. Checked by
 * `npx vitest run test/wasm-training-kernels.test.ts` (tf.memory() before and after).
 */
export type Pads = [[number, number], [number, number], [number, number], [number, number]];

export class Ops {
  private readonly made: tf.TensorInfo[] = [];

  constructor(readonly backend: tf.KernelBackend) {}

  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
    const kernel = tf.getKernel(kernelName, 'wasm');
    if (kernel === undefined)
      throw new Error(`worker-ddp wasm training kernels: the wasm backend has no '${kernelName}' kernel to compose`);
    const out = kernel.kernelFunc({ inputs, backend: this.backend, attrs });
    if (Array.isArray(out))
      throw new Error(`worker-ddp wasm training kernels: '${kernelName}' returned ${out.length} tensors, expected one`);
    this.made.push(out);
    return out;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run(tf.Reshape, { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run(tf.Transpose, { x }, { perm });
  }

  /** Zeros around x; pads[i] = [before, after] for axis i, each >= 0. */
  pad(x: tf.TensorInfo, paddings: [number, number][]): tf.TensorInfo {
    return this.run(tf.PadV2, { x }, { paddings, constantValue: 0 });
  }

  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    return this.run(tf.Slice, { x }, { begin, size });
  }

  reverse(x: tf.TensorInfo, dims: number[]): tf.TensorInfo {
    return this.run(tf.Reverse, { x }, { dims });
  }

  sum(x: tf.TensorInfo, axis: number): tf.TensorInfo {
    return this.run(tf.Sum, { x }, { axis: [axis], keepDims: false });
  }

  /** x (B, H, W, Cin), filter (kh, kw, Cin, Cout) -> (B, Ho, Wo, Cout), NHWC, pads explicit. */
  conv2d(
    x: tf.TensorInfo,
    filter: tf.TensorInfo,
    strides: [number, number],
    dilations: [number, number],
    pad: Pads,
  ): tf.TensorInfo {
    return this.run(tf.Conv2D, { x, filter }, { strides, dilations, pad, dataFormat: 'NHWC' });
  }

  /** x (B, H, W, C), filter (kh, kw, C, M) -> (B, Ho, Wo, C*M), channel c*M + m from filter[.., c, m]. */
  depthwise(
    x: tf.TensorInfo,
    filter: tf.TensorInfo,
    strides: [number, number],
    dilations: [number, number],
    pad: Pads,
  ): tf.TensorInfo {
    return this.run(tf.DepthwiseConv2dNative, { x, filter }, { strides, dilations, pad });
  }

  /** Records a tensor made outside run() (a heap kernel's result), to be freed with the rest. */
  adopt(t: tf.TensorInfo): tf.TensorInfo {
    this.made.push(t);
    return t;
  }

  /** a (..., m, k) . b (..., k, n) -> (..., m, n), without transpose flags (batch-mat-mul.ts). */
  matMul(a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
    return this.run(tf.BatchMatMul, { a, b }, { transposeA: false, transposeB: false });
  }

  /** Frees every recorded result except `keep`. */
  release(keep: tf.TensorInfo | undefined): void {
    for (const t of this.made) if (t !== keep) this.backend.disposeData(t.dataId);
    this.made.length = 0;
  }
}

/** Runs `body` with an Ops on `backend` and returns its result; every other intermediate is freed. */
export function composed(backend: tf.KernelBackend, body: (ops: Ops) => tf.TensorInfo): tf.TensorInfo {
  const ops = new Ops(backend);
  let out: tf.TensorInfo | undefined;
  try {
    out = body(ops);
    return out;
  } finally {
    ops.release(out);
  }
}
