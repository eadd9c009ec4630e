import type { ClientAuthOptions } from '@onex/core';
import type { Schedule, WorkflowOutcome, WorkflowRecord, WorkflowSummary } from '@onex/orchestrator';
import { FULFILMENT_WORKFLOW } from '../domain/fulfilment-workflow.js';
import type { Order } from '../domain/order.js';
import { requestJson } from './http-json.js';

/** Options of {@link OrchestratorApi}. */
export interface OrchestratorApiOptions {
  /**
   * How long a request may take (beyond the server-side wait of `result`), ms. Default 10 000 (5 000 beyond a wait).
   * Against replicas, a short one moves a call stuck on a frozen replica to another one sooner.
   */
  readonly timeoutMs?: number;
  /** Sign every request with this key (an orchestrator served with `auth`). */
  readonly auth?: ClientAuthOptions;
}

/** A small client of the orchestrator's workflow API (`/v1/workflows`), for the launcher, the CLI and the tests. */
export class OrchestratorApi {
  readonly #timeoutMs: number | undefined;
  readonly #auth: { auth?: ClientAuthOptions };

  constructor(
    readonly url: string,
    options: OrchestratorApiOptions = {},
  ) {
    this.#timeoutMs = options.timeoutMs;
    this.#auth = options.auth === undefined ? {} : { auth: options.auth };
  }

  #timeout(): { timeoutMs?: number; auth?: ClientAuthOptions } {
    return this.#timeoutMs === undefined ? this.#auth : { timeoutMs: this.#timeoutMs, ...this.#auth };
  }

  /** Starts the fulfilment of an order; the order id is the idempotency key, so a repeat returns the same workflow. */
  async submit(order: Order): Promise<string> {
    const { id } = await requestJson<{ id: string }>(`${this.url}/v1/workflows`, {
      body: { type: FULFILMENT_WORKFLOW, input: order, idempotencyKey: order.orderId },
      ...this.#timeout(),
    });
    return id;
  }

  /** Waits (up to `waitMs`, server side) for the workflow's outcome. */
  async result(id: string, waitMs = 30_000): Promise<WorkflowOutcome> {
    return requestJson<WorkflowOutcome>(`${this.url}/v1/workflows/${encodeURIComponent(id)}/result`, {
      headers: { 'x-onex-timeout-ms': String(waitMs) },
      timeoutMs: waitMs + (this.#timeoutMs ?? 5_000),
      ...this.#auth,
    });
  }

  /** The workflow with every step. */
  async get(id: string): Promise<WorkflowRecord> {
    return requestJson<WorkflowRecord>(`${this.url}/v1/workflows/${encodeURIComponent(id)}`, this.#timeout());
  }

  /** Summaries, newest first. */
  async list(filter: { readonly status?: readonly string[]; readonly limit?: number } = {}): Promise<readonly WorkflowSummary[]> {
    const params = new URLSearchParams();
    if (filter.status !== undefined && filter.status.length > 0) params.set('status', filter.status.join(','));
    if (filter.limit !== undefined) params.set('limit', String(filter.limit));
    const query = params.size === 0 ? '' : `?${params.toString()}`;
    return (await requestJson<{ workflows: WorkflowSummary[] }>(`${this.url}/v1/workflows${query}`, this.#timeout())).workflows;
  }

  /**
   * Sends a signal to a workflow (deduplicated by `signalId`): `{ signalId, duplicate }` once stored. Refused with
   * BAD_REQUEST for a payload the wait's schema refuses, CONFLICT once the workflow is finished.
   */
  async signal(id: string, name: string, payload: unknown, signalId?: string): Promise<{ readonly signalId: string; readonly duplicate: boolean }> {
    return requestJson(`${this.url}/v1/workflows/${encodeURIComponent(id)}/signals/${encodeURIComponent(name)}`, {
      body: { payload, ...(signalId === undefined ? {} : { signalId }) },
      ...this.#timeout(),
    });
  }

  /** Creates (or updates) a schedule. */
  async createSchedule(spec: { readonly id: string; readonly cron: string; readonly workflow: string; readonly input: unknown; readonly overlap?: string; readonly catchUp?: string }): Promise<Schedule> {
    return requestJson<Schedule>(`${this.url}/v1/schedules`, { body: spec, ...this.#timeout() });
  }

  /** Every schedule. */
  async schedules(): Promise<readonly Schedule[]> {
    return (await requestJson<{ schedules: Schedule[] }>(`${this.url}/v1/schedules`, this.#timeout())).schedules;
  }

  /** Pauses, resumes or deletes a schedule. */
  async scheduleAction(id: string, action: 'pause' | 'resume' | 'delete'): Promise<unknown> {
    const path = `${this.url}/v1/schedules/${encodeURIComponent(id)}`;
    return action === 'delete' ? requestJson(path, { method: 'DELETE', ...this.#timeout() }) : requestJson(`${path}/${action}`, { method: 'POST', body: {}, ...this.#timeout() });
  }

  /** Summaries of one workflow type, newest first. */
  async listType(type: string, limit = 1_000): Promise<readonly WorkflowSummary[]> {
    return (await requestJson<{ workflows: WorkflowSummary[] }>(`${this.url}/v1/workflows?type=${encodeURIComponent(type)}&limit=${limit}`, this.#timeout())).workflows;
  }

  /** Cancels a workflow (its completed steps are compensated) and answers its outcome. */
  async cancel(id: string): Promise<WorkflowOutcome> {
    return requestJson<WorkflowOutcome>(`${this.url}/v1/workflows/${encodeURIComponent(id)}/cancel`, { method: 'POST', body: {}, timeoutMs: 60_000, ...this.#auth });
  }
}
