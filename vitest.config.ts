import { defineConfig } from 'vitest/config';

/**
 * Unit tests (`*.test.ts`) run in parallel. Tests that boot real QEMU guests (`*.guest.test.ts`) run one
 * file at a time: the machine has 2 cores and each TCG guest wants one.
 */
export default defineConfig({
  test: {
    include: ['harness/**/*.test.ts', 'vm/**/*.test.ts', 'scenarios/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: process.env.IH_TEST_PARALLEL === '1',
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
