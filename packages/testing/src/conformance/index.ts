/**
 * `@onex/testing/conformance`: the vitest suites every store implementation must pass — the same clauses the
 * bundled memory, SQLite and PostgreSQL stores run. Call one at the top level of a vitest test file with a factory
 * of new, empty stores. Needs `vitest` (an optional peer dependency of `@onex/testing`, used only by this subpath).
 *
 * @packageDocumentation
 */
export { idempotencyStoreConformance, type IdempotencyStoreConformanceOptions, type IdempotencyStoreSettings } from './idempotency-store-conformance.js';
export { scheduleStoreConformance, type ScheduleStoreConformanceOptions } from './schedule-store-conformance.js';
export { reducerStoreConformance, type ReducerStoreConformanceOptions } from './reducer-store-conformance.js';
export { workflowStoreConformance, type WorkflowStoreConformanceOptions } from './workflow-store-conformance.js';
