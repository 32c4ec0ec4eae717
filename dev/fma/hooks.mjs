// Module hooks (use-fma.mjs): dist/src/tfjs-kernels/heap-kernels-wasm.js answers with the FMA build.
let base64;
export function initialize(data) {
  base64 = data.base64;
}
export async function load(url, context, next) {
  if (url.endsWith('/dist/src/tfjs-kernels/heap-kernels-wasm.js')) {
    return { format: 'module', shortCircuit: true, source: `export const HEAP_KERNELS_WASM_BASE64 = '${base64}';\n` };
  }
  return next(url, context);
}
