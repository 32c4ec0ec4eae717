import { defineConfig } from 'vitest/config';

// Tests import the compiled package (dist/), the code that ships: `npm test` builds first.
// Files run one at a time: each spawns its own worker threads, and 2 cores are all there is.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
