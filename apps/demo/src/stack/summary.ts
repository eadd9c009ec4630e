import type { StepRecord, WorkflowRecord } from '@onex/orchestrator';
import type { Takeover } from '../runtime/ownership-journal.js';
import type { BooksReport } from './books.js';
import type { ScenarioResult } from './scenario.js';

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

const euros = (cents: number): string => `€${(cents / 100).toFixed(2)}`;

/**
 * Picks the workflow whose timeline is most telling: one that was compensated after a charge, else one whose steps
 * were retried, else one that completed.
 */
export function pickShowcase(records: readonly WorkflowRecord[]): WorkflowRecord | undefined {
  const refunded = records.find((r) => r.status === 'compensated' && r.steps['charge']?.status === 'compensated');
  const retried = records.find((r) => r.status === 'completed' && Object.values(r.steps).some((s) => s.attempts > 1));
  const compensated = records.find((r) => r.status === 'compensated');
  return retried ?? refunded ?? compensated ?? records.find((r) => r.status === 'completed') ?? records[0];
}

function stepLine(step: StepRecord, origin: number): string {
  const start = step.startedAt === undefined ? '' : `+${step.startedAt - origin}`;
  const end = step.finishedAt === undefined ? '' : `+${step.finishedAt - origin}`;
  const span = step.startedAt !== undefined && step.finishedAt !== undefined ? `${step.finishedAt - step.startedAt} ms` : '';
  const errors = step.attemptErrors.map((e) => e.code);
  const comp = step.compensationAttempts === undefined ? '' : ` (compensation: ${step.compensationAttempts} attempt${step.compensationAttempts === 1 ? '' : 's'})`;
  const why = step.error === undefined ? '' : `  ${step.error.code}: ${step.error.message}`;
  return `  ${step.name.padEnd(17)} ${step.status.padEnd(20)} ${String(step.attempts).padStart(2)}  ${`${start} → ${end}`.padEnd(17)} ${span.padStart(8)}${errors.length > 0 ? `  errors: ${errors.join(', ')}` : ''}${why}${comp}`;
}

/** A workflow's step timeline, steps in start order, times relative to the workflow's creation. */
export function formatTimeline(record: WorkflowRecord): string {
  const steps = Object.values(record.steps).sort((a, b) => (a.startedAt ?? Number.MAX_SAFE_INTEGER) - (b.startedAt ?? Number.MAX_SAFE_INTEGER));
  const order = (record.input as { orderId?: string } | undefined)?.orderId ?? '?';
  return [
    `Workflow ${record.id} (order ${order}): ${record.status}, ${record.updatedAt - record.createdAt} ms${record.error ? ` — ${record.error.code}: ${record.error.message}` : ''}`,
    `  ${'step'.padEnd(17)} ${'status'.padEnd(20)} ${'#'.padStart(2)}  ${'start → end (ms)'.padEnd(17)} ${'took'.padStart(8)}`,
    ...steps.map((s) => stepLine(s, record.createdAt)),
  ].join('\n');
}

