import { defineConfig } from 'vitest/config';

// Two cores: keep parallelism modest so integration tests that spawn the agent
// and measure it are not starved by unit tests running beside them.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
