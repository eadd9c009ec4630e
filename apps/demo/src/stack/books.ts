import { ErrorCode, isOnexError } from '@onex/core';
import type { WorkflowRecord } from '@onex/orchestrator';
import type { Reservation, StockLevel } from '../domain/inventory.js';
import { expectedLedgerState } from '../domain/order-ledger.js';
import type { ProviderLedger } from '../domain/payment-provider-protocol.js';
import { chargeKey } from '../domain/payments.js';
import { requestJson } from './http-json.js';
import { OrchestratorApi } from './orchestrator-api.js';
import type { OrderOutcome } from './scenario.js';
import { ServiceName, type Stack } from './stack.js';

/** One check of the books. */
export interface BooksCheck {
  readonly name: string;
  readonly ok: boolean;
  /** What was counted, for the summary. */
  readonly detail: string;
  /** The first few offenders. */
  readonly problems: readonly string[];
}

/** The books after a run. */
export interface BooksReport {
  readonly ok: boolean;
  readonly checks: readonly BooksCheck[];
  /** Charged and refunded at the provider, cents. */
  readonly money: { readonly chargedCents: number; readonly refundedCents: number; readonly keptCents: number };
}

/** Everything the books are checked against, read from the running stack. */
export interface BooksEvidence {
  readonly workflows: ReadonlyMap<string, WorkflowRecord>;
  readonly stock: readonly StockLevel[];
  readonly reservations: ReadonlyMap<string, Reservation>;
  readonly provider: ProviderLedger;
  /** Ledger state per order id (`undefined`: no ledger entry). */
  readonly ledger: ReadonlyMap<string, string | undefined>;
}

const MAX_PROBLEMS = 5;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (;;) {
        const index = next++;
        if (index >= items.length) return;
        out[index] = await fn(items[index] as T);
      }
    }),
  );
  return out;
}

/** Reads the evidence for `outcomes` from the stack's processes. */
export async function gatherEvidence(stack: Stack, outcomes: readonly OrderOutcome[]): Promise<BooksEvidence> {
  const auth = stack.authOption();
  const api = new OrchestratorApi(stack.url(ServiceName.Orchestrator), auth);
  const ledgerUrl = stack.url(ServiceName.Ledger);
  const inventoryUrl = stack.url(ServiceName.Inventory);
  const [records, ledgerStates, stock, reservations, provider] = await Promise.all([
    mapLimit(outcomes, 16, (o) => api.get(o.workflowId)),
    mapLimit(outcomes, 16, async (o) => {
      try {
        return (await requestJson<{ state: string }>(`${ledgerUrl}/v1/orders/${encodeURIComponent(o.order.orderId)}`, auth)).state;
      } catch (error) {
        if (isOnexError(error) && error.code === ErrorCode.NotFound) return undefined;
        throw error;
      }
    }),
    requestJson<{ items: StockLevel[] }>(`${inventoryUrl}/v1/stock`, auth),
    requestJson<{ reservations: Reservation[] }>(`${inventoryUrl}/v1/reservations`, auth),
    requestJson<ProviderLedger>(`${stack.url(ServiceName.Provider)}/admin/ledger`),
  ]);
  return {
    workflows: new Map(records.map((r) => [r.id, r])),
    stock: stock.items,
    reservations: new Map(reservations.reservations.map((r) => [r.orderId, r])),
    provider,
    ledger: new Map(outcomes.map((o, i) => [o.order.orderId, ledgerStates[i]])),
  };
}

function check(name: string, detail: string, problems: readonly string[]): BooksCheck {
  return { name, ok: problems.length === 0, detail, problems: problems.slice(0, MAX_PROBLEMS) };
}

/**
 * Checks that the books balance after a run:
 * - stock is conserved per SKU, and nothing is left reserved once every workflow ended;
 * - a completed order shipped its reservation, was charged exactly once for its total, and its ledger is `fulfilled`;
 * - a compensated, cancelled, timed-out or failed order holds no stock and kept no money (declined, never charged,
 *   or refunded), and its ledger says `cancelled` / `refunded` as its workflow implies;
 * - no order was charged twice, and no workflow needs a person (`compensation_failed`).
 */
