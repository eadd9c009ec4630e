/**
 * `@onex/orchestrator/sqlite`: the SQLite {@link WorkflowStore} (better-sqlite3). A subpath of its own, so an
 * application on the memory or PostgreSQL store never loads — or compiles — the native module; install
 * `better-sqlite3` (an optional peer dependency) to use it.
 *
 * @example
 * ```ts
 * import { SqliteWorkflowStore } from '@onex/orchestrator/sqlite';
 * const store = new SqliteWorkflowStore({ path: 'workflows.db' });
 * ```
 *
 * @packageDocumentation
 */
import type { WorkflowStore } from './store/workflow-store.js';

export { SqliteWorkflowStore, type SqliteWorkflowStoreOptions } from './store/sqlite-store.js';
export type { WorkflowStore };
