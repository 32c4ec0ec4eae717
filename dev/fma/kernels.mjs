// Kernel A/B in one thread: the plain and FMA builds on one memory, calls interleaved, best of
// 60 pairs of 5 calls each (robust to a busy machine), at a worker's share of batch 64 on 2
// workers (32 samples); then each kernel's max|fma - plain| / max|plain| at batch 64.
// Run: npx tsc -p tsconfig.json && node dev/fma/kernels.mjs
import { HEAP_KERNELS_WASM_BASE64 } from '../../dist/src/tfjs-kernels/heap-kernels-wasm.js';
import { allowRelaxedSimd, fmaBase64 } from './fma-variant.mjs';

allowRelaxedSimd();
const memory = new WebAssembly.Memory({ initial: 2048, maximum: 65536 });
const [P, F] = [HEAP_KERNELS_WASM_BASE64, await fmaBase64()].map(
  (b) => new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(b, 'base64')), { env: { memory } }).exports,
);
const f = new Float32Array(memory.buffer);
for (let i = 0; i < (64 << 20) / 4; i++) f[i] = Math.random() * 2 - 1;
const [A, B, O] = [0, 4 << 20, 64 << 20]; // two inputs, the output
const cases = (n) => ({
  [`gemm ${n}x784x128`]: [(k) => k.gemm(A, B, O, n, 784, 128, 0, -Infinity, Infinity), n * 128],
  [`gemm ${n}x128x64`]: [(k) => k.gemm(A, B, O, n, 128, 64, 0, -Infinity, Infinity), n * 64],
  [`gemm 784x${n}x128 (dW)`]: [(k) => k.gemm(A, B, O, 784, n, 128, 0, -Infinity, Infinity), 784 * 128],
  [`conv2d conv1 ${n}x28x28x1 -> 8`]: [
    (k) => k.conv2d(A, B, O, n, 28, 28, 1, 24, 24, 5, 5, 1, 1, 8, 0, 28, 0, 28),
    n * 24 * 24 * 8,
  ],
  [`conv2d conv2 ${n}x12x12x8 -> 16`]: [
    (k) => k.conv2d(A, B, O, n, 12, 12, 8, 8, 8, 5, 5, 1, 1, 16, 0, 12, 0, 12),
    n * 64 * 16,
  ],
  [`conv2d_filter_grad conv1 (${n})`]: [(k) => k.conv2d_filter_grad(A, B, O, n, 28, 28, 1, 24, 24, 5, 5, 1, 1, 8), 200],
  [`conv2d_filter_grad conv2 (${n})`]: [(k) => k.conv2d_filter_grad(A, B, O, n, 12, 12, 8, 8, 8, 5, 5, 1, 1, 16), 3200],
  [`conv2d_input_grad conv2 (${n})`]: [
    (k) => {
      f.fill(0, O / 4, O / 4 + n * 144 * 8);
      k.conv2d_input_grad(A, B, O, n, 12, 12, 8, 8, 8, 5, 5, 1, 1, 16, 0, 0);
    },
    n * 144 * 8,
  ],
});
console.log(`Node ${process.version}: plain / fma, best of 60 interleaved pairs`);
for (const [name, [run]] of Object.entries(cases(32))) {
  const best = [Infinity, Infinity];
  for (let rep = 0; rep < 60; rep++) {
    for (const [i, k] of rep % 2 === 0
      ? [
          [0, P],
          [1, F],
        ]
      : [
          [1, F],
          [0, P],
        ]) {
      const t0 = performance.now();
      for (let j = 0; j < 5; j++) run(k);
      best[i] = Math.min(best[i], (performance.now() - t0) / 5);
    }
  }
  console.log(
    `  ${name}: plain ${best[0].toFixed(4)} ms, fma ${best[1].toFixed(4)} ms, ${(best[0] / best[1]).toFixed(2)}x`,
  );
}
console.log('max|fma - plain| / max|plain|, inputs uniform in [-1, 1]');
for (const [name, [run, n]] of Object.entries(cases(64))) {
  run(P);
  const p = f.slice(O / 4, O / 4 + n);
  run(F);
  const q = f.slice(O / 4, O / 4 + n);
  let d = 0;
  let m = 0;
  for (let i = 0; i < n; i++) [d, m] = [Math.max(d, Math.abs(p[i] - q[i])), Math.max(m, Math.abs(p[i]))];
  console.log(`  ${name}: ${(d / m).toExponential(1)}`);
}