export function checkBooks(outcomes: readonly OrderOutcome[], evidence: BooksEvidence): BooksReport {
  const stockProblems: string[] = [];
  for (const level of evidence.stock) {
    if (level.available + level.reserved + level.committed !== level.initial) {
      stockProblems.push(`${level.sku}: ${level.available}+${level.reserved}+${level.committed} != ${level.initial}`);
    }
    if (level.reserved !== 0) stockProblems.push(`${level.sku}: ${level.reserved} still reserved after every workflow ended`);
  }

  const byKey = new Map(evidence.provider.entries.map((e) => [e.key, e]));
  const takenByOrder = new Map<string, number>();
  for (const entry of evidence.provider.entries) {
    if (entry.status === 'succeeded' || entry.status === 'refunded') takenByOrder.set(entry.orderId, (takenByOrder.get(entry.orderId) ?? 0) + 1);
  }

  const inventoryProblems: string[] = [];
  const moneyProblems: string[] = [];
  const ledgerProblems: string[] = [];
  const humanProblems: string[] = [];
  let completed = 0;
  let undone = 0;
  for (const outcome of outcomes) {
    const { orderId } = outcome.order;
    const record = evidence.workflows.get(outcome.workflowId);
    const reservation = evidence.reservations.get(orderId);
    const payment = byKey.get(chargeKey(orderId));
    const ledger = evidence.ledger.get(orderId);
    if (record === undefined) {
      humanProblems.push(`${orderId}: workflow ${outcome.workflowId} not found`);
      continue;
    }
    if (record.status === 'compensation_failed') {
      humanProblems.push(`${orderId}: compensation failed (${JSON.stringify(Object.values(record.steps).find((s) => s.compensationError)?.compensationError?.code)})`);
      continue;
    }
    if (record.status === 'completed') {
      completed += 1;
      if (reservation?.status !== 'committed') inventoryProblems.push(`${orderId}: completed but reservation is ${reservation?.status ?? 'absent'}`);
      const total = (record.output as { totalCents?: number } | undefined)?.totalCents;
      if (payment?.status !== 'succeeded') moneyProblems.push(`${orderId}: completed but payment is ${payment?.status ?? 'absent'}`);
      else if (payment.amountCents !== total) moneyProblems.push(`${orderId}: charged ${payment.amountCents}, priced ${String(total)}`);
    } else {
      undone += 1;
      if (reservation !== undefined && reservation.status !== 'released') inventoryProblems.push(`${orderId}: ${record.status} but reservation is ${reservation.status}`);
      if (payment?.status === 'succeeded') moneyProblems.push(`${orderId}: ${record.status} but charged ${payment.amountCents} and never refunded`);
    }
    const expected = expectedLedgerState(record);
    const matches = expected === undefined || (expected === 'absent' ? ledger === undefined || ledger === 'created' : ledger === expected);
    if (!matches) ledgerProblems.push(`${orderId}: workflow ${record.status}, ledger ${ledger ?? 'absent'} (expected ${String(expected)})`);
  }
  const doubles = [...takenByOrder].filter(([, n]) => n > 1).map(([orderId, n]) => `${orderId}: charged ${n} times`);

  let chargedCents = 0;
  let refundedCents = 0;
  for (const entry of evidence.provider.entries) {
    if (entry.status === 'succeeded' || entry.status === 'refunded') chargedCents += entry.amountCents;
    if (entry.status === 'refunded') refundedCents += entry.amountCents;
  }
  const checks = [
    check('stock conserved, nothing left reserved', `${evidence.stock.length} SKUs`, stockProblems),
    check('stock of every undone order is back', `${completed} shipped, ${undone} released or never reserved`, inventoryProblems),
    check('every failed charge refunded or never taken', `${evidence.provider.stats.charges} charges, ${evidence.provider.stats.refunds} refunds, ${evidence.provider.stats.declines} declines`, moneyProblems),
    check('no order charged twice', `${takenByOrder.size} orders charged`, doubles),
    check('ledger matches every workflow', `${evidence.ledger.size} ledger entries checked`, ledgerProblems),
    check('no workflow needs a person', `${outcomes.length} workflows`, humanProblems),
  ];
  return { ok: checks.every((c) => c.ok), checks, money: { chargedCents, refundedCents, keptCents: chargedCents - refundedCents } };
}
