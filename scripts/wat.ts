import wabt from 'wabt';

/** WAT text to wasm bytes, with the SIMD, threads (shared memory) and bulk memory features on. */
export async function assembleKernels(wat: string): Promise<Uint8Array> {
  const w = await wabt();
  const mod = w.parseWat('kernels.wat', wat, { simd: true, threads: true, bulk_memory: true });
  try {
    // No mod.validate(): wabt.js validates with default features and rejects shared
    // memory. WebAssembly.Module validates the bytes when kernels.ts compiles them.
    return mod.toBinary({}).buffer;
  } finally {
    mod.destroy();
  }
}
