// Server-rendered pages of the dashboard. Every value goes through hono's `html` template, which escapes it (workflow
// input, ids, error messages are user data); `raw` is used only for markup built here from escaped parts.
import { html } from 'hono/html';
import type { OrchestratorStats } from '../engine/orchestrator.js';
import type { Schedule } from '../engine/scheduler.js';
import { isTerminalStatus, StepStatus, WorkflowStatus, type RecordedError, type StepRecord, type WorkflowRecord, type WorkflowSummary } from '../store/workflow-record.js';

/** What `html` answers (always synchronous here: no promise is ever interpolated). */
export type Html = ReturnType<typeof html>;

/** Statuses offered by the list's filter, in lifecycle order. */
export const STATUS_OPTIONS: readonly WorkflowStatus[] = Object.values(WorkflowStatus);

/** What the list page shows. */
export interface ListView {
  readonly base: string;
  readonly node: string;
  readonly status: readonly WorkflowStatus[];
  readonly type: string | undefined;
  readonly limit: number;
  readonly workflows: readonly WorkflowSummary[];
  readonly sleeping: readonly WorkflowSummary[];
  readonly breakers: OrchestratorStats['breakers'];
  /** The cron schedules (none when the store keeps none). */
  readonly schedules: readonly Schedule[];
  readonly now: number;
}

/** What the workflow page shows. */
export interface WorkflowView {
  readonly base: string;
  readonly node: string;
  readonly workflow: WorkflowRecord;
  /** Step names in definition order, with whether each is a sleep; steps of an unknown definition come in record order. */
  readonly steps: readonly { readonly name: string; readonly sleep: boolean }[];
  readonly now: number;
  readonly canRetryCompensation: boolean;
  /** The signal names its waits take: the page offers a signal form for them. */
  readonly signals: readonly string[];
}

const iso = (ms: number | undefined): string => (ms === undefined ? '' : new Date(ms).toISOString());

/** A duration for people: `850 ms`, `12.3 s`, `4 min 5 s`, `2 h 3 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1_000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.floor((ms % 3_600_000) / 60_000)} min`;
}

/** JSON for a `<pre>`; values JSON cannot show say so. */
function json(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? 'undefined';
  } catch {
    return '(not JSON-serializable)';
  }
}

const badge = (status: string): Html => html`<span class="badge s-${status}">${status.replaceAll('_', ' ')}</span>`;

const workflowHref = (base: string, id: string): string => `${base}/workflows/${encodeURIComponent(id)}`;

