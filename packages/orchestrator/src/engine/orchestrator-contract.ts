import { defineContract, ErrorCode, NodeKind } from '@onex/core';
import { z } from 'zod';
import { WorkflowStatus, type WorkflowError, type WorkflowRecord } from '../store/workflow-record.js';

/** Input of the orchestrator's `POST /v1/process`: run one workflow to completion. */
export const RunWorkflowInput = z.object({
  type: z.string().min(1),
  version: z.string().optional(),
  input: z.unknown(),
  idempotencyKey: z.string().min(1).max(256).optional(),
});

const RecordedErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean(),
  correlationId: z.string().optional(),
  retryAfterMs: z.number().optional(),
  details: z.array(z.unknown()).readonly().optional(),
  context: z.record(z.string(), z.unknown()).optional(),
  /** The wire error's cause chain (sanitized and depth-limited by core), when it has one. */
  cause: z.unknown().optional(),
});

/** The wire shape of a {@link WorkflowError}: a recorded error plus the failed step and its attempts. */
const WorkflowErrorSchema = RecordedErrorSchema.extend({
  step: z.string().optional(),
  attempts: z.int().nonnegative().optional(),
  attemptErrors: z.array(RecordedErrorSchema).readonly().optional(),
});

/**
 * Output of the orchestrator's `POST /v1/process` and of `GET /v1/workflows/:id/result`: the wire check of a
 * {@link WorkflowOutcome}. Extend it to type a workflow's output for a client:
 * `WorkflowOutcomeSchema.extend({ output: Receipt.optional() })`.
 *
 * @example
 * ```ts
 * import { WorkflowOutcomeSchema } from '@onex/orchestrator';
 * const outcome = WorkflowOutcomeSchema.parse({ id: 'w-1', status: 'failed', error: { code: 'CONFLICT', message: 'no stock', retryable: false, step: 'reserve', attempts: 1 } });
 * ```
 */
export const WorkflowOutcomeSchema = z.object({
  id: z.string(),
  status: z.enum(Object.values(WorkflowStatus) as [WorkflowStatus, ...WorkflowStatus[]]),
  output: z.unknown().optional(),
  error: WorkflowErrorSchema.optional(),
});

/** The statuses a workflow that did not complete ends in. */
export type UnsuccessfulWorkflowStatus = Exclude<WorkflowStatus, 'pending' | 'running' | 'compensating' | 'completed'>;

/**
 * The final state of a workflow, as `result(id)` answers it: `completed` with its output, or another final status
 * with the error that ended it (naming the failed step and its attempts, when a step failed). Check `status` and the
 * other field is typed: `output` after `status === 'completed'`, `error` otherwise.
 *
 * @example
 * ```ts
 * import type { WorkflowOutcome } from '@onex/orchestrator';
 * function report(outcome: WorkflowOutcome<{ readonly chargeId: string }>): string {
 *   if (outcome.status === 'completed') return `charged ${outcome.output.chargeId}`;
 *   return `${outcome.status}${outcome.error.step === undefined ? '' : ` at ${outcome.error.step}`}: ${outcome.error.message}`;
 * }
 * ```
 */
export type WorkflowOutcome<TOutput = unknown> =
  | { readonly id: string; readonly status: 'completed'; readonly output: TOutput; readonly error?: undefined }
  | { readonly id: string; readonly status: UnsuccessfulWorkflowStatus; readonly error: WorkflowError; readonly output?: undefined };

declare const outputType: unique symbol;

/**
 * The id of a workflow started from a typed definition: a string that remembers the workflow's output type, so
 * `result(id)` answers a typed {@link WorkflowOutcome}. Any string id is one (of output `unknown`).
 *
 * @example
 * ```ts
 * // `orchestrator` runs `fulfil`, whose output is { chargeId }
 * const id: WorkflowId<{ chargeId: string }> = await orchestrator.start(fulfil, order);
 * const outcome = await orchestrator.result(id); // WorkflowOutcome<{ chargeId: string }>
 * if (outcome.status === 'completed') console.log(outcome.output.chargeId);
 * ```
 */
export type WorkflowId<TOutput = unknown> = string & { readonly [outputType]?: TOutput };

/** The orchestrator's node contract (`POST /v1/process` runs a workflow to completion). */
export const orchestratorContract = defineContract({
  name: 'orchestrator',
  kind: NodeKind.Orchestrator,
  version: '0.1.0',
  description: 'Runs durable workflows over ONEX nodes',
  input: RunWorkflowInput,
  output: WorkflowOutcomeSchema,
});

/** The contract of an orchestrator named `name` at `version` (its `GET /contract`). */
export function orchestratorNodeContract(name: string, version: string, description: string | undefined): typeof orchestratorContract {
  if (name === orchestratorContract.name && version === orchestratorContract.version && description === undefined) return orchestratorContract;
  return defineContract({
    name,
    kind: NodeKind.Orchestrator,
    version,
    description: description ?? orchestratorContract.description ?? 'Runs durable workflows over ONEX nodes',
    input: RunWorkflowInput,
    output: WorkflowOutcomeSchema,
  });
}

/** The outcome a finished record answers. */
export function outcomeOf<TOutput = unknown>(record: WorkflowRecord): WorkflowOutcome<TOutput> {
  if (record.status === WorkflowStatus.Completed) return { id: record.id, status: record.status, output: record.output as TOutput };
  // A record written by an older engine may lack its error: the outcome still says it did not complete.
  const error = record.error ?? { code: ErrorCode.Internal, message: `Workflow ended ${record.status}`, retryable: false };
  return { id: record.id, status: record.status as UnsuccessfulWorkflowStatus, error };
}
