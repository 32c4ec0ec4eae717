import type * as tf from '@tensorflow/tfjs';
import { HEAP_KERNELS_WASM_BASE64 } from './heap-kernels-wasm.js';

/**
 * The one module that uses tfjs-backend-wasm's internals (tfjs-core's engine
 * internals are src/tfjs-kernels/shared-saves.ts's): views of the wasm backend's heap,
 * for our direct (loop) kernels and for the replicas' tensor io
 * (model/wasm-heap.ts), for @tensorflow/tfjs-backend-wasm 4.22.0 exactly
 * (package.json pins it: PINNED_WASM_VERSION). test/wasm-training-kernels.test.ts
 * and test/wasm-heap.test.ts fail loudly if these internals change; the
 * kernels and the replicas then take the public path and stay correct.
 *
 * - BackendWasm.makeOutput(shape, dtype) allocates a tensor's heap memory,
 *   uninitialised, the way stock kernels make their outputs;
 * - BackendWasm.typedArrayFromHeap(info) is a typed-array view of a tensor's memory;
 * - BackendWasm.wasm.asm.memory is the heap's WebAssembly.Memory, which our
 *   heap-kernels.wat module imports, so its SIMD loops run on tfjs tensors in place.
 *
 * Note [views, not copies]: the public path, readSync and write, allocates a
 * fresh ArrayBuffer per input and output: at the sizes of a convnet's
 * activations a copy per call, and garbage the collector pays for later.
 * Decision: views into the heap, which cost nothing. Invariant: views are made
 * after the output is allocated, since an allocation may grow the heap and
 * detach earlier views, and used before anything else allocates. Checked by
 * `npx vitest run test/wasm-training-kernels.test.ts` (heap and public paths).
 */
type Values = Float32Array | Int32Array;

export const PINNED_WASM_VERSION = '4.22.0';

interface WasmInternals {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Values;
  wasm?: { asm?: { memory?: unknown } };
}

/** heap-kernels.wat's exports; pointers are byte offsets into tfjs's heap. */
export interface HeapKernels {
  max_pool_grad(
    x: number,
    dy: number,
    dx: number,
    B: number,
    H: number,
    W: number,
    C: number,
    Ho: number,
    Wo: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
  ): void;
  max_pool_grad_tiles(
    x: number,
    dy: number,
    dx: number,
    B: number,
    H: number,
    W: number,
    C: number,
    Ho: number,
    Wo: number,
    kh: number,
    kw: number,
  ): void;
  max_pool_grad_2x2(
    x: number,
    dy: number,
    dx: number,
    B: number,
    H: number,
    W: number,
    C: number,
    Ho: number,
    Wo: number,
  ): void;
  pad_hw(
    x: number,
    out: number,
    B: number,
    H: number,
    W: number,
    C: number,
    top: number,
    bottom: number,
    left: number,
    right: number,
  ): void;
  add_rows(a: number, v: number, out: number, rows: number, C: number, floor: number): void;
  relu_grad(dy: number, x: number, out: number, n: number): void;
  col2im(
    cols: number,
    dx: number,
    B: number,
    H: number,
    W: number,
    C: number,
    Ho: number,
    Wo: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
  ): void;
  sum_rows(x: number, out: number, rows: number, C: number): void;
  gemm(a: number, b: number, c: number, M: number, K: number, N: number, bias: number, lo: number, hi: number): void;
  conv2d_filter_grad(
    x: number,
    dy: number,
    dw: number,
    B: number,
    H: number,
    W: number,
    C: number,
    Ho: number,
    Wo: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    N: number,
  ): void;
  conv2d_input_grad(
    dy: number,
    wt: number,
    dx: number,
    B: number,
    H: number,
    W: number,
    C: number,
    Ho: number,
    Wo: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    N: number,
    pt: number,
    pl: number,
  ): void;
  conv2d(
    x: number,
    w: number,
    out: number,
    B: number,
    H: number,
    W: number,
    C: number,
    Ho: number,
    Wo: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    N: number,
    r0: number,
    r1: number,
    c0: number,
    c1: number,
  ): void;
}

