import { defineConfig } from 'vitest/config';

// Tests import the compiled package (dist/), the code that ships: `npm test` builds first.
// Files run one at a time: each spawns its own worker threads, and 2 cores are all there is.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    // The suite asserts the stock kernels' bits on the plain kernels; test/fma-kernels.test.ts
    // runs the FMA variant (Note [FMA variant] in src/tfjs-kernels/kernel-variant.ts).
    env: { WORKER_DDP_KERNELS: 'plain' },
    hookTimeout: 180_000,
  },
});
