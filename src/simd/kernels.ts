import { KERNELS_WASM_BASE64 } from './kernels-wasm.js';

/**
 * The vector kernels of kernels.wat, bound to one shared memory. Arguments are
 * Float32Array views into that memory (their byteOffset is the wasm pointer)
 * and element indices. The optimizer kernels (sgd included) are tfjs's update
 * rules, operation for operation in float32 (their formulas: kernels.wat and
 * src/optim/*.ts); they write `next` and the `*Next` state, only [lo, hi) of
 * them, and return the float32 sum of next over [lo, hi): not finite iff an
 * updated parameter is not (or the sum overflows).
 */
export interface Kernels {
  /**
   * out[i] = scale * sum over r < parties of rows[r * length + i], for i in [lo, hi).
   * Returns the sum of those outputs: not finite iff some output is not (or they overflow).
   */
  reduce(
    rows: Float32Array,
    parties: number,
    length: number,
    lo: number,
    hi: number,
    scale: number,
    out: Float32Array,
  ): number;
  /** next[i] = params[i] - lr * grad[i], for i in [lo, hi). */
  sgd(params: Float32Array, grad: Float32Array, next: Float32Array, lo: number, hi: number, lr: number): number;
  momentum(
    params: Float32Array,
    grad: Float32Array,
    next: Float32Array,
    acc: Float32Array,
    accNext: Float32Array,
    lo: number,
    hi: number,
    lr: number,
    momentum: number,
    nesterov: boolean,
  ): number;
  adam(
    params: Float32Array,
    grad: Float32Array,
    next: Float32Array,
    m: Float32Array,
    v: Float32Array,
    mNext: Float32Array,
    vNext: Float32Array,
    lo: number,
    hi: number,
    s: AdamScalars,
  ): number;
  /** Centered iff `meanGrad` is given (and then `meanGradNext`). */
  rmsprop(
    params: Float32Array,
    grad: Float32Array,
    next: Float32Array,
    meanSquare: Float32Array,
    moment: Float32Array,
    meanGrad: Float32Array | undefined,
    meanSquareNext: Float32Array,
    momentNext: Float32Array,
    meanGradNext: Float32Array | undefined,
    lo: number,
    hi: number,
    s: RmspropScalars,
  ): number;
  adagrad(
    params: Float32Array,
    grad: Float32Array,
    next: Float32Array,
    acc: Float32Array,
    accNext: Float32Array,
    lo: number,
    hi: number,
    lr: number,
    epsilon: number,
  ): number;
  /** The index of the first NaN or ±Infinity among values[lo..hi), or hi where there is none. */
  firstNonFinite(values: Float32Array, lo: number, hi: number): number;
}

/** Adam's per-step scalars, each rounded to float32 by the call, as tfjs's scalar tensors are. */
export interface AdamScalars {
  readonly lr: number;
  readonly beta1: number;
  /** 1 - beta1, computed in float64 (tfjs: mul(gradient, 1 - this.beta1)). */
  readonly oneMinusBeta1: number;
  readonly beta2: number;
  readonly oneMinusBeta2: number;
  /** 1 - beta1^t, tfjs's float32 (1 - accBeta1). */
  readonly biasCorrection1: number;
  readonly biasCorrection2: number;
  readonly epsilon: number;
}

export interface RmspropScalars {
  readonly lr: number;
  readonly decay: number;
  /** 1 - decay, computed in float64 (tfjs: mul(square(gradient), 1 - this.decay)). */
  readonly oneMinusDecay: number;
  readonly momentum: number;
  readonly epsilon: number;
}

interface Exports {
  reduce(rows: number, parties: number, length: number, lo: number, hi: number, scale: number, out: number): number;
  sgd(params: number, grad: number, next: number, lo: number, hi: number, lr: number): number;
  momentum(
    params: number,
    grad: number,
    next: number,
    acc: number,
    accNext: number,
    lo: number,
    hi: number,
    lr: number,
    m: number,
    nesterov: number,
  ): number;
  adam(
    params: number,
    grad: number,
    next: number,
    m: number,
    v: number,
    mNext: number,
    vNext: number,
    lo: number,
    hi: number,
    lr: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    bc1: number,
    bc2: number,
    eps: number,
  ): number;
  rmsprop(
    params: number,
    grad: number,
    next: number,
    s: number,
    o: number,
    a: number,
    sNext: number,
    oNext: number,
    aNext: number,
    lo: number,
    hi: number,
    lr: number,
    decay: number,
    c: number,
    mom: number,
    eps: number,
    centered: number,
  ): number;
  adagrad(
    params: number,
    grad: number,
    next: number,
    acc: number,
    accNext: number,
    lo: number,
    hi: number,
    lr: number,
    eps: number,
  ): number;
  firstNonFinite(p: number, lo: number, hi: number): number;
}

let compiled: WebAssembly.Module | undefined;

export function kernelsFor(memory: WebAssembly.Memory): Kernels {
  compiled ??= new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
  const e = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as Exports;
  const ptr = (a: Float32Array): number => {
    if (a.buffer !== memory.buffer) throw new Error('kernel argument is not a view of the kernels memory');
    return a.byteOffset;
  };
  return {
    reduce: (rows, parties, length, lo, hi, scale, out) =>
      e.reduce(ptr(rows), parties, length, lo, hi, scale, ptr(out)),
    sgd: (params, grad, next, lo, hi, lr) => e.sgd(ptr(params), ptr(grad), ptr(next), lo, hi, lr),
    momentum: (params, grad, next, acc, accNext, lo, hi, lr, momentum, nesterov) =>
      e.momentum(ptr(params), ptr(grad), ptr(next), ptr(acc), ptr(accNext), lo, hi, lr, momentum, nesterov ? 1 : 0),
    adam: (params, grad, next, m, v, mNext, vNext, lo, hi, s) =>
      e.adam(
        ptr(params),
        ptr(grad),
        ptr(next),
        ptr(m),
        ptr(v),
        ptr(mNext),
        ptr(vNext),
        lo,
        hi,
        s.lr,
        s.beta1,
        s.oneMinusBeta1,
        s.beta2,
        s.oneMinusBeta2,
        s.biasCorrection1,
        s.biasCorrection2,
        s.epsilon,
      ),
    rmsprop: (
      params,
      grad,
      next,
      meanSquare,
      moment,
      meanGrad,
      meanSquareNext,
      momentNext,
      meanGradNext,
      lo,
      hi,
      s,
    ) => {
      const centered = meanGrad !== undefined;
      if (centered !== (meanGradNext !== undefined)) throw new Error('rmsprop: meanGrad and meanGradNext go together');
      return e.rmsprop(
        ptr(params),
        ptr(grad),
        ptr(next),
        ptr(meanSquare),
        ptr(moment),
        centered ? ptr(meanGrad) : 0,
        ptr(meanSquareNext),
        ptr(momentNext),
        meanGradNext === undefined ? 0 : ptr(meanGradNext),
        lo,
        hi,
        s.lr,
        s.decay,
        s.oneMinusDecay,
        s.momentum,
        s.epsilon,
        centered ? 1 : 0,
      );
    },
    adagrad: (params, grad, next, acc, accNext, lo, hi, lr, epsilon) =>
      e.adagrad(ptr(params), ptr(grad), ptr(next), ptr(acc), ptr(accNext), lo, hi, lr, epsilon),
    firstNonFinite: (values, lo, hi) => e.firstNonFinite(ptr(values), lo, hi),
  };
}
