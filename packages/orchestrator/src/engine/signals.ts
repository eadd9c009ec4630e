import { randomUUID } from 'node:crypto';
import { ErrorCode, OnexError, toOnexError } from '@onex/core';
import { MAX_SIGNALS_PER_WORKFLOW, type SignalSendResult } from '../store/workflow-record.js';
import type { AnyWorkflowDefinition, SignalTarget } from '../workflow/definition.js';

/**
 * Options of `orchestrator.signal`.
 *
 * @example
 * ```ts
 * import type { SignalOptions } from '@onex/orchestrator';
 * const options: SignalOptions = { signalId: 'warehouse-event-8812' };
 * ```
 */
export interface SignalOptions {
  /**
   * Deduplication key, unique per workflow (1–256 characters): a signal sent again with the same id is stored once
   * and delivered once. Default: a new random id, so a retried call without one may deliver twice.
   */
  readonly signalId?: string;
}

/**
 * What `orchestrator.signal` answers: the signal's id, and whether it was a duplicate of one stored before (then
 * nothing changed).
 *
 * @example
 * ```ts
 * import type { SignalAck } from '@onex/orchestrator';
 * const describe = (ack: SignalAck) => (ack.duplicate ? `already had ${ack.signalId}` : `stored ${ack.signalId}`);
 * ```
 */
export interface SignalAck {
  readonly signalId: string;
  readonly duplicate: boolean;
}

/** The wait targets of a definition for a signal name (they share one schema: see validateWorkflowDefinition). */
export function signalTarget(definition: AnyWorkflowDefinition, name: string): SignalTarget | undefined {
  for (const step of definition.steps) if (step.target.kind === 'signal' && step.target.signal === name) return step.target;
  return undefined;
}

/** A signal's id, as given (checked) or new. */
export function signalIdOf(options: SignalOptions): string {
  const id = options.signalId;
  if (id === undefined) return randomUUID();
  if (typeof id !== 'string' || id.length === 0 || id.length > 256) {
    throw new OnexError(ErrorCode.Validation, 'signalId must be a string of 1 to 256 characters');
  }
  return id;
}

/**
 * The payload checked by the schema of the workflow's waits for `name`, parsed.
 *
 * @throws OnexError `VALIDATION`: the workflow waits for no such signal, or the payload fails the schema (the
 *   schema's messages as details).
 */
export function checkSignal(definition: AnyWorkflowDefinition, workflowId: string, name: string, payload: unknown): unknown {
  const target = signalTarget(definition, name);
  if (target === undefined) {
    throw new OnexError(ErrorCode.Validation, `Workflow '${definition.type}' waits for no signal '${name}'`, { context: { id: workflowId, signal: name } });
  }
  const parsed = target.schema.safeParse(payload);
  if (!parsed.success) throw toOnexError(parsed.error);
  return parsed.data;
}

/** A store's answer as the caller's: an ack, or the error that says why nothing was stored. */
export function signalAck(result: SignalSendResult, workflowId: string, signalId: string): SignalAck {
  switch (result.status) {
    case 'accepted':
      return { signalId, duplicate: false };
    case 'duplicate':
      return { signalId, duplicate: true };
    case 'finished':
      throw new OnexError(ErrorCode.Conflict, `Workflow ${workflowId} is finished: it takes no signal`, { context: { id: workflowId } });
    case 'not_found':
      throw new OnexError(ErrorCode.NotFound, `Workflow ${workflowId} not found`, { context: { id: workflowId } });
    case 'full':
      throw new OnexError(ErrorCode.Overloaded, `Workflow ${workflowId} holds the most signals a workflow may (${MAX_SIGNALS_PER_WORKFLOW})`, {
        retryable: false,
        context: { id: workflowId, limit: MAX_SIGNALS_PER_WORKFLOW },
      });
  }
}