function internals(backend: tf.KernelBackend): WasmInternals | undefined {
  const b = backend as unknown as Partial<WasmInternals>;
  return typeof b.makeOutput === 'function' && typeof b.typedArrayFromHeap === 'function'
    ? (b as WasmInternals)
    : undefined;
}

/** Whether `backend` offers heap views (the fast path); false means readSync/write. */
export function hasHeapViews(backend: tf.KernelBackend): boolean {
  return internals(backend) !== undefined;
}

/**
 * A tensor of `shape` on `backend`'s heap, written by `fill` through a view of
 * it; `view` gives views of other tensors, made after this allocation (Note
 * [views, not copies]). The views are valid only during `fill`, which must not
 * call into tfjs. undefined without the internals.
 */
export function heapTensor(
  backend: tf.KernelBackend,
  shape: number[],
  dtype: 'float32' | 'int32',
  fill: (out: Values, view: (t: tf.TensorInfo) => Values) => void,
): tf.TensorInfo | undefined {
  const w = internals(backend);
  if (w === undefined) return undefined;
  const info = w.makeOutput(shape, dtype);
  fill(w.typedArrayFromHeap(info), (t) => w.typedArrayFromHeap(t));
  return info;
}

/** A view of `t`'s memory on `backend`'s heap (valid until the next allocation); undefined without the internals. */
export function heapView(backend: tf.KernelBackend, t: tf.TensorInfo): Values | undefined {
  return internals(backend)?.typedArrayFromHeap(t);
}

let compiled: WebAssembly.Module | undefined;
const instances = new WeakMap<WebAssembly.Memory, HeapKernels>();

/** heap-kernels.wat instantiated on `backend`'s heap (once per heap); undefined without the internals. */
function heapKernels(backend: tf.KernelBackend): HeapKernels | undefined {
  const memory = internals(backend)?.wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  let k = instances.get(memory);
  if (k === undefined) {
    compiled ??= new WebAssembly.Module(Buffer.from(HEAP_KERNELS_WASM_BASE64, 'base64'));
    k = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as HeapKernels;
    instances.set(memory, k);
  }
  return k;
}

/** Whether `backend` can run heap-kernels.wat on its tensors (the fast path of our loop kernels). */
export function hasHeapKernels(backend: tf.KernelBackend): boolean {
  return heapKernels(backend) !== undefined;
}

/**
 * A SIMD kernel's frame: `body` gets heap-kernels.wat and the byte offsets of
 * `inputs` and of `out`, a float32 tensor of `shape` that becomes the result,
 * zeroed unless `fill` is 'uninitialised' (a body that writes every element).
 * undefined where the backend lacks the internals: the caller takes another path.
 */
export function simd(
  backend: tf.KernelBackend,
  inputs: tf.TensorInfo[],
  shape: number[],
  body: (k: HeapKernels, out: number, ins: number[]) => void,
  fill: 'zeros' | 'uninitialised' = 'zeros',
): tf.TensorInfo | undefined {
  const k = heapKernels(backend);
  if (k === undefined) return undefined;
  return heapTensor(backend, shape, 'float32', (out, view) => {
    if (fill === 'zeros') out.fill(0);
    body(
      k,
      out.byteOffset,
      inputs.map((t) => view(t).byteOffset),
    );
  });
}

/**
 * A direct kernel's frame: `body` reads `inputs` and adds into `out`, a
 * zeroed array of `shape`, which becomes the kernel's result. The arrays are
 * valid only during `body`, which must not call into tfjs.
 */
export function direct(
  backend: tf.KernelBackend,
  inputs: tf.TensorInfo[],
  shape: number[],
  dtype: 'float32' | 'int32',
  body: (out: Values, ins: Values[]) => void,
  path: 'heap' | 'public' = hasHeapViews(backend) ? 'heap' : 'public',
): tf.TensorInfo {
  const onHeap =
    path === 'heap'
      ? heapTensor(backend, shape, dtype, (out, view) => {
          out.fill(0);
          body(out, inputs.map(view));
        })
      : undefined;
  if (onHeap !== undefined) return onHeap;
  const size = shape.reduce((a, b) => a * b, 1);
  const out = dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  body(
    out,
    inputs.map((t) => backend.readSync(t.dataId) as Values),
  );
  return { dataId: backend.write(out, shape, dtype), shape, dtype };
}
