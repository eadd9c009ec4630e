import { ErrorCode, OnexError, type CallOptions, type EmptyConfig, type NodeServiceOptions } from '@onex/core';
import type { ComputeRequest, ComputeResponse } from './compute-protocol.js';

/**
 * Runtime options of a `NodeCompute`: batch limits, and everything a `NodeService` takes (logger, sanitizer,
 * clock, deadlines, concurrency, interceptors) except a config. What the node *is* — name, version, computations,
 * their defaults — is its definition (`defineComputeNode`). The node's `interceptors` run around every call, single
 * or batch, typed by the wire protocol: they see the {@link ComputeRequest} and answer a {@link ComputeResponse}.
 *
 * @example
 * ```ts
 * import { createSilentLogger, type NodeInterceptor } from '@onex/core';
 * import type { ComputeRequest, ComputeResponse } from '@onex/compute';
 * const tagged: NodeInterceptor<typeof ComputeRequest, typeof ComputeResponse> = (request, ctx, next) => {
 *   ctx.logger.debug({ computation: request.computation }, 'compute');
 *   return next(request);
 * };
 * const options: NodeComputeOptions = { logger: createSilentLogger(), batchConcurrency: 4, maxBatchSize: 1_000, interceptors: [tagged] };
 * ```
 */
export interface NodeComputeOptions extends Omit<NodeServiceOptions<EmptyConfig, typeof ComputeRequest, typeof ComputeResponse>, 'config'> {
  /** Most inputs in one batch; a larger batch fails with `PAYLOAD_TOO_LARGE`. Default 10 000. */
  readonly maxBatchSize?: number;
  /** Most batch items computed at once; a request may ask for fewer, never more. Default 8. */
  readonly batchConcurrency?: number;
}

/**
 * Per-call options of `NodeCompute.computeBatch`: the usual call options plus the batch's concurrency.
 *
 * @example
 * ```ts
 * const options: ComputeBatchOptions = { concurrency: 2, timeoutMs: 1_000 };
 * ```
 */
export interface ComputeBatchOptions extends CallOptions {
  /** Most items computed at once (capped by the node's `batchConcurrency`). */
  readonly concurrency?: number;
}

/** The batch limits of {@link NodeComputeOptions}, defaults applied. */
export interface BatchLimits {
  readonly maxBatchSize: number;
  readonly batchConcurrency: number;
}

const DEFAULT_MAX_BATCH_SIZE = 10_000;
const DEFAULT_BATCH_CONCURRENCY = 8;

function positiveInteger(field: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < 1) throw new OnexError(ErrorCode.Validation, `${field} must be a positive integer (got ${String(value)})`);
  return resolved;
}

/**
 * The batch limits of a compute node's options, checked, defaults applied.
 *
 * @internal Used by `NodeCompute`.
 */
export function batchLimits(options: NodeComputeOptions): BatchLimits {
  return {
    maxBatchSize: positiveInteger('maxBatchSize', options.maxBatchSize, DEFAULT_MAX_BATCH_SIZE),
    batchConcurrency: positiveInteger('batchConcurrency', options.batchConcurrency, DEFAULT_BATCH_CONCURRENCY),
  };
}
