// End to end on PostgreSQL: the stack with 3 orchestrator replicas and 2 replicas of each effect node on the vitest
// globalSetup's PostgreSQL (schemas of its own, dropped afterwards), scenario `failover` — an orchestrator replica
// SIGKILLed and restarted, another SIGSTOPped past its lease until the others took its workflows over, then SIGCONTed,
// a payments replica SIGKILLed and restarted — then the books must balance and the takeovers be reported. The
// processes run the built JavaScript (`turbo run build` first, as CI does); without it this fails.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkflowRecord } from '@onex/orchestrator';
import { postgresUrl } from '@onex/test-postgres/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOwnershipJournals, takeoversOf, type Takeover } from '../src/runtime/ownership-journal.js';
import { checkBooks, gatherEvidence, type BooksReport } from '../src/stack/books.js';
import { openDemoDatabase, type DemoDatabase } from '../src/stack/database.js';
import { runScenario, type ScenarioResult } from '../src/stack/scenario.js';
import { ownershipDir, POSTGRES_TOPOLOGY, ServiceName, Stack } from '../src/stack/stack.js';
import { formatSummary } from '../src/stack/summary.js';

const distDir = fileURLToPath(new URL('../dist', import.meta.url));
const built = existsSync(join(distDir, 'nodes', 'orchestrator.js'));
const dataDir = mkdtempSync(join(tmpdir(), 'onex-demo-failover-'));
const ORDERS = 48;
const INSTANCES = ['orchestrator-1', 'orchestrator-2', 'orchestrator-3'];

let database: DemoDatabase | undefined;
let stack: Stack | undefined;
let pids: Readonly<Record<string, number>> = {};
let result: ScenarioResult;
let records: WorkflowRecord[];
let books: BooksReport;
let takeovers: Takeover[];
let summary: string;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  if (!built) return;
  database = await openDemoDatabase({ env: { DATABASE_URL: postgresUrl() } });
  stack = await Stack.start({ dataDir, distDir, providerSettings: { seed: '7' }, env: { ONEX_LOG_LEVEL: 'warn', ...database.env }, ...POSTGRES_TOPOLOGY });
  result = await runScenario({ stack, scenario: 'failover', orders: ORDERS, concurrency: 8, seed: 7, orderPrefix: 'pgf' });
  pids = stack.pids();
  const evidence = await gatherEvidence(stack, result.outcomes);
  books = checkBooks(result.outcomes, evidence);
  records = [...evidence.workflows.values()];
  takeovers = takeoversOf(readOwnershipJournals(ownershipDir(dataDir))).filter((t) => evidence.workflows.has(t.id));
  summary = formatSummary(result, books, records, takeovers);
}, 90_000);

afterAll(async () => {
  // Stops every child even when a test failed; the run's schemas and the data folder go too.
  await stack?.stop();
  await database?.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('demo stack on PostgreSQL, replicas failing over', () => {
  it('has the built demo to spawn', () => {
    expect(built, 'run `pnpm turbo run build --filter=@onex/demo...` first: the stack runs apps/demo/dist').toBe(true);
  });

  it('finishes every order across the kills and the freeze', () => {
    expect(result.outcomes).toHaveLength(ORDERS);
    expect(result.events.map((e) => e.what)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('orchestrator-1 killed with SIGKILL'),
        expect.stringContaining('orchestrator-1 restarted'),
        expect.stringMatching(/orchestrator-[23] frozen with SIGSTOP/),
        expect.stringContaining('the others had taken over what it held'),
        expect.stringContaining('payments-2 killed with SIGKILL'),
        expect.stringContaining('payments-2 restarted'),
      ]),
    );
  });

  it('balances the books', () => {
    for (const check of books.checks) expect(check.problems, check.name).toEqual([]);
    expect(books.ok).toBe(true);
  });

  it('reports which instance finished which workflow, and every takeover', () => {
    for (const record of records) expect(INSTANCES, record.id).toContain(record.owner);
    expect(takeovers.length).toBeGreaterThan(0);
    for (const takeover of takeovers) {
      expect(INSTANCES).toContain(takeover.to);
      expect(takeover.to).not.toBe(takeover.from);
    }
    expect(Object.keys(result.orchestrator.instances).sort()).toEqual(INSTANCES);
    expect(summary).toContain(`Takeovers: ${takeovers.length}`);
    for (const takeover of takeovers) expect(summary).toContain(`${takeover.from} → ${takeover.to}`);
  });

  it('leaves no process behind once stopped', async () => {
    await stack!.stop();
    expect(Object.keys(pids).sort()).toEqual(
      [
        ServiceName.Provider,
        ServiceName.Pricing,
        ServiceName.Ledger,
        'inventory-1',
        'inventory-2',
        'payments-1',
        'payments-2',
        ...INSTANCES,
      ].sort(),
    );
    for (const [name, pid] of Object.entries(pids)) expect(alive(pid), name).toBe(false);
  });
});
