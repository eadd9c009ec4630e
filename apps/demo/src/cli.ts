#!/usr/bin/env node
// The demo CLI: submit an order, show a workflow's status and timeline, list workflows, cancel one, signal one,
// and manage schedules — over the orchestrator's HTTP API. The URL comes from the launcher's state file (`pnpm demo -- --serve`) or `--url`.
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isOnexError, Keyring, type ClientAuthOptions } from '@onex/core';
import { SKUS } from './domain/catalog.js';
import { Order } from './domain/order.js';
import { OrchestratorApi } from './stack/orchestrator-api.js';
import { defaultDataDir, operatorKeyPath, readOperatorKey, readStackState, stateFilePath } from './stack/state-file.js';
import { formatTimeline } from './stack/summary.js';

const HELP = `Usage: pnpm --filter @onex/demo cli <command> [options]

Requests are signed with ONEX_AUTH_KEYS (a key with the workflows:start and workflows:admin scopes) when set,
else with the key the launcher wrote to ${operatorKeyPath(defaultDataDir())}.

Commands:
  submit [--sku SKU:QTY]... [--customer ID] [--country FR|DE|NL|GB|US] [--coupon CODE] [--order-id ID] [--no-wait]
                         start an order-fulfilment workflow (default: one BOOK-TS), wait for it, print its timeline
  status ID              a workflow's status and step timeline
  timeline ID            the same as status
  list [--status a,b] [--limit N]
                         workflows, newest first
  cancel ID              cancel a workflow (completed steps are compensated)
  signal ID NAME [JSON] [--signal-id ID]
                         send a signal to a workflow, e.g. the warehouse's
                         signal ID shipped '{"carrier":"dhl","trackingId":"TRK-123456"}'
  schedules [list]       the schedules (the demo's books check runs every 10 s)
  schedules pause|resume|delete ID

Options:
  --url URL              the orchestrator (default: from ${stateFilePath(defaultDataDir())})
  --data-dir DIR         where the launcher wrote stack.json and the run's key
  --json                 print raw JSON
  -h, --help

SKUs: ${SKUS.join(', ')}`;

