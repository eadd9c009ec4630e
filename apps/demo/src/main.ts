#!/usr/bin/env node
// The demo launcher: starts the order-fulfilment stack (one process per node; with `--store postgres`, replicas of the
// orchestrator and the effect nodes on one PostgreSQL), runs a scenario with a progress bar, checks the books, prints
// a summary, and stops everything. `--serve` keeps the stack up instead.
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readOwnershipJournals, takeoversOf } from './runtime/ownership-journal.js';
import { StoreKind } from './runtime/stores.js';
import { checkBooks, gatherEvidence } from './stack/books.js';
import { openDemoDatabase, type DemoDatabase } from './stack/database.js';
import { ProgressBar } from './stack/progress-bar.js';
import { runScenario, ScenarioName, SCENARIOS } from './stack/scenario.js';
import { ownershipDir, POSTGRES_TOPOLOGY, ServiceName, Stack } from './stack/stack.js';
import { defaultDataDir, operatorKeyPath, stateFilePath, writeOperatorKey, writeStackState } from './stack/state-file.js';
import { formatSummary } from './stack/summary.js';

const HELP = `Usage: pnpm demo [-- options]

Starts the ONEX order-fulfilment stack — payment provider, pricing (compute), inventory and payments (effect),
order-ledger (reducer), order-fulfilment (orchestrator), each its own process on 127.0.0.1 — runs a scenario,
checks the books and prints a summary, then stops every process.

Options:
  --store KIND         sqlite (default: a file per node) or postgres: one PostgreSQL (DATABASE_URL, else an
                       embedded one for the run), 3 orchestrator replicas and 2 of each effect node
  --orders N           orders to run (default 300; with --serve default 0)
  --scenario NAME      ${Object.entries(SCENARIOS)
    .map(([name, plan]) => `${name}: ${plan.description}`)
    .join('\n                       ')}
                       (default mixed)
  --concurrency N      orders in flight at once (default 16)
  --seed N             seed of the generated orders (default 42)
  --serve              keep the stack running (Ctrl-C stops it); use curl or the CLI against it
  --data-dir DIR       SQLite files, logs, ownership journals and stack.json (default apps/demo/.data)
  --keep-data          do not wipe the data folder first (SQLite: the orchestrator resumes what it finds)
  --no-auth            run the nodes without authentication (by default every node requires requests signed
                       with this run's random keys; the launcher and the CLI sign, plain curl gets 401)
  -h, --help           this text

Exit code: 0 when the books balance, 1 when they do not or the run failed, 130 on Ctrl-C.`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${HELP}\n`);
  process.exit(2);
}

function integer(value: string | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min} (got '${value}')`);
  return n;
}

