/**
 * `@onex/orchestrator/postgres`: the PostgreSQL {@link WorkflowStore} (node-postgres). A subpath of its own, so an
 * application on the memory or SQLite store never loads `pg`; install `pg` (an optional peer dependency) to use it.
 *
 * @example
 * ```ts
 * import { PostgresWorkflowStore } from '@onex/orchestrator/postgres';
 * const store = new PostgresWorkflowStore({ connectionString: process.env.DATABASE_URL });
 * ```
 *
 * @packageDocumentation
 */
import type { WorkflowStore } from './store/workflow-store.js';

export { POSTGRES_SCHEMA_VERSION, PostgresWorkflowStore, type PostgresWorkflowStoreOptions } from './store/postgres-store.js';
export type { WorkflowStore };
