import { randomUUID } from 'node:crypto';
import {
  ErrorCode,
  OnexError,
  OnexHeader,
  parseCorrelationIdHeader,
  readJsonBody,
  requireScope,
  serveNode,
  toOnexError,
  type NodeAppSettings,
  type ReadJsonBodyOptions,
  type ServedNode,
  type ServeNodeOptions,
} from '@onex/core';
import type { Hono } from 'hono';
import { z } from 'zod';
import type { Orchestrator } from '../engine/orchestrator.js';
import { WorkflowStatus } from '../store/workflow-record.js';
import { dashboardRoutes, type DashboardOptions } from '../ui/dashboard.js';

const StartBody = z
  .object({
    type: z.string().min(1),
    version: z.string().optional(),
    input: z.unknown(),
    idempotencyKey: z.string().min(1).max(256).optional(),
    timeoutMs: z.number().int().positive().optional(),
    /** Delayed start: epoch ms, or an ISO 8601 date-time with an offset (`2030-01-01T08:00:00Z`). */
    startAt: z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })]).optional(),
    /** Delayed start, ms from now. */
    delayMs: z.number().int().nonnegative().optional(),
    /** Admission: higher first among waiting workflows; at most concurrencyLimit running per concurrencyKey. */
    priority: z.number().int().optional(),
    concurrencyKey: z.string().min(1).max(256).optional(),
    concurrencyLimit: z.number().int().positive().optional(),
  })
  .strict()
  .refine((body) => body.startAt === undefined || body.delayMs === undefined, { message: 'startAt or delayMs, not both', path: ['delayMs'] });

const SignalBody = z.object({ payload: z.unknown(), signalId: z.string().min(1).max(256).optional() }).strict();

const ScheduleBody = z
  .object({
    id: z.string().min(1).max(128),
    cron: z.string().min(1).max(256),
    timezone: z.string().min(1).max(64).optional(),
    workflow: z.string().min(1),
    version: z.string().optional(),
    input: z.unknown(),
    overlap: z.enum(['skip', 'buffer-one', 'allow']).optional(),
    catchUp: z.enum(['none', 'latest', 'all']).optional(),
  })
  .strict();

const STATUSES = new Set<string>(Object.values(WorkflowStatus));

/**
 * Options of {@link workflowRoutes}.
 *
 * @example
 * ```ts
 * const options: WorkflowRoutesOptions = { bodyLimitBytes: 256 * 1024 };
 * ```
 */
export interface WorkflowRoutesOptions {
  /**
   * Largest `POST /v1/workflows` body accepted, bytes; a larger one is answered 413 `PAYLOAD_TOO_LARGE` without
   * being buffered. Default: the serving app's `bodyLimitBytes` (serveNode's 1 MiB unless set).
   */
  readonly bodyLimitBytes?: number;
  /** Also mounts the dashboard at `/ui` (see `dashboardRoutes`): `true` for its defaults. Default: not mounted. */
  readonly dashboard?: boolean | DashboardOptions;
}

/**
 * Adds the workflow API to a node app (pass it as `serveNode`'s `configure`):
 * `POST /v1/workflows` (start; 202 with `{ id }`; `startAt` or `delayMs` in the body delay the start), `GET /v1/workflows/:id` (state and steps),
 * `GET /v1/workflows/:id/result` (waits for the end, bounded by `x-onex-timeout-ms`, default 30 s),
 * `GET /v1/workflows?status=a,b&type=t&limit=n` (summaries), `POST /v1/workflows/:id/cancel`, and
 * `POST /v1/workflows/:id/signals/:name` with `{ payload, signalId? }` (202 with `{ signalId, duplicate }`; a
 * payload that fails the wait's schema, or a signal the workflow does not wait for, is answered 400 `BAD_REQUEST`
 * with the schema's messages, and nothing is stored; 409 when the workflow is finished); and the schedules:
 * `POST /v1/schedules` (create or update; 201 with the schedule), `GET /v1/schedules`, `GET /v1/schedules/:id`,
 * `POST /v1/schedules/:id/pause`, `POST /v1/schedules/:id/resume`, `DELETE /v1/schedules/:id`.
 * Served with `auth`, starting a workflow needs the scope `workflows:start`, cancelling `workflows:admin`,
 * signalling `workflows:signal`, and creating, pausing, resuming or deleting a schedule `schedules:admin` (403 otherwise).
 *
 * The start body is read as `serveNode` reads `POST /v1/process` (see `readJsonBody`): JSON only (415), at most
 * `bodyLimitBytes` (413, refused while streaming), well-formed (400). The workflow takes the request's
 * `x-correlation-id` and hands it to every step call; a malformed one is ignored and a new id made, as on
 * `/v1/process`. The 202 answer carries the id used in `x-correlation-id`.
 *
 * @throws OnexError `VALIDATION` when `bodyLimitBytes` is not a non-negative integer.
 * @example
 * ```ts
 * await serveNode(orchestrator, { bodyLimitBytes: 256 * 1024, configure: workflowRoutes(orchestrator) });
 * ```
 */
