import * as tf from '@tensorflow/tfjs';
import { padOrCrop, spread } from './padding.js';
import { convGeometry } from './conv-geometry.js';
import { direct, hasHeapKernels, simd } from './heap.js';
import { composed } from './wasm-ops.js';

/**
 * Conv2DBackpropInput on wasm, replacing the stock one: a direct C++ loop,
 * several times slower than the forward convolution.
 *
 *   dx[b, h, w, c] = sum over i, j, p, q, o with i*sh + p - pt = h, j*sw + q - pl = w
 *                    of dy[b, i, j, o] * filter[p, q, c, o]
 *
 * is the forward convolution of dy, spread by the strides (Note [spread]),
 * with the filter rotated 180 degrees and its channels swapped, padded so that
 * tap p of the rotated filter meets row h + pt - (kh-1) + p: top kh-1-pt, and
 * the bottom whatever makes the output H rows.
 *
 * Note [spread]: at stride s, 1 - 1/s^2 of the spread dy is zeros that the
 * convolution multiplies anyway. At stride 1, the common case, there are none;
 * strided gradients take the scatter or the GEMM instead (Note [which path]).
 *
 * Note [which path]: with Cin a multiple of 8 (NHWC), any stride, the scatter
 * (Note [scatter]). Else at stride 1 with Cin a multiple of 4 the convolution
 * is our direct one (conv2d.ts), which skips the padding's rows, and its
 * columns where a tile of 4 pixels meets only padding, so it multiplies few of
 * its zeros and beats the GEMM and col2im below, whose K is only Cout.
 * Strided, other channel counts: the GEMM. Invariant: every path gives the cpu
 * backend's dx to 1e-6 relative (test/wasm-training-kernels.test.ts forces each
 * through `path`). Re-measure: `npm run bench -- --convnet`.
 *
 * Note [scatter]: heap-kernels.wat's conv2d_input_grad adds each dy pixel's
 * products into the dx pixels its taps meet, so it makes only the products
 * that count, and reads dy without padding or spreading it. Decision: it is
 * the default where it applies, faster than the convolution at stride 1 and
 * than the GEMM and col2im at stride 2 (docs/performance.md). Re-measure:
 * `npm run bench -- --convnet`, and the whole step with `npm run bench:replica`.
 *
 * `path` forces one, for the tests; 'scatter' where it does not apply takes the convolution.
 */
export function conv2DBackpropInput(
  { inputs, backend, attrs }: Parameters<tf.KernelFunc>[0],
  path: 'auto' | 'gemm' | 'conv' | 'scatter' = 'auto',
): tf.TensorInfo {
  const { dy, filter } = inputs as Record<'dy' | 'filter', tf.TensorInfo>;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const { info, nchw } = convGeometry(
    'Conv2DBackpropInput',
    inputShape,
    filter.shape as [number, number, number, number],
    dy,
    { strides, pad, dataFormat, dimRoundingMode },
  );
  const {
    inHeight: H,
    inWidth: W,
    outHeight: Ho,
    outWidth: Wo,
    strideHeight: sh,
    strideWidth: sw,
    filterHeight: kh,
    filterWidth: kw,
  } = info;
  const { batchSize: B, inChannels: Cin, outChannels: Cout } = info;
  const viaOurConv = sh === 1 && sw === 1 && Cin % 4 === 0;
  const viaScatter = Cin % 8 === 0 && !nchw;
  if ((path === 'scatter' || path === 'auto') && viaScatter && hasHeapKernels(backend as tf.KernelBackend)) {
    // Note [scatter]
    const { top, left } = info.padInfo;
    return composed(backend as tf.KernelBackend, (ops) => {
      const wt = ops.adopt(swapChannels(backend as tf.KernelBackend, filter, kh, kw, Cin, Cout, false)); // wt is (kh, kw, Cout, Cin)
      const dx = simd(backend as tf.KernelBackend, [dy, wt], [B, H, W, Cin], (k, out, [d, w]) =>
        k.conv2d_input_grad(d, w, out, B, H, W, Cin, Ho, Wo, kh, kw, sh, sw, Cout, top, left),
      ); // dx is (B, H, W, Cin)
      if (dx === undefined) throw new Error('Conv2DBackpropInput: the heap kernels went away');
      return dx;
    });
  }
  if ((path === 'gemm' || (path === 'auto' && !viaOurConv)) && !nchw && hasHeapKernels(backend as tf.KernelBackend)) {
    // Note [gemm + col2im]: cols = dy . W^T, then each row of cols scattered onto its
    // patch of dx: the product done once, where the convolution below would multiply
    // the zeros of a strided dy (Note [spread]) or run on the stock Conv2D.
    const { top, left } = info.padInfo;
    return composed(backend as tf.KernelBackend, (ops) => {
      const wT = ops.transpose(ops.reshape(filter, [kh * kw * Cin, Cout]), [1, 0]); // wT is (Cout, kh*kw*Cin)
      const cols = ops.matMul(ops.reshape(dy, [1, B * Ho * Wo, Cout]), ops.reshape(wT, [1, Cout, kh * kw * Cin])); // cols is (1, B*Ho*Wo, kh*kw*Cin)
      const dims = [B, H, W, Cin, Ho, Wo, kh, kw, sh, sw, top, left] as const;
      const dx = simd(backend as tf.KernelBackend, [cols], [B, H, W, Cin], (k, out, [c]) => k.col2im(c, out, ...dims)); // dx is (B, H, W, Cin)
      if (dx === undefined) throw new Error('Conv2DBackpropInput: the heap kernels went away');
      return dx;
    });
  }
  return composed(backend as tf.KernelBackend, (ops) => {
    const dyL = nchw ? ops.transpose(dy, [0, 2, 3, 1]) : dy; // dyL is (B, Ho, Wo, Cout)
    const rotated = ops.adopt(swapChannels(backend as tf.KernelBackend, filter, kh, kw, Cin, Cout, true)); // rotated is (kh, kw, Cout, Cin)
    const { top, left } = info.padInfo;
    const padded = padOrCrop(
      ops,
      spread(ops, dyL, sh, sw),
      kh - 1 - top,
      H + top - Ho * sh,
      kw - 1 - left,
      W + left - Wo * sw,
    );
    const dx = ops.conv2d(padded.x, rotated, [1, 1], [1, 1], padded.pad); // dx is (B, H, W, Cin)
    return nchw ? ops.transpose(dx, [0, 3, 1, 2]) : dx;
  });
}

/**
 * The filter (kh, kw, Cin, Cout) with its channel axes swapped, (kh, kw, Cout, Cin), and
 * rotated 180 degrees if asked: one pass of JS over kh*kw*Cin*Cout values, cheaper than the
 * stock Reverse and Transpose for a filter this small.
 */
function swapChannels(
  backend: tf.KernelBackend,
  filter: tf.TensorInfo,
  kh: number,
  kw: number,
  Cin: number,
  Cout: number,
  rotate: boolean,
): tf.TensorInfo {
  return direct(backend, [filter], [kh, kw, Cout, Cin], 'float32', (out, [f]) => {
    for (let p = 0, at = 0; p < kh; p++) {
      for (let q = 0; q < kw; q++) {
        const from = (rotate ? (kh - 1 - p) * kw + (kw - 1 - q) : p * kw + q) * Cin * Cout; // filter[p', q', 0, 0]
        for (let o = 0; o < Cout; o++) for (let c = 0; c < Cin; c++) out[at++] = f[from + c * Cout + o];
      }
    }
  });
}

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: (args) => conv2DBackpropInput(args),
};
