import { isOnexError } from '@onex/core';

/**
 * The code of the `OnexError` that `promise` rejects with; throws when it resolves, or rejects with anything else
 * (so the clause fails with what actually happened).
 *
 * @internal Shared by the conformance suites; not exported from `@onex/testing/conformance`.
 * @example
 * ```ts
 * expect(await rejectionCode(store.commit('missing', 1, {}))).toBe(ErrorCode.NotFound);
 * ```
 */
export async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isOnexError(error)) return error.code;
    throw error;
  }
  throw new Error('expected the call to be refused');
}
