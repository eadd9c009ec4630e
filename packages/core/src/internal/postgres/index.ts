/**
 * `@onex/core/internal/postgres`: the one copy of what the ONEX PostgreSQL stores share — the schema-name check, the
 * migrations runner, SQLSTATE classification, the per-query type parsers and the owned pool. Not part of the public
 * API: anything here may change in any release. It imports `pg` (an optional peer dependency of `@onex/core`), so
 * only the stores' `./postgres` subpaths reach it; `@onex/core` and `@onex/core/internal` never do.
 *
 * @internal
 * @packageDocumentation
 */
export { classifyPostgresError, sqlState } from './postgres-errors.js';
export { checkSchemaName, migrateSchema, type ComponentMigrations } from './schema-migrations.js';
export { createOwnedPool, POSTGRES_TYPES } from './pool.js';
