import { ErrorCode, OnexError, RetryPolicy, type CircuitBreakerOptions, type RetryPolicyOptions } from '@onex/core';
import type { AnyEffectOperation, OperationInterceptor } from './effect-operation.js';

/**
 * The settings every operation of an effect node gets unless it names its own: the node definition's `defaults`
 * (compare Temporal's `proxyActivities(options)`, Restate's service-level `retryPolicy`). An operation's own
 * `timeoutMs`, `retry` or `breaker` replaces the default's whole value (a `retry` is not merged field by field);
 * its `interceptors` run inside the default ones.
 *
 * @example
 * ```ts
 * import type { OperationDefaults } from '@onex/effect';
 * const defaults: OperationDefaults = {
 *   timeoutMs: 2_000,
 *   retry: { maxAttempts: 2, initialDelayMs: 20 },
 *   breaker: false,
 *   interceptors: [async (input, ctx, next) => {
 *     ctx.logger.debug({ operation: ctx.operation, attempt: ctx.attempt }, 'attempt');
 *     return next(input);
 *   }],
 * };
 * ```
 */
export interface OperationDefaults {
  /** Per-attempt timeout of each operation, ms (see `OperationDefinition.timeoutMs`). Default: none. */
  readonly timeoutMs?: number;
  /** Retry policy of each operation (see `OperationDefinition.retry`). Default: core's, 3 attempts. */
  readonly retry?: RetryPolicyOptions;
  /** Breaker of each operation, or `false` for none (see `OperationDefinition.breaker`). Default: core's settings. */
  readonly breaker?: CircuitBreakerOptions | false;
  /** Interceptors of every attempt of every operation, outside the operation's own. */
  readonly interceptors?: readonly OperationInterceptor[];
}

/**
 * One operation's settings with the node's defaults applied.
 *
 * @internal Made by {@link resolveOperationSettings} for {@link NodeEffect}.
 */
export interface OperationSettings {
  readonly timeoutMs: number | undefined;
  readonly retry: RetryPolicy;
  readonly breaker: CircuitBreakerOptions | false;
  /** The node's default interceptors, then the operation's own. */
  readonly interceptors: readonly OperationInterceptor[];
}

/**
 * A finite number > 0 (a timeout).
 *
 * @internal
 */
export function isPositive(value: number): boolean {
  return Number.isFinite(value) && value > 0;
}

/**
 * Checks a node definition's defaults, so a bad value fails when the definition is made rather than on a call.
 *
 * @internal Used by {@link defineEffectNode} and {@link NodeEffect}.
 * @throws OnexError `CONTRACT` for an invalid default.
 */
export function checkOperationDefaults(node: string, defaults: OperationDefaults): void {
  if (defaults.timeoutMs !== undefined && !isPositive(defaults.timeoutMs)) {
    throw new OnexError(ErrorCode.Contract, `Effect node '${node}': defaults.timeoutMs must be a number > 0`);
  }
  if (defaults.interceptors !== undefined && !defaults.interceptors.every((i) => typeof i === 'function')) {
    throw new OnexError(ErrorCode.Contract, `Effect node '${node}': every default interceptor must be a function`);
  }
  if (defaults.retry !== undefined) {
    try {
      new RetryPolicy(defaults.retry);
    } catch (error) {
      throw new OnexError(ErrorCode.Contract, `Effect node '${node}': invalid defaults.retry`, { cause: error });
    }
  }
}

/**
 * The settings `op` runs with: its own, else the node's default, else the built-in one.
 *
 * @internal Used by {@link NodeEffect}.
 */
export function resolveOperationSettings(op: AnyEffectOperation, defaults: OperationDefaults): OperationSettings {
  const own = op.interceptors ?? [];
  const shared = defaults.interceptors ?? [];
  return {
    timeoutMs: op.timeoutMs ?? defaults.timeoutMs,
    retry: new RetryPolicy(op.retry ?? defaults.retry ?? {}),
    breaker: op.breaker ?? defaults.breaker ?? {},
    interceptors: shared.length === 0 ? own : [...shared, ...own],
  };
}