function die(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

const { values, positionals } = (() => {
  try {
    return parseArgs({
      args: process.argv.slice(2).filter((a) => a !== '--'),
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        'data-dir': { type: 'string' },
        sku: { type: 'string', multiple: true },
        customer: { type: 'string' },
        country: { type: 'string' },
        coupon: { type: 'string' },
        'order-id': { type: 'string' },
        'no-wait': { type: 'boolean', default: false },
        status: { type: 'string' },
        'signal-id': { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return die(`${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
  }
})();

const [command, id, third, fourth] = positionals;
if (values.help || command === undefined) {
  process.stdout.write(`${HELP}\n`);
  process.exit(values.help ? 0 : 2);
}

function orchestratorUrl(): string {
  if (values.url !== undefined) return values.url.replace(/\/$/, '');
  const dataDir = resolve(values['data-dir'] ?? defaultDataDir());
  const state = readStackState(dataDir);
  if (state === undefined) die(`No running stack found (${stateFilePath(dataDir)}): start one with \`pnpm demo -- --serve\`, or pass --url`);
  const url = state.urls['orchestrator'];
  if (url === undefined) die(`${stateFilePath(dataDir)} names no orchestrator`);
  return url;
}

/** The key to sign with: ONEX_AUTH_KEYS, else the launcher's operator key (none when the stack runs without auth). */
function signing(): { auth?: ClientAuthOptions } {
  const fromEnv = Keyring.fromEnv();
  const written = fromEnv === undefined ? readOperatorKey(resolve(values['data-dir'] ?? defaultDataDir())) : undefined;
  const keyring = fromEnv ?? (written === undefined ? undefined : Keyring.parse(written));
  return keyring === undefined ? {} : { auth: { keyring } };
}

const api = new OrchestratorApi(orchestratorUrl(), signing());
const print = (value: unknown): void => {
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);
};
const needId = (): string => id ?? die(`${command} needs a workflow id`);

async function showTimeline(workflowId: string): Promise<void> {
  const record = await api.get(workflowId);
  print(values.json ? record : formatTimeline(record));
}

try {
  switch (command) {
    case 'submit': {
      const lines = (values.sku ?? ['BOOK-TS:1']).map((spec) => {
        const [sku, qty] = spec.split(':');
        return { sku, quantity: Number(qty ?? '1') };
      });
      const parsed = Order.safeParse({
        orderId: values['order-id'] ?? `cli-${randomUUID().slice(0, 8)}`,
        customerId: values.customer ?? 'cli-customer',
        country: values.country ?? 'FR',
        lines,
        ...(values.coupon === undefined ? {} : { coupon: values.coupon }),
      });
      if (!parsed.success) die(`Invalid order: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const workflowId = await api.submit(parsed.data);
      if (values['no-wait']) {
        print(values.json ? { id: workflowId } : `Started workflow ${workflowId} for order ${parsed.data.orderId}`);
        break;
      }
      await api.result(workflowId);
      await showTimeline(workflowId);
      break;
    }
    case 'status':
    case 'timeline':
      await showTimeline(needId());
      break;
    case 'list': {
      const limit = values.limit === undefined ? 20 : Number(values.limit);
      const workflows = await api.list({ ...(values.status === undefined ? {} : { status: values.status.split(',') }), limit });
      if (values.json) print(workflows);
      else {
        print(`${'id'.padEnd(36)}  ${'status'.padEnd(20)}  ${'ms'.padStart(6)}  created`);
        for (const w of workflows) print(`${w.id}  ${w.status.padEnd(20)}  ${String(w.updatedAt - w.createdAt).padStart(6)}  ${new Date(w.createdAt).toISOString()}`);
      }
      break;
    }
    case 'cancel': {
      const outcome = await api.cancel(needId());
      print(values.json ? outcome : `Workflow ${outcome.id}: ${outcome.status}${outcome.error ? ` (${outcome.error.code}: ${outcome.error.message})` : ''}`);
      break;
    }
    case 'signal': {
      const workflowId = needId();
      const name = third ?? die('signal needs a signal name (e.g. shipped)');
      let payload: unknown = {};
      if (fourth !== undefined) {
        try {
          payload = JSON.parse(fourth) as unknown;
        } catch {
          die(`The payload is not JSON: ${fourth}`);
        }
      }
      const ack = await api.signal(workflowId, name, payload, values['signal-id']);
      print(values.json ? ack : `Signal '${name}' ${ack.duplicate ? 'was already stored' : 'stored'} for workflow ${workflowId} (signal id ${ack.signalId})`);
      break;
    }
    case 'schedules': {
      const action = id ?? 'list';
      if (action === 'list') {
        const schedules = await api.schedules();
        if (values.json) print(schedules);
        else {
          print(`${'id'.padEnd(24)}  ${'cron'.padEnd(16)}  ${'workflow'.padEnd(20)}  ${'state'.padEnd(7)}  next tick`);
          for (const s of schedules) {
            print(`${s.id.padEnd(24)}  ${s.cron.padEnd(16)}  ${s.workflow.padEnd(20)}  ${(s.paused ? 'paused' : 'active').padEnd(7)}  ${s.nextTickAt === undefined ? '-' : new Date(s.nextTickAt).toISOString()}`);
          }
        }
        break;
      }
      if (action !== 'pause' && action !== 'resume' && action !== 'delete') die(`Unknown schedules action '${action}' (list, pause, resume, delete)`);
      const scheduleId = third ?? die(`schedules ${action} needs a schedule id`);
      const answer = await api.scheduleAction(scheduleId, action);
      print(values.json ? answer : `Schedule ${scheduleId}: ${action === 'delete' ? 'deleted' : action === 'pause' ? 'paused' : 'resumed'}`);
      break;
    }
    default:
      die(`Unknown command '${command}'\n\n${HELP}`);
  }
} catch (error) {
  // requestJson fails with an OnexError: the orchestrator's own error (NOT_FOUND: Workflow … not found), or a
  // transport failure that names the URL and the reason (UNAVAILABLE: GET http://… failed: ECONNREFUSED).
  if (isOnexError(error)) die(`${error.code}: ${error.message}`, 1);
  die(error instanceof Error ? error.message : String(error), 1);
}
