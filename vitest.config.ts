import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native PKCS#11 and SQLite modules: one process per test file, each with its own SoftHSM token.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
