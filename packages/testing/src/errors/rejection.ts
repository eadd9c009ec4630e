import { isOnexError, type OnexError } from '@onex/core';

/**
 * The `OnexError` that `promise` rejects with, to assert on its code, message or context. Throws when the promise
 * resolves, or rejects with anything that is not an `OnexError`, so the test fails with what actually happened.
 *
 * @example
 * ```ts
 * import { strict as assert } from 'node:assert';
 * import { ErrorCode } from '@onex/core';
 * import { MemoryWorkflowStore } from '@onex/orchestrator';
 * import { rejection } from '@onex/testing';
 *
 * const store = new MemoryWorkflowStore();
 * await store.init();
 * const error = await rejection(store.commit('missing', 1, {}));
 * assert.equal(error.code, ErrorCode.NotFound);
 * await store.close();
 * ```
 */
export async function rejection(promise: Promise<unknown>): Promise<OnexError> {
  try {
    await promise;
  } catch (error) {
    if (isOnexError(error)) return error;
    throw error;
  }
  throw new Error('expected the call to be refused');
}
