import { context } from '@opentelemetry/api';
import type { z } from 'zod';
import type { NodeContract, Schema } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError, isOnexError } from '../errors/onex-error.js';
import type { CallOptions } from '../node/call-context.js';
import type { NodeService } from '../node/node-service.js';
import type { Result } from '../node/result.js';
import { formatCallerHeader } from './headers.js';
import { clientTracer, endCallSpan, prepareCall, runCall, startCallSpan, type CallPolicyOptions, type NodeClient } from './node-client.js';

/**
 * Options of {@link createInProcessClient}: the same call policy as the HTTP client.
 *
 * @example
 * ```ts
 * const options: InProcessClientOptions = { timeoutMs: 500, caller: { id: 'checkout', kind: 'node' } };
 * ```
 */
export type InProcessClientOptions = CallPolicyOptions;

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * A {@link NodeClient} that calls `node.handle()` directly: for tests, and for running several nodes in one
 * process. Calls behave as over HTTP — same correlation id, deadline (the call's, else the client's
 * `timeoutMs`; the node's own default does not cap it), cancellation, caller, breaker and retry semantics, and the
 * same validation of ids and keys — except that input and output objects are passed as they are, without a JSON
 * round-trip (a `Date` stays a `Date`). `close()` does not shut the node down: whoever initialised it does.
 *
 * @throws OnexError `VALIDATION` when `options.caller` could not be sent over HTTP either.
 * @example
 * ```ts
 * import { createInProcessClient } from '@onex/core';
 * const node = new Greeter();
 * await node.initialize();
 * const greeter = createInProcessClient(node);
 * const r = await greeter.call({ name: 'Ada' }, { timeoutMs: 100 });
 * ```
 */
export function createInProcessClient<TInput extends Schema, TOutput extends Schema, TConfig extends Schema>(
  node: NodeService<TInput, TOutput, TConfig>,
  options: InProcessClientOptions = {},
): NodeClient<NodeContract<TInput, TOutput, TConfig>> {
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (options.caller !== undefined && formatCallerHeader(options.caller) === undefined) {
    throw new OnexError(ErrorCode.Validation, 'Invalid caller: id must be visible ASCII without ";", kind [A-Za-z0-9._-]');
  }
  let closed = false;
  const tracer = clientTracer(options);
  const spanName = `call ${node.contract.name}`;

  type Output = z.output<TOutput>;

  const call = (input: z.input<TInput>, callOptions: CallOptions = {}): Promise<Result<Output>> => {
    const prepared = prepareCall(callOptions, defaultTimeoutMs, options.caller);
    if (isOnexError(prepared)) return Promise.resolve({ ok: false, error: prepared });
    if (closed) return Promise.resolve({ ok: false, error: new OnexError(ErrorCode.Lifecycle, 'Client is closed', { correlationId: prepared.correlationId }) });
    const traced = startCallSpan(tracer, spanName, node.contract.name, prepared);
    const result = runCall(prepared, options, (signal) => {
      // A relative budget, as the HTTP server passes it: the node's default timeout must not shorten the call.
      const remaining = prepared.deadlineAt - Date.now();
      if (remaining <= 0) {
        return Promise.resolve({ ok: false, error: new OnexError(ErrorCode.Timeout, 'Deadline exceeded before the call was sent', { correlationId: prepared.correlationId }) });
      }
      const handleOptions: { -readonly [K in keyof CallOptions]: CallOptions[K] } = { correlationId: prepared.correlationId, timeoutMs: remaining };
      if (signal !== undefined) handleOptions.signal = signal;
      if (prepared.idempotencyKey !== undefined) handleOptions.idempotencyKey = prepared.idempotencyKey;
      if (prepared.caller !== undefined) handleOptions.caller = prepared.caller;
      // The node's `process` span is a child of this call's span.
      return traced === undefined ? node.handle(input, handleOptions) : context.with(traced.context, () => node.handle(input, handleOptions));
    });
    return traced === undefined ? result : result.then((r) => endCallSpan(traced.span, r));
  };

  const ensureOpen = (): void => {
    if (closed) throw new OnexError(ErrorCode.Lifecycle, 'Client is closed');
  };

  return {
    contract: node.contract,
    call,
    callOrThrow: async (input, callOptions) => {
      const result = await call(input, callOptions);
      if (result.ok) return result.value;
      throw result.error;
    },
    health: async () => {
      ensureOpen();
      return node.health();
    },
    metrics: async () => {
      ensureOpen();
      return node.metrics();
    },
    fetchContract: async () => {
      ensureOpen();
      return node.contract.toDocument();
    },
    close: () => {
      closed = true;
      return Promise.resolve();
    },
  };
}
