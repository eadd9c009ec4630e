import { ErrorCode } from '@onex/core';
import { z } from 'zod';

/**
 * The body of a call to a compute node (`POST /v1/process`): one computation by name and either one `input`, or
 * a `batch` of inputs computed concurrently (at most `concurrency` at once, capped by the node).
 *
 * `input` may be left out for a computation whose input schema accepts `undefined`. Giving both `input` and
 * `batch`, or `concurrency` without `batch`, is a `VALIDATION` error.
 *
 * @example
 * ```ts
 * const one: ComputeRequest = { computation: 'add', input: { a: 1, b: 2 } };
 * const many: ComputeRequest = { computation: 'add', batch: [{ a: 1, b: 2 }, { a: 3, b: 4 }], concurrency: 4 };
 * ```
 */
export const ComputeRequest = z
  .strictObject({
    computation: z.string().min(1).describe('Name of a computation registered on the node.'),
    input: z.unknown().optional().describe("The computation's input (one call)."),
    batch: z.array(z.unknown()).optional().describe("Inputs to compute, each validated by the computation's schema on its own."),
    concurrency: z.int().min(1).optional().describe("Most batch items computed at once (capped by the node's batchConcurrency)."),
  })
  .check((ctx) => {
    const { input, batch, concurrency } = ctx.value;
    if (batch !== undefined && input !== undefined) {
      ctx.issues.push({ code: 'custom', input: ctx.value, path: [], message: "Give either 'input' or 'batch', not both" });
    }
    if (batch === undefined && concurrency !== undefined) {
      ctx.issues.push({ code: 'custom', input: concurrency, path: ['concurrency'], message: "'concurrency' only applies to a 'batch'" });
    }
  })
  .meta({ not: { required: ['input', 'batch'] } });
/** Type of {@link ComputeRequest}. */
export type ComputeRequest = z.infer<typeof ComputeRequest>;

/**
 * The error of a failed batch item: the body of a `WireError` (`@onex/core`), sanitized by the node.
 *
 * @example
 * ```ts
 * const e: BatchItemError = { code: 'VALIDATION', message: "Invalid input for computation 'add': batch.1.a: …", retryable: false };
 * ```
 */
export const BatchItemError = z.object({
  code: z.enum(ErrorCode),
  message: z.string(),
  retryable: z.boolean(),
  correlationId: z.string().optional(),
  retryAfterMs: z.number().optional(),
  details: z.array(z.unknown()).optional(),
  context: z.record(z.string(), z.unknown()).optional(),
});
/** Type of {@link BatchItemError}. */
export type BatchItemError = z.infer<typeof BatchItemError>;

/**
 * The outcome of one batch item, in input order: `{ ok: true, value }` or `{ ok: false, error }`. One item failing
 * does not fail the others.
 *
 * @example
 * ```ts
 * const r: BatchItemResult = { ok: true, value: { sum: 3 } };
 * ```
 */
export const BatchItemResult = z.discriminatedUnion('ok', [
  z.strictObject({ ok: z.literal(true), value: z.unknown().optional() }),
  z.strictObject({ ok: z.literal(false), error: BatchItemError }),
]);
/** Type of {@link BatchItemResult}. */
export type BatchItemResult = z.infer<typeof BatchItemResult>;

/**
 * What a compute node answers: `{ result }` for one input, `{ results }` (one {@link BatchItemResult} per input, in
 * input order) for a batch. Failures of the whole call (unknown computation, invalid single input, deadline) are
 * ordinary ONEX errors instead.
 *
 * @example
 * ```ts
 * const one: ComputeResponse = { result: { sum: 3 } };
 * const many: ComputeResponse = { results: [{ ok: true, value: { sum: 3 } }] };
 * ```
 */
export const ComputeResponse = z.union([
  z.strictObject({ result: z.unknown().optional().describe("The computation's output.") }),
  z.strictObject({ results: z.array(BatchItemResult).describe('One outcome per batch input, in input order.') }),
]);
/** Type of {@link ComputeResponse}. */
export type ComputeResponse = z.infer<typeof ComputeResponse>;
