import { defineConfig } from 'vitest/config';

// Unit tests sit beside the CLI code; end-to-end tests (tests/e2e) boot the real kernel under
// real QEMU and take longer.
export default defineConfig({
  test: {
    include: ['cli/src/**/*.test.ts', 'tests/e2e/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
