import { request } from 'node:http';
import { createSilentLogger } from '@onex/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DASHBOARD_CSP, type WorkflowChange } from '../src/index.js';
import { WorkflowChanges } from '../src/engine/workflow-changes.js';
import { gantt } from '../src/ui/pages.js';
import { orderWorkflow, startDashboardStack, type DashboardStack } from './dashboard-fixture.js';

let stack: DashboardStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const ui = (path: string, init?: RequestInit) => fetch(`${stack!.served.url}/ui${path}`, init);
const action = (path: string, headers: Record<string, string> = { 'x-onex-ui': '1' }) => ui(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });

/** Opens an event stream and collects its events until `close()`; `gone` resolves once the socket closed. */
function openStream(path: string) {
  const events: string[] = [];
  let destroy: () => void = () => undefined;
  const ready = new Promise<number>((resolve, reject) => {
    const req = request(`${stack!.served.url}/ui${path}`, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line.startsWith('event: ')) events.push(line.slice(7));
      });
      res.on('error', () => undefined);
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (error) => (events.length === 0 ? reject(error) : undefined));
    req.end();
    destroy = () => req.destroy();
  });
  return { events, ready, close: () => destroy() };
}

describe('dashboard pages', () => {
  it('lists workflows with server-side status and type filters, under a strict CSP', async () => {
    stack = await startDashboardStack();
    const o = stack.orchestrator;
    const held = await o.start(orderWorkflow, { value: 1 });
    await stack.gate.arrived(1);
    const napping = await o.start('nap', { value: 2 });
    await vi.waitFor(async () => expect((await o.get(napping)).wakeAt).toBeDefined());

    const all = await ui('/workflows');
    expect(all.status).toBe(200);
    expect(all.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain('unsafe-inline');
    expect(all.headers.get('x-content-type-options')).toBe('nosniff');
    const page = await all.text();
    expect(page).toContain(`data-id="${held}"`);
    expect(page).toContain(`data-id="${napping}"`);
    expect(page).not.toMatch(/<script>(?!<\/script>)|<script(?![^>]*src=)[^>]*>/);
    // The sleeping section shows the nap (running, parked until tomorrow).
    expect(page).toMatch(new RegExp(`id="sleeping"[\\s\\S]*data-id="${napping}"`));

    const naps = await (await ui('/workflows?type=nap')).text();
    expect(naps).toContain(`data-id="${napping}"`);
    expect(naps).not.toContain(`data-id="${held}"`);
    const pending = await (await ui('/fragments/workflows?status=completed')).text();
    expect(pending).toContain('No workflow matches.');

    const bad = await ui('/workflows?status=%3Cb%3E');
    expect(bad.status).toBe(422);
    const badPage = await bad.text();
    expect(badPage).toContain('&lt;b&gt;');
    expect(badPage).not.toContain('<b>');
  });

  it('escapes workflow input, ids and errors: <script> shows as text', async () => {
    stack = await startDashboardStack();
    // Whatever the run makes of such an id (a peer may refuse the idempotency key it is part of), the page escapes it.
    const id = await stack.orchestrator.start(orderWorkflow, { value: 1, note: '<script>alert(1)</script>"\'&' }, { id: 'wf-<img src=x onerror=alert(2)>' });
    const res = await ui(`/workflows/${encodeURIComponent(id)}`);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('wf-&lt;img src=x onerror=alert(2)&gt;');
    expect(page).not.toContain('<script>alert(1)');
    expect(page).not.toContain('<img src=x');
    // The only script is the dashboard's own file.
    expect([...page.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual(['<script src="/ui/app.js" defer>']);
  });

  it('shows the schedules with their cron and next tick', async () => {
    stack = await startDashboardStack();
    expect(await (await ui('/workflows')).text()).toContain('No schedule.');
    await stack.orchestrator.schedules.create({ id: 'nightly-nap', cron: '0 2 * * *', timezone: 'Europe/Stockholm', workflow: 'nap', input: { value: 1 } });
    await stack.orchestrator.schedules.create({ id: 'paused-nap', cron: '*/5 * * * *', workflow: 'nap', input: { value: 1 } });
    await stack.orchestrator.schedules.pause('paused-nap');
    const page = await (await ui('/workflows')).text();
    expect(page).toMatch(/id="schedules"[\s\S]*data-schedule="nightly-nap"[\s\S]*<code>0 2 \* \* \*<\/code> <small>Europe\/Stockholm<\/small>[\s\S]*active/);
    expect(page).toMatch(/data-schedule="paused-nap"[\s\S]*paused/);
  });

  it('answers 404 as an escaped page for an unknown workflow', async () => {
    stack = await startDashboardStack();
    const res = await ui(`/workflows/${encodeURIComponent('<nope>')}`);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('Workflow &lt;nope&gt; not found');
  });

  it('draws the timeline from step times: a running bar, a sleep still to come, errors and compensation', async () => {
    const now = 10_000;
    const svg = (
      await gantt(
        { id: 'w', type: 't', version: '1', status: 'running', input: null, correlationId: 'c', createdAt: 0, updatedAt: 5_000, epoch: 1, steps: {} },
        [
          { name: 'done', sleep: false, record: { name: 'done', status: 'compensated', attempts: 3, attemptErrors: [{ code: 'UNAVAILABLE', message: 'down', retryable: true }, { code: 'TIMEOUT', message: 'slow', retryable: true }], startedAt: 0, finishedAt: 2_000, compensationStartedAt: 6_000, compensationFinishedAt: 8_000 } },
          { name: 'run', sleep: false, record: { name: 'run', status: 'running', attempts: 1, attemptErrors: [], startedAt: 5_000 } },
          { name: 'nap', sleep: true, record: { name: 'nap', status: 'running', attempts: 1, attemptErrors: [], startedAt: 5_000, input: { wakeAt: 20_000 } } },
          { name: 'later', sleep: false, record: undefined },
        ],
        now,
      )
    ).toString();
    // The span runs to the sleep's wake-up (20 s): 760 px for 20 s after the 180 px labels.
    expect(svg).toContain('<rect class="bar s-compensated" x="180" y="27" width="76"');
    expect(svg).toContain('done ×3');
    expect(svg).toContain('2 errors');
    expect(svg).toContain('attempt error 2: TIMEOUT slow');
    expect(svg).toContain('<rect class="bar comp s-compensated" x="408" y="42" width="76"');
    expect(svg).toContain('<rect class="bar s-running" x="370" y="55" width="190"');
    expect(svg).toContain('<rect class="bar wake" x="560" y="83" width="380"');
    expect(svg).toMatch(/data-step="later" data-status="pending">[\s\S]*not started/);
  });
});

describe('dashboard actions', () => {
  it('cancels through the POST, and refuses a POST without the action header or from another origin', async () => {
    stack = await startDashboardStack();
    const id = await stack.orchestrator.start(orderWorkflow, { value: 1 });
    await stack.gate.arrived(1);
    const path = `/api/workflows/${encodeURIComponent(id)}/cancel`;

    const noHeader = await action(path, {});
    expect(noHeader.status).toBe(403);
    expect(await noHeader.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect((await action(path, { 'x-onex-ui': '1', origin: 'http://evil.example' })).status).toBe(403);
    expect((await action(path, { 'x-onex-ui': '1', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await stack.orchestrator.get(id)).cancelRequested).toBeUndefined();

    const res = await action(path, { 'x-onex-ui': '1', origin: stack.served.url, 'sec-fetch-site': 'same-origin' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id, status: 'cancelled' });
    expect((await stack.orchestrator.get(id)).steps['reserve']).toMatchObject({ status: 'compensated' });
  });

  it('retries a compensation_failed compensation through the POST', async () => {
    stack = await startDashboardStack();
    const o = stack.orchestrator;
    const id = await o.start('broken-saga', { value: 1 });
    expect((await o.result(id)).status).toBe('compensation_failed');
    const page = await (await ui(`/workflows/${encodeURIComponent(id)}`)).text();
    expect(page).toContain('data-action="retry-compensation"');
    const path = `/api/workflows/${encodeURIComponent(id)}/retry-compensation`;
    expect((await action(path, {})).status).toBe(403);
    stack.refuse.script = {};
    const res = await action(path);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ id, status: 'retrying' });
    expect((await o.result(id)).status).toBe('compensated');
    expect(await (await ui(`/fragments/workflows/${encodeURIComponent(id)}`)).text()).not.toContain('data-action="retry-compensation"');
    const again = await action(path);
    expect(again.status).toBe(409);
  });

  it('asks authorize for every page and action', async () => {
    const asked: string[] = [];
    stack = await startDashboardStack({
      authorize: (c, request) => {
        asked.push(`${request.action}:${request.workflowId ?? ''}`);
        return request.action === 'view' || c.req.header('authorization') === 'Bearer ops';
      },
    });
    const id = await stack.orchestrator.start(orderWorkflow, { value: 1 });
    await stack.gate.arrived(1);
    expect((await ui('/workflows')).status).toBe(200);
    const path = `/api/workflows/${encodeURIComponent(id)}/cancel`;
    expect((await action(path)).status).toBe(403);
    expect((await stack.orchestrator.get(id)).status).toBe('running');
    expect((await action(path, { 'x-onex-ui': '1', authorization: 'Bearer ops' })).status).toBe(200);
    expect(asked).toEqual(['view:', `cancel:${id}`, `cancel:${id}`]);
  });

  it('sends a signal through the POST, checked by the wait\'s schema; an injected sender replaces the engine\'s', async () => {
    stack = await startDashboardStack();
    const o = stack.orchestrator;
    const id = await o.start('approval', { value: 1 });
    await vi.waitFor(async () => expect((await o.get(id)).steps['approved']?.status).toBe('running'));
    const page = await (await ui(`/workflows/${encodeURIComponent(id)}`)).text();
    expect(page).toContain('id="signal-form"');
    expect(page).toContain('<option value="approved">approved</option>');
    // A workflow that waits for nothing offers no form.
    const order = await o.start(orderWorkflow, { value: 1 });
    await stack.gate.arrived(1);
    expect(await (await ui(`/workflows/${encodeURIComponent(order)}`)).text()).not.toContain('signal-form');

    const send = (body: unknown, headers: Record<string, string> = { 'x-onex-ui': '1' }) =>
      ui(`/api/workflows/${encodeURIComponent(id)}/signal`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    expect((await send({ name: 'approved', payload: { by: 'ops' } }, {})).status).toBe(403);
    expect((await send({ payload: 1 })).status).toBe(422);
    const wrong = await send({ name: 'approved', payload: { by: 42 } });
    expect(wrong.status).toBe(422);
    expect((await o.get(id)).status).toBe('running');
    const ok = await send({ name: 'approved', payload: { by: '<ops>' } });
    expect(ok.status).toBe(202);
    expect(await ok.json()).toMatchObject({ id, status: 'signalled', result: { duplicate: false } });
    expect(await o.result(id)).toMatchObject({ status: 'completed', output: { by: '<ops>' } });
    await stack.close();

    const sent: unknown[] = [];
    stack = await startDashboardStack({ signal: async (...args) => void sent.push(args) });
    const other = await stack.orchestrator.start('approval', { value: 1 });
    const res = await ui(`/api/workflows/${encodeURIComponent(other)}/signal`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-onex-ui': '1' },
      body: JSON.stringify({ name: 'approved', payload: { by: 'audit' } }),
    });
    expect(res.status).toBe(202);
    expect(sent).toEqual([[other, 'approved', { by: 'audit' }]]);
  });
});

describe('dashboard live updates', () => {
  it('streams the changes of a workflow as it runs, and removes the stream when the client goes', async () => {
    stack = await startDashboardStack({ maxConnections: 2 });
    const o = stack.orchestrator;
    const id = await o.start(orderWorkflow, { value: 1 });
    await stack.gate.arrived(1);
    const stream = openStream(`/events?id=${encodeURIComponent(id)}`);
    const other = openStream('/events');
    expect(await stream.ready).toBe(200);
    expect(await other.ready).toBe(200);
    await vi.waitFor(() => expect(stream.events).toContain('ready'));
    // At the limit: one more stream is refused.
    expect((await ui('/events')).status).toBe(503);

    stack.gate.release();
    await o.result(id);
    await vi.waitFor(() => expect(stream.events.filter((e) => e === 'change').length).toBeGreaterThan(0));
    // Another workflow's changes do not reach a workflow page's stream.
    const before = stream.events.length;
    const second = await o.start(orderWorkflow, { value: 2 });
    await stack.gate.arrived(2);
    await vi.waitFor(() => expect(other.events.filter((e) => e === 'change').length).toBeGreaterThan(1));
    expect(stream.events.length).toBe(before);
    expect(second).not.toBe(id);

    stream.close();
    other.close();
    // Both streams are gone from the server once their sockets closed: a new one is accepted again, twice.
    await vi.waitFor(async () => {
      const again = [openStream('/events'), openStream('/events')];
      const statuses = await Promise.all(again.map((s) => s.ready));
      for (const s of again) s.close();
      expect(statuses).toEqual([200, 200]);
    });
  });

  it('bounds the change feed and isolates a throwing watcher', () => {
    const logger = createSilentLogger();
    const changes = new WorkflowChanges(logger, 2);
    const seen: WorkflowChange[] = [];
    const stopThrowing = changes.watch(() => {
      throw new Error('boom');
    });
    const stop = changes.watch((c) => seen.push(c));
    expect(() => changes.watch(() => undefined)).toThrow(expect.objectContaining({ code: 'OVERLOADED' }));
    changes.emit('a', 'running');
    changes.emit('b');
    expect(seen).toEqual([{ id: 'a', status: 'running' }, { id: 'b' }]);
    stopThrowing();
    stop();
    stop();
    expect(changes.size).toBe(0);
  });

  it('tells watchers of a start, of every commit of the run and of the cancel request', async () => {
    stack = await startDashboardStack();
    const o = stack.orchestrator;
    const seen: WorkflowChange[] = [];
    const stop = o.watch((c) => seen.push(c));
    const id = await o.start(orderWorkflow, { value: 1 });
    await stack.gate.arrived(1);
    stack.gate.release();
    await o.result(id);
    const statuses = seen.filter((c) => c.id === id).map((c) => c.status);
    // Run here at once, it is created running: the create records its first dispatch (one commit fewer).
    expect(statuses[0]).toBe('running');
    expect(statuses).toContain('running');
    expect(statuses.at(-1)).toBe('completed');
    const cancelled = await o.start(orderWorkflow, { value: 2 });
    await stack.gate.arrived(2);
    const count = seen.length;
    await o.cancel(cancelled);
    expect(seen.slice(count).map((c) => c.status)).toEqual(expect.arrayContaining(['running', 'compensating', 'cancelled']));
    stop();
    const after = seen.length;
    const nap = await o.start('nap', { value: 3 });
    await vi.waitFor(async () => expect((await o.get(nap)).wakeAt).toBeDefined());
    expect(seen.length).toBe(after);
  });
});
