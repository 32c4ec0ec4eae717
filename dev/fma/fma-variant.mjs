// The FMA build of src/tfjs-kernels/heap-kernels.wat: every vector multiply-accumulate into a
// local, (f32x4.add (local.get $c) (f32x4.mul a b)), becomes (f32x4.relaxed_madd a b (local.get $c)).
// Those are the 45 of gemm, conv2d, conv2d_input_grad and conv2d_filter_grad; nothing else changes.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import wabt from 'wabt';

const ACCUMULATE = /\(f32x4\.add \(local\.get (\$\w+)\) \(f32x4\.mul /g;

/** The end (exclusive) of the s-expression that opens at text[start] = '('. */
function closing(text, start) {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i + 1;
  }
  throw new Error(`fmaVariant: unbalanced parentheses from offset ${start}`);
}

export function fmaVariant(wat) {
  let out = '';
  let at = 0;
  let fused = 0;
  for (const m of wat.matchAll(ACCUMULATE)) {
    if (m.index < at) continue;
    const mul = m.index + m[0].length - '(f32x4.mul '.length;
    const mulEnd = closing(wat, mul);
    if (wat[mulEnd] !== ')')
      throw new Error(`fmaVariant: an accumulation into ${m[1]} with a third operand at offset ${m.index}`);
    const operands = wat.slice(mul + '(f32x4.mul '.length, mulEnd - 1).trim();
    const first = operands.startsWith('(') ? closing(operands, 0) : operands.indexOf(' ');
    out += `${wat.slice(at, m.index)}(f32x4.relaxed_madd ${operands.slice(0, first).trim()} ${operands.slice(first).trim()} (local.get ${m[1]}))`;
    at = mulEnd + 1;
    fused++;
  }
  if (fused === 0) throw new Error('fmaVariant: nothing to fuse');
  return out + wat.slice(at);
}

/** The FMA build's bytes, base64, assembled from the repository's heap-kernels.wat. */
export async function fmaBase64() {
  const wat = readFileSync(new URL('../../src/tfjs-kernels/heap-kernels.wat', import.meta.url), 'utf8');
  const mod = (await wabt()).parseWat('heap-kernels.wat', fmaVariant(wat), {
    simd: true,
    threads: true,
    bulk_memory: true,
    relaxed_simd: true,
  });
  try {
    return Buffer.from(mod.toBinary({}).buffer).toString('base64');
  } finally {
    mod.destroy();
  }
}

/** V8 before 11.8 (Node 20) has relaxed SIMD behind a flag, settable at run time before a module compiles. */
export function allowRelaxedSimd() {
  const [major, minor] = process.versions.v8.split('.').map(Number);
  if (major < 11 || (major === 11 && minor < 8)) setFlagsFromString('--experimental-wasm-relaxed-simd');
}