export function workflowRoutes(orchestrator: Orchestrator, options: WorkflowRoutesOptions = {}): (app: Hono, settings?: NodeAppSettings) => void {
  const own = options.bodyLimitBytes;
  if (own !== undefined && (!Number.isInteger(own) || own < 0)) {
    throw new OnexError(ErrorCode.Validation, `bodyLimitBytes must be a non-negative integer (got ${String(own)})`);
  }
  const dashboard = options.dashboard === undefined || options.dashboard === false ? undefined : dashboardRoutes(orchestrator, options.dashboard === true ? {} : options.dashboard);
  return (app, settings) => {
    dashboard?.(app, settings);
    const limitBytes = own ?? settings?.bodyLimitBytes;
    const readOptions: ReadJsonBodyOptions = limitBytes === undefined ? {} : { limitBytes };

    app.post('/v1/workflows', requireScope('workflows:start'), async (c) => {
      const read = await readJsonBody(c, readOptions);
      if (!read.ok) throw read.error;
      const parsed = StartBody.safeParse(read.value);
      if (!parsed.success) throw toOnexError(parsed.error);
      const body = parsed.data;
      const correlationId = parseCorrelationIdHeader(c.req.header(OnexHeader.CorrelationId)) ?? randomUUID();
      const id = await orchestrator.start(body.type, body.input, {
        ...(body.version === undefined ? {} : { version: body.version }),
        ...(body.idempotencyKey === undefined ? {} : { idempotencyKey: body.idempotencyKey }),
        ...(body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs }),
        ...(body.startAt === undefined ? {} : { startAt: typeof body.startAt === 'number' ? body.startAt : new Date(body.startAt) }),
        ...(body.delayMs === undefined ? {} : { delayMs: body.delayMs }),
        ...(body.priority === undefined ? {} : { priority: body.priority }),
        ...(body.concurrencyKey === undefined ? {} : { concurrencyKey: body.concurrencyKey }),
        ...(body.concurrencyLimit === undefined ? {} : { concurrencyLimit: body.concurrencyLimit }),
        correlationId,
      });
      return c.json({ id }, 202, { [OnexHeader.CorrelationId]: correlationId });
    });

    app.get('/v1/workflows', async (c) => {
      const statusParam = c.req.query('status');
      const statuses = statusParam === undefined || statusParam === '' ? undefined : statusParam.split(',');
      for (const s of statuses ?? []) {
        if (!STATUSES.has(s)) throw new OnexError(ErrorCode.Validation, `Unknown status '${s}'`, { details: [{ path: 'status', message: `one of ${[...STATUSES].join(', ')}` }] });
      }
      const limitParam = c.req.query('limit');
      const limit = limitParam === undefined ? undefined : Number.parseInt(limitParam, 10);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new OnexError(ErrorCode.Validation, 'limit must be a positive integer');
      const type = c.req.query('type');
      const workflows = await orchestrator.list({
        ...(statuses === undefined ? {} : { status: statuses as WorkflowStatus[] }),
        ...(type === undefined ? {} : { type }),
        ...(limit === undefined ? {} : { limit }),
      });
      return c.json({ workflows });
    });

    app.get('/v1/workflows/:id', async (c) => c.json(await orchestrator.get(c.req.param('id'))));

    app.get('/v1/workflows/:id/result', async (c) => {
      const timeoutMs = Math.max(0, Math.min(Number.parseInt(c.req.header('x-onex-timeout-ms') ?? '30000', 10) || 30_000, 300_000)); // '-1' made AbortSignal.timeout throw: a 500
      const signal = AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(timeoutMs)]);
      try {
        return c.json(await orchestrator.result(c.req.param('id'), { signal }));
      } catch (error) {
        const onex = toOnexError(error);
        if (onex.code === ErrorCode.Cancelled) throw new OnexError(ErrorCode.Timeout, 'Workflow still running', { retryable: true });
        throw onex;
      }
    });

    app.post('/v1/workflows/:id/cancel', requireScope('workflows:admin'), async (c) => c.json(await orchestrator.cancel(c.req.param('id'))));

    app.post('/v1/schedules', requireScope('schedules:admin'), async (c) => {
      const read = await readJsonBody(c, readOptions);
      if (!read.ok) throw read.error;
      const parsed = ScheduleBody.safeParse(read.value);
      if (!parsed.success) throw toOnexError(parsed.error);
      const { timezone, version, overlap, catchUp, ...spec } = parsed.data;
      const schedule = await orchestrator.schedules.create({
        ...spec,
        ...(timezone === undefined ? {} : { timezone }),
        ...(version === undefined ? {} : { version }),
        ...(overlap === undefined ? {} : { overlap }),
        ...(catchUp === undefined ? {} : { catchUp }),
      });
      return c.json(schedule, 201);
    });
    app.get('/v1/schedules', async (c) => c.json({ schedules: await orchestrator.schedules.list() }));
    app.get('/v1/schedules/:id', async (c) => c.json(await orchestrator.schedules.get(c.req.param('id'))));
    app.post('/v1/schedules/:id/pause', requireScope('schedules:admin'), async (c) => c.json(await orchestrator.schedules.pause(c.req.param('id'))));
    app.post('/v1/schedules/:id/resume', requireScope('schedules:admin'), async (c) => c.json(await orchestrator.schedules.resume(c.req.param('id'))));
    app.delete('/v1/schedules/:id', requireScope('schedules:admin'), async (c) => {
      await orchestrator.schedules.delete(c.req.param('id'));
      return c.json({ deleted: true });
    });

    app.post('/v1/workflows/:id/signals/:name', requireScope('workflows:signal'), async (c) => {
      const read = await readJsonBody(c, readOptions);
      if (!read.ok) throw read.error;
      const parsed = SignalBody.safeParse(read.value);
      if (!parsed.success) throw asBadRequest(toOnexError(parsed.error));
      const { payload, signalId } = parsed.data;
      try {
        const ack = await orchestrator.signal(c.req.param('id'), c.req.param('name'), payload, signalId === undefined ? {} : { signalId });
        return c.json(ack, 202);
      } catch (error) {
        const onex = toOnexError(error);
        throw onex.code === ErrorCode.Validation ? asBadRequest(onex) : onex;
      }
    });
  };
}

/** A refused signal body or payload as a 400, keeping the schema's message and details. */
function asBadRequest(error: OnexError): OnexError {
  return new OnexError(ErrorCode.BadRequest, error.message, {
    ...(error.details === undefined ? {} : { details: error.details }),
    ...(error.context === undefined ? {} : { context: error.context }),
  });
}

/**
 * Serves an orchestrator over HTTP: the node routes of `serveNode` (`POST /v1/process` runs a workflow to the end)
 * plus {@link workflowRoutes}, which take the same `bodyLimitBytes`; `dashboard: true` also serves the dashboard at `/ui`.
 *
 * @example
 * ```ts
 * const served = await serveOrchestrator(orchestrator, { port: 4000 });
 * ```
 */
export function serveOrchestrator(orchestrator: Orchestrator, options: ServeNodeOptions & Pick<WorkflowRoutesOptions, 'dashboard'> = {}): Promise<ServedNode> {
  const configure = workflowRoutes(orchestrator, options.dashboard === undefined ? {} : { dashboard: options.dashboard });
  return serveNode(orchestrator, {
    ...options,
    configure: (app, settings) => {
      configure(app, settings);
      options.configure?.(app, settings);
    },
  });
}
