// node --import ./dev/fma/use-fma.mjs ...: this process and its worker threads (which inherit
// execArgv) load the FMA build in place of src/tfjs-kernels/heap-kernels-wasm.ts's plain one;
// with FMA_BUILD=plain, the plain build through the same hooks (the A/B's control arm).
import { register } from 'node:module';
import { HEAP_KERNELS_WASM_BASE64 } from '../../dist/src/tfjs-kernels/heap-kernels-wasm.js';
import { allowRelaxedSimd, fmaBase64 } from './fma-variant.mjs';

allowRelaxedSimd();
const base64 = process.env.FMA_BUILD === 'plain' ? HEAP_KERNELS_WASM_BASE64 : await fmaBase64();
register('./hooks.mjs', { parentURL: import.meta.url, data: { base64 } });
