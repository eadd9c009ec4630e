import type { WorkflowOutcome, WorkflowRecord, WorkflowSummary } from '@onex/orchestrator';
import { FULFILMENT_WORKFLOW } from '../domain/fulfilment-workflow.js';
import type { Order } from '../domain/order.js';
import { requestJson } from './http-json.js';

/** A small client of the orchestrator's workflow API (`/v1/workflows`), for the launcher, the CLI and the tests. */
export class OrchestratorApi {
  constructor(readonly url: string) {}

  /** Starts the fulfilment of an order; the order id is the idempotency key, so a repeat returns the same workflow. */
  async submit(order: Order): Promise<string> {
    const { id } = await requestJson<{ id: string }>(`${this.url}/v1/workflows`, {
      body: { type: FULFILMENT_WORKFLOW, input: order, idempotencyKey: order.orderId },
    });
    return id;
  }

  /** Waits (up to `waitMs`, server side) for the workflow's outcome. */
  async result(id: string, waitMs = 30_000): Promise<WorkflowOutcome> {
    return requestJson<WorkflowOutcome>(`${this.url}/v1/workflows/${encodeURIComponent(id)}/result`, {
      headers: { 'x-onex-timeout-ms': String(waitMs) },
      timeoutMs: waitMs + 5_000,
    });
  }

  /** The workflow with every step. */
  async get(id: string): Promise<WorkflowRecord> {
    return requestJson<WorkflowRecord>(`${this.url}/v1/workflows/${encodeURIComponent(id)}`);
  }

  /** Summaries, newest first. */
  async list(filter: { readonly status?: readonly string[]; readonly limit?: number } = {}): Promise<readonly WorkflowSummary[]> {
    const params = new URLSearchParams();
    if (filter.status !== undefined && filter.status.length > 0) params.set('status', filter.status.join(','));
    if (filter.limit !== undefined) params.set('limit', String(filter.limit));
    const query = params.size === 0 ? '' : `?${params.toString()}`;
    return (await requestJson<{ workflows: WorkflowSummary[] }>(`${this.url}/v1/workflows${query}`)).workflows;
  }

  /** Cancels a workflow (its completed steps are compensated) and answers its outcome. */
  async cancel(id: string): Promise<WorkflowOutcome> {
    return requestJson<WorkflowOutcome>(`${this.url}/v1/workflows/${encodeURIComponent(id)}/cancel`, { method: 'POST', body: {}, timeoutMs: 60_000 });
  }
}
