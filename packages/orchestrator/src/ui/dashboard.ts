import { ErrorCode, OnexError, readJsonBody, toOnexError, toWireError, type NodeAppSettings } from '@onex/core';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { Orchestrator } from '../engine/orchestrator.js';
import type { Schedule } from '../engine/scheduler.js';
import { WorkflowStatus, type WorkflowRecord } from '../store/workflow-record.js';
import { APP_CSS, APP_JS, FAVICON_SVG } from './assets.js';
import { LiveUpdates } from './live-updates.js';
import { errorPage, listFragment, listPage, workflowFragment, workflowPage, type Html, type ListView, type WorkflowView } from './pages.js';

/**
 * What a dashboard request asks to do, as {@link DashboardOptions.authorize} sees it: `view` for every page, fragment
 * and event stream; the others for the actions (all POSTs).
 */
export const DashboardAction = {
  View: 'view',
  Cancel: 'cancel',
  RetryCompensation: 'retry_compensation',
  Signal: 'signal',
} as const;
/** One of the {@link DashboardAction} values. */
export type DashboardAction = (typeof DashboardAction)[keyof typeof DashboardAction];

/**
 * One request to authorize: the action, and the workflow it is about (absent for the list and its stream).
 *
 * @example
 * ```ts
 * import type { DashboardRequest } from '@onex/orchestrator';
 * const readOnly = (request: DashboardRequest) => request.action === 'view';
 * ```
 */
export interface DashboardRequest {
  readonly action: DashboardAction;
  readonly workflowId?: string;
}

/**
 * Sends a signal to a workflow: the seam of the dashboard's signal action (see {@link signalSender}).
 *
 * @example
 * ```ts
 * import type { SignalWorkflow } from '@onex/orchestrator';
 * const send: SignalWorkflow = async (id, name, payload) => ({ id, name, payload });
 * ```
 */
export type SignalWorkflow = (id: string, name: string, payload: unknown) => Promise<unknown>;

/**
 * Options of {@link dashboardRoutes}.
 *
 * @example
 * ```ts
 * import type { DashboardOptions } from '@onex/orchestrator';
 * const options: DashboardOptions = {
 *   basePath: '/ui',
 *   // Read-only for everyone; actions only with the operator's token.
 *   authorize: (c, request) => request.action === 'view' || c.req.header('authorization') === `Bearer ${process.env['ONEX_UI_TOKEN']}`,
 * };
 * ```
 */
export interface DashboardOptions {
  /** Where the dashboard is mounted: a path of letters, digits, `-`, `_` and `/`, no trailing slash. Default `/ui`. */
  readonly basePath?: string;
  /**
   * Decides whether the caller may do `request` (every page, fragment, event stream and action asks): false answers
   * 403 `FORBIDDEN`. Default: everyone may. Node authentication, once configured, plugs in here. Runs after the
   * CSRF checks of the actions, never instead of them.
   */
  readonly authorize?: (c: Context, request: DashboardRequest) => boolean | Promise<boolean>;
  /** Event streams (open pages) at once; one more is answered 503. Default 32 (the change feed takes 256 in all). */
  readonly maxConnections?: number;
  /** Heartbeat comment on every stream, ms. Default 15 000. */
  readonly heartbeatMs?: number;
  /** Workflows the list shows unless the query says otherwise (`limit`, at most 1000). Default 50. */
  readonly pageSize?: number;
  /** How long the cancel action waits for the workflow to end before answering `cancel_requested`, ms. Default 2 000. */
  readonly cancelWaitMs?: number;
  /** Clock for "now" in the pages (running bars, wake-ups). Default `Date.now`. */
  readonly now?: () => number;
  /** The signal action's sender. Default {@link signalSender}: `orchestrator.signal(id, name, payload)`. */
  readonly signal?: SignalWorkflow;
}

/** The header every action must carry: only the dashboard's script (same origin) sends it. */
export const DASHBOARD_ACTION_HEADER = 'x-onex-ui';

