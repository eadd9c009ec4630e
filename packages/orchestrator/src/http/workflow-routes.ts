import { ErrorCode, OnexError, serveNode, toOnexError, type ServedNode, type ServeNodeOptions } from '@onex/core';
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { Orchestrator } from '../engine/orchestrator.js';
import { WorkflowStatus } from '../store/workflow-record.js';

const StartBody = z
  .object({
    type: z.string().min(1),
    version: z.string().optional(),
    input: z.unknown(),
    idempotencyKey: z.string().min(1).max(256).optional(),
    timeoutMs: z.number().int().positive().optional(),
  })
  .strict();

const STATUSES = new Set<string>(Object.values(WorkflowStatus));
const MAX_BODY = 1024 * 1024;

async function jsonBody(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!type.toLowerCase().startsWith('application/json')) {
    throw new OnexError(ErrorCode.UnsupportedMediaType, 'Expected content-type application/json');
  }
  const length = Number(c.req.header('content-length') ?? '0');
  if (length > MAX_BODY) throw new OnexError(ErrorCode.PayloadTooLarge, `Body larger than ${MAX_BODY} bytes`);
  const text = await c.req.text();
  if (text.length > MAX_BODY) throw new OnexError(ErrorCode.PayloadTooLarge, `Body larger than ${MAX_BODY} bytes`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new OnexError(ErrorCode.BadRequest, 'Malformed JSON body');
  }
}

/**
 * Adds the workflow API to a node app (pass it as `serveNode`'s `configure`):
 * `POST /v1/workflows` (start; 202 with `{ id }`), `GET /v1/workflows/:id` (state and steps),
 * `GET /v1/workflows/:id/result` (waits for the end, bounded by `x-onex-timeout-ms`, default 30 s),
 * `GET /v1/workflows?status=a,b&type=t&limit=n` (summaries), `POST /v1/workflows/:id/cancel`.
 *
 * @example
 * ```ts
 * await serveNode(orchestrator, { configure: workflowRoutes(orchestrator) });
 * ```
 */
export function workflowRoutes(orchestrator: Orchestrator): (app: Hono) => void {
  return (app) => {
    app.post('/v1/workflows', async (c) => {
      const parsed = StartBody.safeParse(await jsonBody(c));
      if (!parsed.success) throw toOnexError(parsed.error);
      const body = parsed.data;
      const correlationId = c.req.header('x-correlation-id');
      const id = await orchestrator.start(body.type, body.input, {
        ...(body.version === undefined ? {} : { version: body.version }),
        ...(body.idempotencyKey === undefined ? {} : { idempotencyKey: body.idempotencyKey }),
        ...(body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs }),
        ...(correlationId === undefined ? {} : { correlationId }),
      });
      return c.json({ id }, 202);
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
      const timeoutMs = Math.min(Number.parseInt(c.req.header('x-onex-timeout-ms') ?? '30000', 10) || 30_000, 300_000);
      const signal = AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(timeoutMs)]);
      try {
        return c.json(await orchestrator.result(c.req.param('id'), { signal }));
      } catch (error) {
        const onex = toOnexError(error);
        if (onex.code === ErrorCode.Cancelled) throw new OnexError(ErrorCode.Timeout, 'Workflow still running', { retryable: true });
        throw onex;
      }
    });

    app.post('/v1/workflows/:id/cancel', async (c) => c.json(await orchestrator.cancel(c.req.param('id'))));
  };
}

/**
 * Serves an orchestrator over HTTP: the node routes of `serveNode` (`POST /v1/process` runs a workflow to the end)
 * plus {@link workflowRoutes}.
 *
 * @example
 * ```ts
 * const served = await serveOrchestrator(orchestrator, { port: 4000 });
 * ```
 */
export function serveOrchestrator(orchestrator: Orchestrator, options: ServeNodeOptions = {}): Promise<ServedNode> {
  const configure = workflowRoutes(orchestrator);
  return serveNode(orchestrator, {
    ...options,
    configure: (app) => {
      configure(app);
      options.configure?.(app);
    },
  });
}
