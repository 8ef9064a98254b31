// Two projects, both run by `vitest run`: fast unit tests, and integration tests against real services
// (Kafka, schema registry, PostgreSQL, Redis) that test/setup/services.ts starts or reuses.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default'],
    testTimeout: 30_000,
    // runs of `mlfp run` in tests bind the public API to any free port, never the default 8090
    env: { MLFP_API__PORT: '0' },
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'benchmarks/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/integration/**', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/setup/services.ts'],
        },
      },
    ],
  },
});
