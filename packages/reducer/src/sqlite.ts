/**
 * `@onex/reducer/sqlite`: the SQLite {@link ReducerStore} (better-sqlite3). A subpath of its own, so an application
 * on the memory store never loads — or compiles — the native module; install `better-sqlite3` (an optional peer
 * dependency) to use it.
 *
 * @example
 * ```ts
 * import { SqliteReducerStore } from '@onex/reducer/sqlite';
 * const store = new SqliteReducerStore({ path: 'reducers.db', namespace: 'order' });
 * ```
 *
 * @packageDocumentation
 */
import type { ReducerStore } from './store/reducer-store.js';

export { SqliteReducerStore, type SqliteReducerStoreOptions } from './store/sqlite-store.js';
export type { ReducerStore };
