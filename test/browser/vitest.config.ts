import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Temporary: runs test/browser while the root vitest.config.ts still excludes it.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 10_000,
    hookTimeout: 10_000,
  },
});