/**
 * Content-Security-Policy of every dashboard response: scripts and styles only from the dashboard's own files (no
 * inline script, no inline style, no eval), connections only to the same origin, no framing, forms only to itself.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const BASE_PATH = /^(\/[A-Za-z0-9_-]+)+$/;
const STATUSES = new Set<string>(Object.values(WorkflowStatus));
const MAX_SLEEPING_SHOWN = 200;

const SignalBody = z.object({ name: z.string().min(1).max(200), payload: z.unknown().optional() }).strict();

/**
 * The signal action's default sender: `orchestrator.signal(id, name, payload)` (a fresh signal id per send, so two
 * sends are two signals). Replace it with {@link DashboardOptions.signal} to add a signal id of your own, or an audit.
 *
 * @example
 * ```ts
 * import { signalSender } from '@onex/orchestrator';
 * const send = signalSender(orchestrator);
 * const [waiting] = await orchestrator.list({ status: 'running', limit: 1 });
 * if (waiting !== undefined) await send(waiting.id, 'approved', { by: 'ops' });
 * ```
 */
export function signalSender(orchestrator: Orchestrator): SignalWorkflow {
  return (id, name, payload) => orchestrator.signal(id, name, payload);
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < 1) throw new OnexError(ErrorCode.Validation, `${name} must be a positive integer (got ${String(value)})`);
  return resolved;
}

/**
 * Mounts the workflow dashboard on a node app (pass it as `serveNode`'s `configure`, or `dashboard: true` to
 * {@link serveOrchestrator}): server-rendered pages under `basePath` (default `/ui`), kept fresh over server-sent
 * events from the orchestrator's change feed ({@link Orchestrator.watch}).
 *
 * - `GET /ui/workflows?status=a,b&type=t&limit=n`: the workflows (server-side filters, through `orchestrator.list`),
 *   the sleeping ones, and the circuit breaker of each peer;
 * - `GET /ui/workflows/:id`: one workflow, its step timeline as a Gantt chart (attempts, errors, compensations,
 *   sleeps), its steps, input and output, and its actions;
 * - `GET /ui/events[?id=]`: the event stream; `GET /ui/fragments/…`: the live parts the script swaps in;
 * - `POST /ui/api/workflows/:id/cancel`, `…/retry-compensation`, `…/signal` (`{ name, payload }`): the actions.
 *
 * Security: every value is escaped (hono's `html`), every response carries {@link DASHBOARD_CSP} (the script is
 * `/ui/app.js`, never inline), `x-content-type-options: nosniff` and `referrer-policy: no-referrer`. Actions are POSTs
 * that must carry the {@link DASHBOARD_ACTION_HEADER} header and, when the browser says where they come from
 * (`sec-fetch-site`, `origin`), come from the same origin: a cross-site page can neither send that header without a
 * CORS preflight (never granted) nor pass the origin check. Then `authorize` decides.
 *
 * @throws OnexError `VALIDATION` for an invalid `basePath` or limit.
 * @example
 * ```ts
 * import { serveNode } from '@onex/core';
 * import { dashboardRoutes, workflowRoutes } from '@onex/orchestrator';
 * const routes = workflowRoutes(orchestrator);
 * const ui = dashboardRoutes(orchestrator, { authorize: (c, { action }) => action === 'view' || c.req.header('x-operator') === 'yes' });
 * const served = await serveNode(orchestrator, { configure: (app, settings) => { routes(app, settings); ui(app, settings); } });
 * console.log(`${served.url}/ui`);
 * ```
 */
