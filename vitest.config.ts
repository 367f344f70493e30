import { defineConfig } from 'vitest/config';

/**
 * Unit tests (`*.test.ts`) and tests that boot real QEMU guests (`*.guest.test.ts`) run together, one file
 * at a time: the machine has 2 cores and each TCG guest wants one. The global setup is the harness's own
 * preflight, so a fresh machine gets its Debian packages before the first guest boots.
 */
export default defineConfig({
  test: {
    include: ['harness/**/*.test.ts', 'vm/**/*.test.ts', 'scenarios/**/*.test.ts'],
    globalSetup: ['harness/test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 900_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