/** The whole page around `content`. `live` names the fragment and event stream the script keeps it fresh with. */
export function layout(options: { readonly base: string; readonly node: string; readonly title: string; readonly fragment?: string; readonly events?: string }, content: Html): Html {
  const { base } = options;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · ONEX</title>
<link rel="icon" href="${base}/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${base}/app.css">
<script src="${base}/app.js" defer></script>
</head>
<body data-base="${base}" data-fragment="${options.fragment ?? ''}" data-events="${options.events ?? ''}">
<header class="top">
<a class="brand" href="${base}/workflows">ONEX orchestrator</a>
<span class="node">${options.node}</span>
<span id="live-status" class="live-status" data-state="${options.events === undefined ? 'static' : 'connecting'}">${options.events === undefined ? '' : 'connecting…'}</span>
</header>
<main>
<p id="flash" class="flash" role="status" aria-live="polite"></p>
${content}
</main>
</body>
</html>`;
}

/** An error page: the message is escaped like every other value. */
export function errorPage(base: string, node: string, status: number, code: string, message: string): Html {
  return layout({ base, node, title: `Error ${status}` }, html`<h1>Error ${status}</h1><p class="error"><code>${code}</code> ${message}</p><p><a href="${base}/workflows">Back to the workflows</a></p>`);
}

function filtersForm(view: ListView, types: readonly string[]): Html {
  const selected = new Set(view.status);
  return html`<form class="filters" method="get" action="${view.base}/workflows">
<label>Status <select name="status" id="filter-status">
<option value="">any</option>
${STATUS_OPTIONS.map((s) => html`<option value="${s}"${selected.size === 1 && selected.has(s) ? html` selected` : ''}>${s.replaceAll('_', ' ')}</option>`)}
</select></label>
<label>Type <input name="type" id="filter-type" list="known-types" value="${view.type ?? ''}" autocomplete="off"></label>
<datalist id="known-types">${types.map((t) => html`<option value="${t}"></option>`)}</datalist>
<label>Limit <input name="limit" type="number" min="1" max="1000" value="${view.limit}"></label>
<button type="submit">Filter</button>
</form>`;
}

/** The list page. */
export function listPage(view: ListView): Html {
  const types = [...new Set(view.workflows.map((w) => w.type))].sort();
  const query = new URLSearchParams();
  if (view.status.length > 0) query.set('status', view.status.join(','));
  if (view.type !== undefined) query.set('type', view.type);
  query.set('limit', String(view.limit));
  return layout(
    { base: view.base, node: view.node, title: 'Workflows', fragment: `${view.base}/fragments/workflows?${query.toString()}`, events: `${view.base}/events` },
    html`<h1>Workflows</h1>
${filtersForm(view, types)}
<div id="live">${listFragment(view)}</div>`,
  );
}

/** The live part of the list page: the workflows, the sleeping ones and the breakers. */
export function listFragment(view: ListView): Html {
  return html`<section class="panel">
<h2>Workflows <small>${view.workflows.length} shown, newest first</small></h2>
${
  view.workflows.length === 0
    ? html`<p class="empty">No workflow matches.</p>`
    : html`<table class="workflows" id="workflows">
<thead><tr><th>Id</th><th>Type</th><th>Status</th><th>Created</th><th>Updated</th><th>Duration</th></tr></thead>
<tbody>${view.workflows.map(
        (w) => html`<tr data-id="${w.id}" data-status="${w.status}">
<td><a href="${workflowHref(view.base, w.id)}">${w.id}</a></td>
<td>${w.type} <small>${w.version}</small></td>
<td>${badge(w.status)}${w.cancelRequested === true && !isTerminalStatus(w.status) ? html` <small>cancel requested</small>` : ''}</td>
<td><time datetime="${iso(w.createdAt)}">${iso(w.createdAt)}</time></td>
<td><time datetime="${iso(w.updatedAt)}">${iso(w.updatedAt)}</time></td>
<td>${formatDuration((isTerminalStatus(w.status) ? w.updatedAt : view.now) - w.createdAt)}</td>
</tr>`,
      )}</tbody></table>`
}
</section>
<section class="panel">
<h2>Sleeping workflows <small>running, parked until a wake-up time</small></h2>
${
  view.sleeping.length === 0
    ? html`<p class="empty">None asleep.</p>`
    : html`<table class="sleeping" id="sleeping"><thead><tr><th>Id</th><th>Type</th><th>Wakes at</th><th>In</th></tr></thead>
<tbody>${view.sleeping.map(
        (w) => html`<tr data-id="${w.id}"><td><a href="${workflowHref(view.base, w.id)}">${w.id}</a></td><td>${w.type}</td><td><time datetime="${iso(w.wakeAt)}">${iso(w.wakeAt)}</time></td><td>${formatDuration((w.wakeAt ?? view.now) - view.now)}</td></tr>`,
      )}</tbody></table>`
}
</section>
<section class="panel">
<h2>Schedules <small>cron starts, one workflow per tick</small></h2>
${schedulesTable(view)}
</section>
<section class="panel">
<h2>Peers <small>circuit breaker per peer</small></h2>
${breakersTable(view.breakers)}
</section>`;
}

function schedulesTable(view: ListView): Html {
  if (view.schedules.length === 0) return html`<p class="empty">No schedule.</p>`;
  return html`<table class="schedules" id="schedules"><thead><tr><th>Id</th><th>Cron</th><th>Workflow</th><th>State</th><th>Next tick</th><th>Last started</th></tr></thead>
<tbody>${view.schedules.map(
    (s) =>
      html`<tr data-schedule="${s.id}"><td>${s.id}</td><td><code>${s.cron}</code>${s.timezone === undefined ? '' : html` <small>${s.timezone}</small>`}</td><td>${s.workflow}</td><td><span class="badge">${s.paused ? 'paused' : 'active'}</span></td><td>${s.nextTickAt === undefined ? '-' : html`<time datetime="${iso(s.nextTickAt)}">${iso(s.nextTickAt)}</time>`}</td><td>${s.lastWorkflowId === undefined ? '-' : html`<a href="${workflowHref(view.base, s.lastWorkflowId)}">${s.lastWorkflowId}</a>`}</td></tr>`,
  )}</tbody></table>`;
}

function breakersTable(breakers: OrchestratorStats['breakers']): Html {
  const entries = Object.entries(breakers).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return html`<p class="empty">No peer called yet.</p>`;
  return html`<table class="breakers" id="breakers"><thead><tr><th>Peer</th><th>Breaker</th><th>Openings</th></tr></thead>
<tbody>${entries.map(([key, b]) => html`<tr data-peer="${key}" data-state="${b.state}"><td>${key.startsWith('peer:') ? key.slice(5) : key}</td><td><span class="badge b-${b.state}">${b.state}</span></td><td>${b.openings}</td></tr>`)}</tbody></table>`;
}

/** The workflow page. */
export function workflowPage(view: WorkflowView): Html {
  const { base, workflow } = view;
  const id = encodeURIComponent(workflow.id);
  return layout(
    { base, node: view.node, title: `Workflow ${workflow.id}`, fragment: `${base}/fragments/workflows/${id}`, events: `${base}/events?id=${id}` },
    html`<p class="crumbs"><a href="${base}/workflows">Workflows</a> / <span>${workflow.type}</span></p>
<h1 class="wf-id">${workflow.id}</h1>
<div id="live">${workflowFragment(view)}</div>
${
  view.signals.length > 0 && !isTerminalStatus(workflow.status)
    ? html`<section class="panel"><h2>Send a signal</h2>
<form class="signal" id="signal-form" data-url="${base}/api/workflows/${id}/signal">
<label>Name <select name="name" required>${view.signals.map((name) => html`<option value="${name}">${name}</option>`)}</select></label>
<label>Payload (JSON) <textarea name="payload" rows="3">{}</textarea></label>
<button type="submit">Send signal</button>
</form></section>`
    : ''
}`,
  );
}

/** The live part of the workflow page: summary, actions, timeline, steps, input and output. */
export function workflowFragment(view: WorkflowView): Html {
  const { base, workflow: w } = view;
  const id = encodeURIComponent(w.id);
  const steps = view.steps.map((s) => ({ ...s, record: w.steps[s.name] }));
  return html`<section class="panel summary">
<dl>
<dt>Status</dt><dd id="wf-status" data-status="${w.status}">${badge(w.status)}${w.cancelRequested === true && !isTerminalStatus(w.status) ? html` <small>cancel requested</small>` : ''}</dd>
<dt>Type</dt><dd>${w.type} <small>${w.version}</small></dd>
<dt>Created</dt><dd>${iso(w.createdAt)}</dd>
<dt>Updated</dt><dd>${iso(w.updatedAt)}</dd>
${w.deadlineAt === undefined ? '' : html`<dt>Deadline</dt><dd>${iso(w.deadlineAt)}</dd>`}
${w.wakeAt === undefined ? '' : html`<dt>Wakes at</dt><dd>${iso(w.wakeAt)}</dd>`}
${w.owner === undefined ? '' : html`<dt>Owner</dt><dd>${w.owner} <small>epoch ${w.epoch}</small></dd>`}
${w.parentId === undefined ? '' : html`<dt>Parent</dt><dd><a href="${workflowHref(base, w.parentId)}">${w.parentId}</a></dd>`}
<dt>Correlation</dt><dd><code>${w.correlationId}</code></dd>
${w.error === undefined ? '' : html`<dt>Error</dt><dd class="error"><code>${w.error.code}</code> ${w.error.message}${w.error.step === undefined ? '' : html` <small>(step ${w.error.step}, ${w.error.attempts ?? 0} attempts)</small>`}</dd>`}
</dl>
<div class="actions">
${isTerminalStatus(w.status) ? '' : html`<button type="button" class="danger" data-action="cancel" data-url="${base}/api/workflows/${id}/cancel" data-confirm="Confirm cancel">Cancel workflow</button>`}
${view.canRetryCompensation && w.status === WorkflowStatus.CompensationFailed ? html`<button type="button" data-action="retry-compensation" data-url="${base}/api/workflows/${id}/retry-compensation" data-confirm="Confirm retry">Retry compensation</button>` : ''}
</div>
</section>
<section class="panel">
<h2>Timeline</h2>
${gantt(w, steps, view.now)}
</section>
<section class="panel">
<h2>Steps</h2>
<table class="steps" id="steps"><thead><tr><th>Step</th><th>Status</th><th>Attempts</th><th>Started</th><th>Duration</th><th>Errors</th><th>Compensation</th></tr></thead>
<tbody>${steps.map(({ name, record }) => stepRow(name, record, view.now))}</tbody></table>
</section>
<section class="panel io">
<div><h2>Input</h2><pre id="wf-input">${json(w.input)}</pre></div>
${w.output === undefined ? '' : html`<div><h2>Output</h2><pre id="wf-output">${json(w.output)}</pre></div>`}
</section>`;
}

function errorList(errors: readonly RecordedError[]): Html {
  if (errors.length === 0) return html``;
  return html`<ol class="errors">${errors.map((e) => html`<li><code>${e.code}</code> ${e.message}</li>`)}</ol>`;
}

function stepRow(name: string, record: StepRecord | undefined, now: number): Html {
  if (record === undefined) return html`<tr data-step="${name}" data-status="pending"><td>${name}</td><td>${badge(StepStatus.Pending)}</td><td>0</td><td></td><td></td><td></td><td></td></tr>`;
  const end = record.finishedAt ?? (record.status === StepStatus.Running ? now : undefined);
  const compensation =
    record.compensationAttempts === undefined && record.compensationError === undefined
      ? ''
      : html`${record.compensationAttempts ?? 0} attempt(s)${record.compensationWaits === undefined ? '' : html`, ${record.compensationWaits} wait(s)`}${record.compensationError === undefined ? '' : errorList([record.compensationError])}`;
  return html`<tr data-step="${name}" data-status="${record.status}">
<td>${name}</td><td>${badge(record.status)}</td><td>${record.attempts}</td><td>${iso(record.startedAt)}</td>
<td>${record.startedAt === undefined || end === undefined ? '' : formatDuration(end - record.startedAt)}</td>
<td>${errorList(record.attemptErrors)}</td><td>${compensation}</td></tr>`;
}

const LABEL_WIDTH = 180;
const CHART_WIDTH = 760;
const ROW_HEIGHT = 28;
const AXIS_HEIGHT = 22;

/**
 * The step timeline as an inline SVG Gantt chart: one row per step, its bar from `startedAt` to `finishedAt` (to now
 * while it runs), a thinner bar under it for its compensation, a dashed one for a sleep still to come. Geometry is
 * in SVG attributes, not inline styles, so the page's CSP needs no `'unsafe-inline'`.
 */
export function gantt(w: WorkflowRecord, steps: readonly { readonly name: string; readonly sleep: boolean; readonly record: StepRecord | undefined }[], now: number): Html {
  const origin = w.createdAt;
  let end = isTerminalStatus(w.status) ? w.updatedAt : Math.max(now, w.updatedAt);
  for (const { record } of steps) {
    for (const t of [record?.finishedAt, record?.compensationFinishedAt, sleepWakeAt(record)]) if (t !== undefined && t > end) end = t;
  }
  const span = Math.max(1, end - origin);
  const x = (t: number): number => LABEL_WIDTH + Math.round(((Math.min(Math.max(t, origin), end) - origin) / span) * CHART_WIDTH * 10) / 10;
  const width = LABEL_WIDTH + CHART_WIDTH + 10;
  const height = AXIS_HEIGHT + steps.length * ROW_HEIGHT + 4;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => ({ at: LABEL_WIDTH + f * CHART_WIDTH, label: formatDuration(f * span) }));
  return html`<svg class="gantt" id="gantt" role="img" aria-label="Step timeline" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">
${ticks.map((t, i) => html`<line class="tick" x1="${t.at}" y1="${AXIS_HEIGHT - 4}" x2="${t.at}" y2="${height}"></line><text class="axis" x="${t.at}" y="${AXIS_HEIGHT - 8}" text-anchor="${i === 0 ? 'start' : i === ticks.length - 1 ? 'end' : 'middle'}">${t.label}</text>`)}
${steps.map(({ name, sleep, record }, row) => {
  const y = AXIS_HEIGHT + row * ROW_HEIGHT;
  const status = record?.status ?? StepStatus.Pending;
  const started = record?.startedAt;
  const finished = record?.finishedAt ?? (status === StepStatus.Running ? Math.max(now, started ?? now) : undefined);
  const errors = record?.attemptErrors ?? [];
  const label = `${name}${(record?.attempts ?? 0) > 1 ? ` ×${record?.attempts ?? 0}` : ''}`;
  const title = [
    `${name}: ${status}`,
    record === undefined ? '' : `attempts: ${record.attempts}`,
    ...errors.map((e, i) => `attempt error ${i + 1}: ${e.code} ${e.message}`),
    record?.compensationError === undefined ? '' : `compensation error: ${record.compensationError.code} ${record.compensationError.message}`,
  ].filter((line) => line !== '');
  const wake = sleep && status === StepStatus.Running ? sleepWakeAt(record) : undefined;
  const compStart = record?.compensationStartedAt;
  const compEnd = record?.compensationFinishedAt ?? (status === StepStatus.Compensating ? Math.max(now, compStart ?? now) : undefined);
  return html`<g class="row" data-step="${name}" data-status="${status}"><title>${title.join('\n')}</title>
<text class="label" x="4" y="${y + 18}">${label}</text>
${started === undefined || finished === undefined ? html`<text class="none" x="${LABEL_WIDTH + 4}" y="${y + 18}">${status === StepStatus.Pending ? 'not started' : status.replaceAll('_', ' ')}</text>` : html`<rect class="bar s-${sleep ? 'sleep' : status}" x="${x(started)}" y="${y + 5}" width="${Math.max(2, x(finished) - x(started))}" height="14" rx="2"></rect>`}
${wake === undefined || started === undefined ? '' : html`<rect class="bar wake" x="${x(Math.max(now, started))}" y="${y + 5}" width="${Math.max(2, x(wake) - x(Math.max(now, started)))}" height="14" rx="2"></rect>`}
${errors.length === 0 || started === undefined ? '' : html`<text class="err" x="${Math.min(LABEL_WIDTH + CHART_WIDTH, x(finished ?? started) + 4)}" y="${y + 17}">${errors.length} error${errors.length === 1 ? '' : 's'}</text>`}
${compStart === undefined || compEnd === undefined ? '' : html`<rect class="bar comp s-${status}" x="${x(compStart)}" y="${y + 20}" width="${Math.max(2, x(compEnd) - x(compStart))}" height="5" rx="1"></rect>`}
</g>`;
})}
</svg>`;
}

function sleepWakeAt(record: StepRecord | undefined): number | undefined {
  const wakeAt = (record?.input as { readonly wakeAt?: unknown } | undefined)?.wakeAt;
  return typeof wakeAt === 'number' && record?.status === StepStatus.Running ? wakeAt : undefined;
}
