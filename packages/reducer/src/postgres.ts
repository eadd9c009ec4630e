/**
 * `@onex/reducer/postgres`: the PostgreSQL {@link ReducerStore} (node-postgres), shared by reducer replicas that keep
 * each aggregate's arrival order. A subpath of its own, so an application on the memory or SQLite store never loads
 * `pg`; install `pg` (an optional peer dependency) to use it.
 *
 * @example
 * ```ts
 * import { PostgresReducerStore } from '@onex/reducer/postgres';
 * const store = new PostgresReducerStore({ connectionString: process.env.DATABASE_URL, namespace: 'order' });
 * ```
 *
 * @packageDocumentation
 */
import type { AggregateSession, ReducerStore } from './store/reducer-store.js';

export { POSTGRES_REDUCER_SCHEMA_VERSION, PostgresReducerStore, type PostgresReducerStoreOptions } from './store/postgres-store.js';
export type { AggregateSession, ReducerStore };
