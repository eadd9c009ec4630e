import { rejection } from '../errors/rejection.js';

/**
 * The code of the `OnexError` that `promise` rejects with; throws when it resolves, or rejects with anything else
 * (so the clause fails with what actually happened).
 *
 * @internal Shared by the conformance suites; not exported from `@onex/testing/conformance`.
 * @example
 * ```ts
 * import { strict as assert } from 'node:assert';
 * import { MemoryWorkflowStore } from '@onex/orchestrator';
 *
 * const store = new MemoryWorkflowStore();
 * await store.init();
 * assert.equal(await rejectionCode(store.commit('missing', 1, {})), ErrorCode.NotFound); // in a suite: expect(…).toBe(…)
 * await store.close();
 * ```
 */
export async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  return (await rejection(promise)).code;
}