export function dashboardRoutes(orchestrator: Orchestrator, options: DashboardOptions = {}): (app: Hono, settings?: NodeAppSettings) => void {
  const base = options.basePath ?? '/ui';
  if (!BASE_PATH.test(base)) throw new OnexError(ErrorCode.Validation, `basePath must look like '/ui' (letters, digits, '-', '_', '/'; no trailing slash), got '${base}'`);
  const pageSize = Math.min(positiveInteger('pageSize', options.pageSize, 50), 1000);
  const live = new LiveUpdates(orchestrator, {
    maxConnections: positiveInteger('maxConnections', options.maxConnections, 32),
    heartbeatMs: positiveInteger('heartbeatMs', options.heartbeatMs, 15_000),
    maxPending: 256,
  });
  const cancelWaitMs = positiveInteger('cancelWaitMs', options.cancelWaitMs, 2_000);
  const now = options.now ?? Date.now;
  const authorize = options.authorize;
  const node = orchestrator.name;
  const wire = (error: OnexError) => toWireError(error, { sanitize: orchestrator.sanitizer.forWire }).error;

  const allowed = async (c: Context, request: DashboardRequest): Promise<void> => {
    if (authorize !== undefined && !(await authorize(c, request))) {
      throw new OnexError(ErrorCode.Forbidden, `Not allowed: ${request.action}`);
    }
  };

  const secure: MiddlewareHandler = async (c, next) => {
    await next();
    c.res.headers.set('content-security-policy', DASHBOARD_CSP);
    c.res.headers.set('x-content-type-options', 'nosniff');
    c.res.headers.set('referrer-policy', 'no-referrer');
    c.res.headers.set('x-frame-options', 'DENY');
    c.res.headers.set('cross-origin-opener-policy', 'same-origin');
    if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store');
  };

  /** Renders a page, or an (escaped, sanitized) error page with the error's status. */
  const page = async (c: Context, render: () => Promise<Html>): Promise<Response> => {
    try {
      return c.html(await render());
    } catch (error) {
      const shown = wire(toOnexError(error));
      const status = toOnexError(error).httpStatus;
      return c.html(await errorPage(base, node, status, shown.code, shown.message), status as 400);
    }
  };

  const listView = async (c: Context): Promise<ListView> => {
    await allowed(c, { action: DashboardAction.View });
    const statusParam = c.req.query('status');
    const status = statusParam === undefined || statusParam === '' ? [] : statusParam.split(',');
    for (const s of status) {
      if (!STATUSES.has(s)) throw new OnexError(ErrorCode.Validation, `Unknown status '${s}'`, { details: [{ path: 'status', message: `one of ${[...STATUSES].join(', ')}` }] });
    }
    const limitParam = c.req.query('limit');
    const limit = limitParam === undefined || limitParam === '' ? pageSize : Number(limitParam);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new OnexError(ErrorCode.Validation, 'limit must be an integer from 1 to 1000');
    const typeParam = c.req.query('type');
    const type = typeParam === undefined || typeParam === '' ? undefined : typeParam;
    const statuses = status as WorkflowStatus[];
    const [workflows, running, schedules] = await Promise.all([
      orchestrator.list({ ...(statuses.length === 0 ? {} : { status: statuses }), ...(type === undefined ? {} : { type }), limit }),
      orchestrator.list({ status: WorkflowStatus.Running, limit: 1000 }),
      // A store that keeps no schedules answers NOT_FOUND: the panel then says there are none.
      orchestrator.schedules.list().catch((): readonly Schedule[] => []),
    ]);
    const sleeping = running.filter((w) => w.wakeAt !== undefined).sort((a, b) => (a.wakeAt ?? 0) - (b.wakeAt ?? 0)).slice(0, MAX_SLEEPING_SHOWN);
    return { base, node, status: statuses, type, limit, workflows, sleeping, breakers: orchestrator.stats().breakers, schedules: schedules.slice(0, MAX_SLEEPING_SHOWN), now: now() };
  };

  const workflowView = async (c: Context): Promise<WorkflowView> => {
    const id = c.req.param('id') ?? '';
    await allowed(c, { action: DashboardAction.View, workflowId: id });
    const workflow = await orchestrator.get(id);
    const { steps, signals } = shapeOf(orchestrator, workflow);
    return { base, node, workflow, steps, signals, now: now(), canRetryCompensation: orchestrator.store.reopen !== undefined };
  };

  /** CSRF: the action header, and same origin wherever the browser tells. */
  const sameOrigin = (c: Context): void => {
    if (c.req.header(DASHBOARD_ACTION_HEADER) !== '1') {
      throw new OnexError(ErrorCode.Forbidden, `Dashboard actions need the ${DASHBOARD_ACTION_HEADER} header (the dashboard's script sends it)`);
    }
    const site = c.req.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin') throw new OnexError(ErrorCode.Forbidden, 'Dashboard actions are accepted from the same origin only');
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      let host: string | undefined;
      try {
        host = new URL(origin).host;
      } catch {
        host = undefined;
      }
      if (host === undefined || host !== c.req.header('host')) throw new OnexError(ErrorCode.Forbidden, 'Dashboard actions are accepted from the same origin only');
    }
  };

  return (app, settings) => {
    const readOptions = settings === undefined ? {} : { limitBytes: settings.bodyLimitBytes };
    app.use(base, secure);
    app.use(`${base}/*`, secure);
    app.get(base, (c) => c.redirect(`${base}/workflows`, 302));
    app.get(`${base}/app.js`, (c) => c.body(APP_JS, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }));
    app.get(`${base}/app.css`, (c) => c.body(APP_CSS, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'no-cache' }));
    app.get(`${base}/favicon.svg`, (c) => c.body(FAVICON_SVG, 200, { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=86400' }));
    app.get(`${base}/workflows`, (c) => page(c, async () => listPage(await listView(c))));
    app.get(`${base}/fragments/workflows`, (c) => page(c, async () => listFragment(await listView(c))));
    app.get(`${base}/workflows/:id`, (c) => page(c, async () => workflowPage(await workflowView(c))));
    app.get(`${base}/fragments/workflows/:id`, (c) => page(c, async () => workflowFragment(await workflowView(c))));

    app.get(`${base}/events`, async (c) => {
      const id = c.req.query('id');
      await allowed(c, id === undefined ? { action: DashboardAction.View } : { action: DashboardAction.View, workflowId: id });
      // A workflow page follows its workflow and its nested workflows (ids `<id>.<step>`).
      const accept = id === undefined || id === '' ? () => true : (change: { readonly id: string }) => change.id === id || change.id.startsWith(`${id}.`);
      return live.respond(c, accept);
    });

    app.post(`${base}/api/workflows/:id/cancel`, async (c) => {
      sameOrigin(c);
      const id = c.req.param('id');
      await allowed(c, { action: DashboardAction.Cancel, workflowId: id });
      try {
        const outcome = await orchestrator.cancel(id, { signal: AbortSignal.timeout(cancelWaitMs) });
        return c.json({ id, status: outcome.status });
      } catch (error) {
        const onex = toOnexError(error);
        // Still unwinding (compensations): the request is durable, the page follows the rest live.
        if (onex.code === ErrorCode.Cancelled) return c.json({ id, status: 'cancel_requested' }, 202);
        throw onex;
      }
    });

    app.post(`${base}/api/workflows/:id/retry-compensation`, async (c) => {
      sameOrigin(c);
      const id = c.req.param('id');
      await allowed(c, { action: DashboardAction.RetryCompensation, workflowId: id });
      await orchestrator.retryCompensation(id);
      return c.json({ id, status: 'retrying' }, 202);
    });

    app.post(`${base}/api/workflows/:id/signal`, async (c) => {
      sameOrigin(c);
      const id = c.req.param('id');
      await allowed(c, { action: DashboardAction.Signal, workflowId: id });
      const read = await readJsonBody(c, readOptions);
      if (!read.ok) throw read.error;
      const parsed = SignalBody.safeParse(read.value);
      const send = options.signal ?? signalSender(orchestrator);
      if (!parsed.success) throw toOnexError(parsed.error);
      const result = await send(id, parsed.data.name, parsed.data.payload);
      return c.json({ id, status: 'signalled', result: result ?? null }, 202);
    });
  };
}

/**
 * Steps in definition order (sleeps marked) and the signals the workflow waits for; a workflow of a type not
 * registered here keeps its record's order and takes no signal from the page.
 */
function shapeOf(orchestrator: Orchestrator, workflow: WorkflowRecord): Pick<WorkflowView, 'steps' | 'signals'> {
  let definition: ReturnType<Orchestrator['definition']>;
  try {
    definition = orchestrator.definition(workflow.type, workflow.version);
  } catch {
    return { steps: Object.keys(workflow.steps).map((name) => ({ name, sleep: false })), signals: [] };
  }
  const signals = new Set<string>();
  for (const step of definition.steps) if (step.target.kind === 'signal') signals.add(step.target.signal);
  return { steps: definition.steps.map((s) => ({ name: s.name, sleep: s.target.kind === 'sleep' })), signals: [...signals] };
}
