// End to end: the whole stack as separate processes on free ports, in a temporary data folder, with declines,
// fraud refusals, damaged goods, a payment-provider outage and an orchestrator SIGKILL + restart — then the books
// must balance. The processes run the built JavaScript (`turbo run build` first, as CI does); without it this fails.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chargeKey } from '../src/domain/payments.js';
import { checkBooks, gatherEvidence, type BooksEvidence, type BooksReport } from '../src/stack/books.js';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { signRequest } from '@onex/core';
import { requestJson } from '../src/stack/http-json.js';
import { runScenario, SCENARIOS, type ScenarioResult } from '../src/stack/scenario.js';
import { ServiceName, Stack } from '../src/stack/stack.js';

const distDir = fileURLToPath(new URL('../dist', import.meta.url));
const built = existsSync(join(distDir, 'nodes', 'orchestrator.js'));
const dataDir = mkdtempSync(join(tmpdir(), 'onex-demo-e2e-'));
const ORDERS = 60;

let stack: Stack | undefined;
let pids: Readonly<Record<string, number>> = {};
let result: ScenarioResult;
let evidence: BooksEvidence;
let books: BooksReport;
let scrapedBefore: Map<string, ParsedFamily[]>;
let scrapedAfter: Map<string, ParsedFamily[]>;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A Prometheus scrape of every node of the stack (signed, as the stack runs with authentication), parsed. */
async function scrapeAll(): Promise<Map<string, ParsedFamily[]>> {
  const scrapes = new Map<string, ParsedFamily[]>();
  const keyring = stack!.authOption().auth?.keyring;
  for (const name of [ServiceName.Orchestrator, ServiceName.Pricing, ServiceName.Inventory, ServiceName.Payments, ServiceName.Ledger]) {
    const url = new URL('/metrics', stack!.url(name));
    const key = keyring?.signingKey(Date.now());
    const headers = key === undefined ? {} : signRequest(key, { method: 'GET', path: url.pathname, now: Date.now() });
    const response = await fetch(url, { headers });
    expect(response.status, name).toBe(200);
    expect(response.headers.get('content-type'), name).toMatch(/^text\/plain; version=0\.0\.4/);
    scrapes.set(name, parsePrometheusTextFormat(await response.text()));
  }
  return scrapes;
}

/** The sum of a counter family's samples (optionally only those with `labels`). */
function total(families: readonly ParsedFamily[] | undefined, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const family = families?.find((f) => f.name === name);
  let sum = 0;
  for (const sample of family?.metrics ?? []) {
    if (Object.entries(labels).every(([k, v]) => sample.labels?.[k] === v)) sum += Number(sample.value ?? 0);
  }
  return sum;
}

beforeAll(async () => {
  if (!built) return;
  // Seeded provider and fixed order ids: the same declines and damaged orders on every run.
  stack = await Stack.start({ dataDir, distDir, providerSettings: { seed: '7' }, env: { ONEX_LOG_LEVEL: 'warn' } });
  scrapedBefore = await scrapeAll();
  result = await runScenario({ stack, scenario: 'all', orders: ORDERS, concurrency: 8, seed: 7, orderPrefix: 'e2e', plan: { ...SCENARIOS.all, declineRate: 0.12 } });
  scrapedAfter = await scrapeAll();
  pids = stack.pids();
  evidence = await gatherEvidence(stack, result.outcomes);
  books = checkBooks(result.outcomes, evidence);
}, 90_000);

