import { setFlagsFromString } from 'node:v8';
import { OptionError } from '../errors.js';

/**
 * Which build of heap-kernels.wat this thread runs: 'fma', whose GEMM and
 * convolution kernels accumulate with relaxed SIMD's f32x4.relaxed_madd
 * (scripts/wat.ts, fmaVariant), or 'plain', the module as written.
 *
 * Note [FMA variant]: relaxed_madd is c + a*b with one rounding where the CPU
 * fuses it, two elsewhere, so the variant's sums are in the same order as the
 * plain kernels' but may differ from them (and from XNNPACK) in the last bits,
 * by at most a rounding per product. The choice is made once per thread (at
 * initBackend, or else the first kernel call) from the environment variable
 * WORKER_DDP_KERNELS ('fma' or 'plain'; unset: 'fma' where the engine validates
 * relaxed SIMD) and never revisited, so every worker of a pool, created from one
 * environment, runs the same variant: N workers still equal 1 worker.
 * Kept because it makes a whole step at 2 workers >= 5% faster (docs/performance.md);
 * re-measure, on each Node line:
 *   npm run bench:scaling -- --kernels plain --rows strong-2,strong-2-plain,convnet-2,convnet-2-plain
 */
export type KernelVariant = 'fma' | 'plain';

export const KERNELS_ENV = 'WORKER_DDP_KERNELS';

/** (module (func (param v128 v128 v128) (result v128) (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2)))) */
const PROBE = Uint8Array.of(
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b,
);

/**
 * Lets this process's engine compile relaxed SIMD: V8 before 11.8 (Node 20)
 * ships it behind --experimental-wasm-relaxed-simd, which NODE_OPTIONS refuses
 * but v8.setFlagsFromString accepts before the module compiles; the flag is
 * process-wide, so worker threads see it too. Later engines have it on.
 * Belongs with the other version-dependent V8 flags once they share a module.
 */
export function allowRelaxedSimd(): void {
  const [major, minor] = process.versions.v8.split('.').map(Number);
  if (major < 11 || (major === 11 && minor < 8)) setFlagsFromString('--experimental-wasm-relaxed-simd');
}

/** Whether this engine compiles f32x4.relaxed_madd (after allowRelaxedSimd). */
export function hasRelaxedSimd(): boolean {
  allowRelaxedSimd();
  return WebAssembly.validate(PROBE);
}

/** The variant WORKER_DDP_KERNELS asks for (Note [FMA variant]); OptionError for another value, or 'fma' where the engine lacks it. */
export function chooseKernelVariant(asked: string | undefined = process.env[KERNELS_ENV]): KernelVariant {
  if (asked === undefined || asked === '') return hasRelaxedSimd() ? 'fma' : 'plain';
  if (asked === 'plain') return 'plain';
  if (asked !== 'fma') throw new OptionError(`${KERNELS_ENV} must be 'fma' or 'plain', got '${asked}'`);
  if (!hasRelaxedSimd()) throw new OptionError(`${KERNELS_ENV}=fma: this engine (V8 ${process.versions.v8}) cannot compile relaxed SIMD`);
  return 'fma';
}

let chosen: KernelVariant | undefined;

/** This thread's variant, chosen at the first call (Note [FMA variant]). */
export function kernelVariant(): KernelVariant {
  chosen ??= chooseKernelVariant();
  return chosen;
}