/** Why workflows did not complete: `<failed step>: <reason or code>`, with counts, most frequent first. */
export function failureReasons(records: readonly WorkflowRecord[]): [string, number][] {
  const reasons = new Map<string, number>();
  for (const record of records) {
    if (record.status === 'completed') continue;
    const failed = Object.values(record.steps).find((s) => s.status === 'failed');
    const error = failed?.error ?? record.error;
    const reason = error?.context?.['reason'];
    const key = `${failed?.name ?? record.status}: ${typeof reason === 'string' ? reason : (error?.code ?? 'unknown')}`;
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  return [...reasons].sort((a, b) => b[1] - a[1]);
}

/**
 * Which orchestrator instance finished which workflows (the `owner` of each finished record), with each instance's
 * figures and every takeover. Empty for a single orchestrator that took nothing over.
 */
export function formatInstances(result: ScenarioResult, records: readonly WorkflowRecord[], takeovers: readonly Takeover[]): string[] {
  const instances = result.orchestrator.instances;
  if (Object.keys(instances).length < 2 && takeovers.length === 0) return [];
  const finished = new Map<string, Map<string, number>>();
  for (const record of records) {
    const owner = record.owner ?? '?';
    const byStatus = finished.get(owner) ?? new Map<string, number>();
    byStatus.set(record.status, (byStatus.get(record.status) ?? 0) + 1);
    finished.set(owner, byStatus);
  }
  const names = [...new Set([...Object.keys(instances), ...finished.keys()])].sort();
  const orderOf = new Map(records.map((r) => [r.id, (r.input as { orderId?: string } | undefined)?.orderId ?? '?']));
  const width = Math.max(8, ...names.map((n) => n.length));
  const count = (n: number): string => String(n).padStart(9);
  return [
    '',
    'Orchestrator instances (finished = owner of the finished workflow; claimed = resumed, taken over or woken)',
    `  ${'instance'.padEnd(width)} ${'finished'.padStart(9)} ${'started'.padStart(9)} ${'claimed'.padStart(9)} ${'took over'.padStart(9)} ${'lost'.padStart(9)} ${'leaseLoss'.padStart(9)} ${'fenced'.padStart(9)}`,
    ...names.map((name) => {
      const figures = instances[name];
      const byStatus = finished.get(name) ?? new Map<string, number>();
      const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
      const into = takeovers.filter((t) => t.to === name).length;
      const from = takeovers.filter((t) => t.from === name).length;
      return `  ${name.padEnd(width)} ${count(total)} ${count(figures?.started ?? 0)} ${count(figures?.recovered ?? 0)} ${count(into)} ${count(from)} ${count(figures?.leaseLosses ?? 0)} ${count(figures?.fencedWrites ?? 0)}`;
    }),
    '',
    `Takeovers: ${takeovers.length}${takeovers.length === 0 ? '' : ' (time, workflow, order: from → to, epoch)'}`,
    ...takeovers.map(
      (t) => `  +${((t.at - result.startedAt) / 1000).toFixed(1).padStart(4)} s  ${t.id.slice(0, 8)}… ${(orderOf.get(t.id) ?? '?').padEnd(16)} ${t.from} → ${t.to}  (epoch ${t.epoch})`,
    ),
  ];
}

/** The end-of-run summary; `takeovers` are those of the run's workflows (from the orchestrators' ownership journals). */
export function formatSummary(result: ScenarioResult, books: BooksReport, records: readonly WorkflowRecord[], takeovers: readonly Takeover[] = []): string {
  const showcase = pickShowcase(records);
  const reasons = failureReasons(records);
  const counts = new Map<string, number>();
  for (const o of result.outcomes) counts.set(o.status, (counts.get(o.status) ?? 0) + 1);
  const latencies = result.outcomes.map((o) => o.latencyMs).sort((a, b) => a - b);
  const n = result.outcomes.length;
  const orch = result.orchestrator;
  const openings = Object.entries(orch.breakerOpenings).map(([k, v]) => `${k} ×${v}`);
  const providerOpenings = Object.entries(result.payments.openings).map(([k, v]) => `${k} ×${v} (now ${result.payments.states[k] ?? '?'})`);
  const lines = [
    '',
    `ONEX demo — scenario '${result.scenario}': ${n} orders in ${(result.wallMs / 1000).toFixed(1)} s (${(n / (result.wallMs / 1000)).toFixed(0)} orders/s)`,
    '',
    'Outcomes',
    `  completed     ${String(counts.get('completed') ?? 0).padStart(5)}`,
    `  compensated   ${String(counts.get('compensated') ?? 0).padStart(5)}   (the saga ran: stock released, charges refunded, ledger closed)`,
    `  failed        ${String(counts.get('failed') ?? 0).padStart(5)}`,
    ...[...counts]
      .filter(([s]) => !['completed', 'compensated', 'failed'].includes(s))
      .map(([s, c]) => `  ${s.padEnd(13)} ${String(c).padStart(5)}`),
    ...(reasons.length === 0 ? [] : ['  why not completed:', ...reasons.map(([why, c]) => `    ${String(c).padStart(4)}  ${why}`)]),
    '',
    'Latency (submit → outcome)',
    `  p50 ${percentile(latencies, 50)} ms   p95 ${percentile(latencies, 95)} ms   p99 ${percentile(latencies, 99)} ms   max ${latencies.at(-1) ?? 0} ms`,
    '',
    'Resilience',
    `  step attempts ${orch.stepAttempts}, retries ${orch.stepRetries}, compensations run ${orch.compensationsRun} (failed ${orch.compensationsFailed})`,
    `  breaker openings: orchestrator ${openings.length === 0 ? 'none' : openings.join(', ')}; payments → provider ${providerOpenings.length === 0 ? 'none' : providerOpenings.join(', ')}`,
    `  workflows resumed after a restart or taken over: ${orch.recovered}`,
    '',
    'Warehouse and schedules',
    `  shipped signals: on time ${result.shipping.onTime} (their ${result.shipping.duplicates} copies ignored as duplicates), late ${result.shipping.late}, never ${result.shipping.never}; refused as finished ${result.shipping.refusedFinished}`,
    `  books checks by the every-10-s schedule during the run: ${result.reconciliation.runs} (${result.reconciliation.balanced} balanced, ${result.reconciliation.unbalanced} not)`,
    ...(result.events.length === 0 ? [] : ['', 'Injected', ...result.events.map((e) => `  +${(e.atMs / 1000).toFixed(1)} s  ${e.what}`)]),
    ...formatInstances(result, records, takeovers),
    '',
    `Books ${books.ok ? 'balance ✔' : 'DO NOT balance ✘'}  (charged ${euros(books.money.chargedCents)}, refunded ${euros(books.money.refundedCents)}, kept ${euros(books.money.keptCents)})`,
    ...books.checks.flatMap((c) => [`  ${c.ok ? '✔' : '✘'} ${c.name.padEnd(46)} ${c.detail}`, ...c.problems.map((p) => `      ${p}`)]),
    ...(showcase === undefined ? [] : ['', formatTimeline(showcase)]),
    '',
  ];
  return lines.join('\n');
}
