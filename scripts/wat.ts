import wabt from 'wabt';

/**
 * WAT text to wasm bytes, with the SIMD, threads (shared memory) and bulk memory
 * features on, and relaxed SIMD for the FMA variant (fmaVariant).
 */
export async function assembleKernels(wat: string): Promise<Uint8Array> {
  const w = await wabt();
  const mod = w.parseWat('kernels.wat', wat, { simd: true, threads: true, bulk_memory: true, relaxed_simd: true });
  try {
    // No mod.validate(): wabt.js validates with default features and rejects shared
    // memory. WebAssembly.Module validates the bytes when kernels.ts compiles them.
    return mod.toBinary({}).buffer;
  } finally {
    mod.destroy();
  }
}

const ACCUMULATE = /\(f32x4\.add \(local\.get (\$\w+)\) \(f32x4\.mul /g;

/** The end (exclusive) of the s-expression that opens at text[start] = '('. */
function closing(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i + 1;
  }
  throw new Error(`fmaVariant: unbalanced parentheses from offset ${start}`);
}

/**
 * The FMA variant of a WAT module: every multiply-accumulate into a local,
 * `(f32x4.add (local.get $c) (f32x4.mul a b))`, becomes
 * `(f32x4.relaxed_madd a b (local.get $c))`, c + a*b with one rounding where
 * the engine fuses it (Note [FMA variant] in src/tfjs-kernels/kernel-variant.ts).
 * Everything else, the order of the sums included, stays as written.
 * Throws if the module has no such accumulation.
 */
export function fmaVariant(wat: string): string {
  let out = '';
  let at = 0;
  for (const m of wat.matchAll(ACCUMULATE)) {
    if (m.index < at) continue;
    const mul = m.index + m[0].length - '(f32x4.mul '.length;
    const mulEnd = closing(wat, mul);
    if (wat[mulEnd] !== ')') throw new Error(`fmaVariant: an accumulation into ${m[1]} with a third operand at offset ${m.index}`);
    // the multiply's two operands: each an s-expression, or a bare word such as a local.get's name
    const operands = wat.slice(mul + '(f32x4.mul '.length, mulEnd - 1).trim();
    const first = operands.startsWith('(') ? closing(operands, 0) : operands.indexOf(' ');
    const [a, b] = [operands.slice(0, first).trim(), operands.slice(first).trim()];
    out += `${wat.slice(at, m.index)}(f32x4.relaxed_madd ${a} ${b} (local.get ${m[1]}))`;
    at = mulEnd + 1;
  }
  if (at === 0) throw new Error('fmaVariant: the module has no (f32x4.add (local.get $c) (f32x4.mul a b)) to fuse');
  return out + wat.slice(at);
}