afterAll(async () => {
  // Stops every child even when a test failed; the data folder goes too.
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('demo stack end to end', () => {
  it('has the built demo to spawn', () => {
    expect(built, 'run `pnpm turbo run build --filter=@onex/demo...` first: the stack runs apps/demo/dist').toBe(true);
  });

  it('finishes every order, some completed and some compensated, across the injected failures', () => {
    expect(result.outcomes).toHaveLength(ORDERS);
    const statuses = new Set(result.outcomes.map((o) => o.status));
    expect(statuses.has('completed')).toBe(true);
    expect(statuses.has('compensated')).toBe(true);
    expect(result.events.map((e) => e.what)).toEqual(
      expect.arrayContaining([expect.stringContaining('outage starts'), expect.stringContaining('killed with SIGKILL'), expect.stringContaining('restarted')]),
    );
    // The restarted orchestrator picked up what the killed one left running.
    expect(result.orchestrator.recovered).toBeGreaterThan(0);
  });

  it('answers a Prometheus scrape on every node that a real exposition-format parser reads, and the metrics moved as orders ran', () => {
    for (const [name, families] of scrapedAfter) {
      expect(families.length, name).toBeGreaterThan(5);
      // Node calls are `POST /v1/process`: the orchestrator takes its orders on /v1/workflows instead.
      if (name === ServiceName.Orchestrator) continue;
      expect(total(families, 'onex_node_calls_total'), name).toBeGreaterThan(total(scrapedBefore.get(name), 'onex_node_calls_total'));
    }
    // The orchestrator died and restarted in this scenario: its counters restarted too, so only the moves since.
    const orchestrator = scrapedAfter.get(ServiceName.Orchestrator);
    expect(total(orchestrator, 'onex_orchestrator_workflows_started_total')).toBeGreaterThan(0);
    expect(total(orchestrator, 'onex_orchestrator_workflows_finished_total')).toBeGreaterThan(0);
    expect(total(scrapedAfter.get(ServiceName.Payments), 'onex_node_calls_total')).toBeGreaterThan(ORDERS / 2);
  });

  it('balances the books', () => {
    for (const check of books.checks) expect(check.problems, check.name).toEqual([]);
    expect(books.ok).toBe(true);
  });

  it('put back the stock of every compensated order, and conserved stock per SKU', () => {
    for (const level of evidence.stock) {
      expect(level.available + level.reserved + level.committed, level.sku).toBe(level.initial);
      expect(level.reserved, level.sku).toBe(0);
    }
    for (const o of result.outcomes.filter((x) => x.status !== 'completed')) {
      expect(['released', undefined], o.order.orderId).toContain(evidence.reservations.get(o.order.orderId)?.status);
    }
  });

  it('never keeps money for an order that did not complete, and never charges an order twice', () => {
    const entries = evidence.provider.entries;
    for (const o of result.outcomes) {
      const entry = entries.find((e) => e.key === chargeKey(o.order.orderId));
      if (o.status === 'completed') expect(entry?.status, o.order.orderId).toBe('succeeded');
      else expect(['declined', 'refunded', 'voided', undefined], o.order.orderId).toContain(entry?.status);
    }
    const taken = entries.filter((e) => e.status === 'succeeded' || e.status === 'refunded').map((e) => e.orderId);
    expect(new Set(taken).size).toBe(taken.length);
    expect(evidence.provider.stats.declines).toBeGreaterThan(0);
    expect(evidence.provider.stats.rejectedDuringOutage).toBeGreaterThan(0);
  });

  it("has each order's ledger state match its workflow's final status", () => {
    for (const o of result.outcomes) {
      const record = evidence.workflows.get(o.workflowId)!;
      const ledger = evidence.ledger.get(o.order.orderId);
      if (record.status === 'completed') expect(ledger, o.order.orderId).toBe('fulfilled');
      else if (record.steps['ledger-paid']?.status === 'completed') expect(ledger, o.order.orderId).toBe('refunded');
      else expect(ledger, o.order.orderId).toBe('cancelled');
    }
  });

  it('answers the CLI: status, list, signal, schedules', async () => {
    const some = result.outcomes[0]!;
    const cli = join(distDir, 'cli.js');
    const url = stack!.url(ServiceName.Orchestrator);
    // The stack runs with authentication: the CLI signs with the run's operator key. Run asynchronously, so this
    // process's pooled connections stay serviced while the CLI runs.
    const env = { ...process.env, ONEX_AUTH_KEYS: stack!.operatorKeys ?? '' };
    const run = (...args: string[]) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [cli, ...args, '--url', url], { encoding: 'utf8', env }, (error, stdout, stderr) =>
          resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
        );
      });
    const status = await run('status', some.workflowId);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toContain(`Workflow ${some.workflowId}`);
    expect(status.stdout).toContain('ledger-open');
    const list = await run('list', '--status', 'completed', '--limit', '3', '--json');
    expect(list.status, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveLength(3);
    // The run's books-check schedule is there; a signal to a finished workflow is refused, a bad payload too.
    const schedules = await run('schedules', 'list', '--json');
    expect(schedules.status, schedules.stderr).toBe(0);
    expect((JSON.parse(schedules.stdout) as { id: string; cron: string }[]).map((s) => [s.id, s.cron])).toEqual([['reconcile-books', '*/10 * * * * *']]);
    const late = await run('signal', some.workflowId, 'shipped', '{"carrier":"dhl","trackingId":"TRK-999999"}', '--signal-id', 'cli-late');
    expect(late.status).toBe(1);
    expect(late.stderr).toContain('CONFLICT');
    const bad = await run('signal', some.workflowId, 'shipped', '{"carrier":"bike"}');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('BAD_REQUEST');
    const health = await requestJson<{ status: string }>(`${url}/health`);
    expect(['healthy', 'degraded']).toContain(health.status);
  }, 120_000); // six CLI processes, each a Node start-up: seconds apiece on a busy machine

  it('ran the books check on its schedule while orders ran, and shipped what the warehouse confirmed', () => {
    expect(result.reconciliation.runs).toBeGreaterThan(0);
    expect(result.reconciliation.unbalanced).toBe(0);
    const { onTime, late, never, duplicates } = result.shipping;
    expect(onTime + late + never).toBe(ORDERS);
    expect(late + never).toBeGreaterThan(0);
    expect(duplicates).toBeGreaterThan(0);
    // An order the warehouse never (or too late) confirmed did not complete: its wait timed out and the saga ran.
    const timedOut = result.outcomes.filter((o) => evidence.workflows.get(o.workflowId)?.steps['shipped']?.error?.code === 'TIMEOUT');
    expect(timedOut.length).toBeGreaterThan(0);
    for (const o of timedOut) expect(o.status, o.order.orderId).toBe('compensated');
  });

  it('runs every node with authentication: unsigned requests get 401, the operator key passes', async () => {
    for (const name of [ServiceName.Orchestrator, ServiceName.Pricing, ServiceName.Inventory, ServiceName.Payments, ServiceName.Ledger]) {
      const url = stack!.url(name);
      await expect(requestJson(`${url}/metrics.json`), name).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      await expect(requestJson(`${url}/metrics.json`, stack!.authOption()), name).resolves.toBeDefined();
    }
    const orchestrator = stack!.url(ServiceName.Orchestrator);
    await expect(requestJson(`${orchestrator}/v1/workflows`, { body: { type: 'order-fulfilment', input: {} } })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    // The dashboard's pages are open to a browser; its actions (POSTs) are not, unsigned.
    const page = await fetch(`${orchestrator}/ui/workflows?type=reconcile-books`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('reconcile-books');
    const cancel = await fetch(`${orchestrator}/ui/api/workflows/${encodeURIComponent(result.outcomes[0]!.workflowId)}/cancel`, { method: 'POST', headers: { 'x-onex-ui': '1', 'content-type': 'application/json' }, body: '{}' });
    expect(cancel.status).toBe(401);
  });

  it('leaves no process behind once stopped', async () => {
    await stack!.stop();
    expect(Object.keys(pids)).toHaveLength(6);
    for (const [name, pid] of Object.entries(pids)) expect(alive(pid), name).toBe(false);
  });
});