const { values } = (() => {
  try {
    return parseArgs({
      // pnpm passes a literal `--` through (`pnpm demo -- --serve`): drop it.
      args: process.argv.slice(2).filter((a) => a !== '--'),
      options: {
        orders: { type: 'string' },
        store: { type: 'string' },
        scenario: { type: 'string' },
        concurrency: { type: 'string' },
        seed: { type: 'string' },
        serve: { type: 'boolean', default: false },
        'data-dir': { type: 'string' },
        'keep-data': { type: 'boolean', default: false },
        'no-auth': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
})();

if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const scenario = (values.scenario ?? ScenarioName.Mixed) as ScenarioName;
if (!(scenario in SCENARIOS)) fail(`unknown --scenario '${values.scenario ?? ''}'`);
const store = (values.store ?? StoreKind.Sqlite) as StoreKind;
if (!Object.values<string>(StoreKind).includes(store)) fail(`unknown --store '${values.store ?? ''}' (sqlite or postgres)`);
if (SCENARIOS[scenario].failover !== undefined && store !== StoreKind.Postgres) fail(`--scenario ${scenario} needs --store postgres (replicas share one PostgreSQL)`);
const orders = integer(values.orders, 'orders', values.serve ? 0 : 300, 0);
const concurrency = integer(values.concurrency, 'concurrency', 16, 1);
const seed = integer(values.seed, 'seed', 42, 0);
const dataDir = resolve(values['data-dir'] ?? defaultDataDir());

if (!values['keep-data']) rmSync(dataDir, { recursive: true, force: true });

const say = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

let stack: Stack | undefined;
let database: DemoDatabase | undefined;
let stopping = false;
const shutdown = async (code: number): Promise<never> => {
  if (!stopping) {
    stopping = true;
    await stack?.stop().catch(() => undefined);
    await database?.dispose().catch((error: unknown) => say(`Could not clean the database up: ${error instanceof Error ? error.message : String(error)}`));
    if (code === 130 || code === 143) say('Every process stopped.');
  }
  process.exit(code);
};
process.on('SIGINT', () => {
  say('\nStopping every process…');
  void shutdown(130);
});
process.on('SIGTERM', () => void shutdown(143));

try {
  const t0 = Date.now();
  if (store === StoreKind.Postgres) {
    say(process.env['DATABASE_URL'] ? 'Using the PostgreSQL at DATABASE_URL…' : 'Starting an embedded PostgreSQL for this run…');
    database = await openDemoDatabase();
    say(`PostgreSQL (${database.source === 'env' ? 'DATABASE_URL' : 'embedded'}): ${database.displayUrl}`);
  }
  say(`Starting the stack (logs in ${dataDir})…`);
  stack = await Stack.start({
    dataDir,
    auth: !values['no-auth'],
    env: { ONEX_LOG_LEVEL: process.env['ONEX_LOG_LEVEL'] ?? 'warn', ...database?.env },
    ...(store === StoreKind.Postgres ? POSTGRES_TOPOLOGY : {}),
  });
  const running = stack;
  const urls: Record<string, string> = {};
  const processes: [string, string][] = [];
  for (const name of Object.values(ServiceName)) {
    running.urls(name).forEach((url, replica) => {
      // `orchestrator` (the CLI's default target) is the first replica; every replica also has its own entry.
      urls[name] ??= url;
      urls[running.processName(name, replica)] = url;
      processes.push([running.processName(name, replica), url]);
    });
  }
  writeStackState(dataDir, { pid: process.pid, startedAt: new Date().toISOString(), urls });
  writeOperatorKey(dataDir, stack.operatorKeys);
  say(`Stack healthy in ${Date.now() - t0} ms:`);
  for (const [name, url] of processes) say(`  ${name.padEnd(17)} ${url}`);

  let booksOk = true;
  if (orders > 0) {
    say(`\nScenario '${scenario}': ${SCENARIOS[scenario].description}; ${orders} orders, ${concurrency} at a time`);
    const bar = new ProgressBar('orders');
    const result = await runScenario({
      stack,
      scenario,
      orders,
      concurrency,
      seed,
      onProgress: (done, total) => bar.update(done, total),
      onEvent: (what) => {
        bar.note(what);
        if (!process.stderr.isTTY) say(`  ${what}`);
      },
    });
    bar.done();
    const evidence = await gatherEvidence(stack, result.outcomes);
    const books = checkBooks(result.outcomes, evidence);
    booksOk = books.ok;
    const takeovers = takeoversOf(readOwnershipJournals(ownershipDir(dataDir))).filter((t) => evidence.workflows.has(t.id));
    process.stdout.write(formatSummary(result, books, [...evidence.workflows.values()], takeovers));
  }

  if (values.serve) {
    const orchestrator = stack.url(ServiceName.Orchestrator);
    say(`
Serving until Ctrl-C. State: ${stateFilePath(dataDir)}
${stack.operatorKeys === undefined ? 'Authentication is off (--no-auth): curl works against every node.' : `Every node but /health requires signed requests: the CLI signs with this run's key (${operatorKeyPath(dataDir)}); start with --no-auth to use curl.`}
  pnpm --filter @onex/demo cli submit --sku BOOK-TS:2 --sku MUG-ONEX:1
  pnpm --filter @onex/demo cli list --status completed,compensated
  pnpm --filter @onex/demo cli status <workflow-id>
  curl -s ${orchestrator}/health
  curl -s -XPOST -H 'content-type: application/json' -d '{"outage":true}' ${stack.url(ServiceName.Provider)}/admin/config`);
    // Keep the event loop alive until a signal arrives.
    setInterval(() => undefined, 1 << 30);
    await new Promise<never>(() => undefined);
  }
  say(booksOk ? 'Stopping every process… done.' : 'The books do not balance: see above.');
  await shutdown(booksOk ? 0 : 1);
} catch (error) {
  say(`\nThe demo failed: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof Error && error.cause instanceof Error) say(`  cause: ${error.cause.message}`);
  say(`Logs: ${resolve(dataDir, 'logs')}`);
  await shutdown(1);
}
