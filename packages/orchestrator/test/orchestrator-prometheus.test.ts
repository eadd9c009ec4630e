// What an orchestrator adds to its Prometheus scrape, read with a real exposition-format parser
// (parse-prometheus-text-format): workflow, step, retry and compensation counters, run and queue gauges,
// per-(workflow, step) attempt histograms whose label values come only from the registered definitions, and each
// peer's breaker state. (Core's test helper, packages/core/test/prometheus-text.ts, checks the format in depth; it
// lies outside this package's rootDir, so the parser is used directly here.)
import { createSilentLogger, ErrorCode } from '@onex/core';
import parsePrometheusTextFormat, { type ParsedSample } from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, MemoryWorkflowStore, Orchestrator, peer } from '../src/index.js';
import { peers, ScriptedPeer, stepContract } from './scripted-peer.js';

const Input = z.object({ value: z.number() });
const Output = z.object({ total: z.number() });
const ref = (name: string) => peer(name, stepContract);

type Labels = Readonly<Record<string, string>>;

const same = (a: Labels | undefined, b: Labels): boolean => JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b).sort());

/** A parsed scrape: every family typed and documented; values of counters and gauges, counts of histogram series. */
function parseScrape(text: string) {
  const families = parsePrometheusTextFormat(text);
  for (const f of families) if (f.type === 'UNTYPED' || f.help === '') throw new Error(`family ${f.name} has no # TYPE or # HELP`);
  // The parser merges the series of a labelled histogram into one (yunyu/parse-prometheus-text-format#13): read
  // without their `# TYPE` line, each series' `_count` comes out as a plain sample with all its labels.
  const untyped = parsePrometheusTextFormat(text.replace(/^# TYPE \S+ histogram$/gm, ''));
  const samples = (name: string): readonly ParsedSample[] => untyped.filter((f) => f.name === name).flatMap((f) => f.metrics);
  const family = (name: string) => {
    const found = families.find((f) => f.name === name);
    if (found === undefined) throw new Error(`no family ${name} in the scrape`);
    return found;
  };
  const number = (sample: ParsedSample | undefined) => (sample?.value === undefined ? undefined : Number(sample.value));
  return {
    family,
    value: (name: string, labels: Labels) => number(family(name).metrics.find((m) => same(m.labels, labels))),
    /** The `_count` of the histogram series of `name` whose labels are exactly `labels`. */
    count: (name: string, labels: Labels) => {
      expect(family(name).type).toBe('HISTOGRAM');
      return number(samples(`${name}_count`).find((m) => same(m.labels, labels)));
    },
    series: (name: string): readonly Labels[] => samples(`${name}_count`).map((m) => m.labels ?? {}),
  };
}

const nodes: { shutdown(): Promise<void> }[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0).reverse()) await n.shutdown();
});

describe('Orchestrator Prometheus metrics', () => {
  it('counts workflows, attempts, retries and compensations, and records attempt and workflow durations per definition', async () => {
    const flaky = new ScriptedPeer('flaky', { failTimes: 1 });
    const charge = new ScriptedPeer('charge');
    const reserve = new ScriptedPeer('reserve');
    const ship = new ScriptedPeer('ship', { alwaysFail: ErrorCode.Validation });
    const undo = new ScriptedPeer('undo');
    nodes.push(flaky, charge, reserve, ship, undo);
    const order = defineWorkflow({ type: 'order', version: '1.0.0', input: Input, output: Output })
      .step('price', { target: ref('flaky'), retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 }, input: ({ input }) => input })
      .step('charge', { target: ref('charge'), dependsOn: ['price'], input: ({ steps }) => ({ value: steps.price?.value ?? 0 }) })
      .returns(({ steps }) => ({ total: steps.charge?.value ?? 0 }));
    const saga = defineWorkflow({ type: 'saga', version: '1.0.0', input: Input, output: Output })
      .step('reserve', { target: ref('reserve'), input: ({ input }) => input, compensate: { target: ref('undo'), input: () => ({ value: 1 }) } })
      .step('ship', { target: ref('ship'), dependsOn: ['reserve'], input: ({ input }) => input })
      .step('notify', { target: ref('charge'), dependsOn: ['ship'], input: ({ input }) => input })
      .returns(() => ({ total: 0 }));
    const clients = await peers(flaky, charge, reserve, ship, undo);
    const orchestrator = new Orchestrator({ name: 'checkout', workflows: [order, saga] }, { store: new MemoryWorkflowStore(), peers: clients, logger: createSilentLogger() });
    await orchestrator.initialize();
    nodes.push(orchestrator);

    expect((await orchestrator.result(await orchestrator.start(order, { value: 1 }))).status).toBe('completed');
    expect((await orchestrator.result(await orchestrator.start(saga, { value: 1 }))).status).toBe('compensated');

    const scrape = parseScrape(await orchestrator.metricsRegistry.metrics());
    const node = { node: 'checkout' };
    const value = (name: string, labels: Labels = {}) => scrape.value(name, { ...node, ...labels });
    expect(value('onex_orchestrator_workflows_started_total')).toBe(2);
    expect(value('onex_orchestrator_workflows_finished_total', { status: 'completed' })).toBe(1);
    expect(value('onex_orchestrator_workflows_finished_total', { status: 'compensated' })).toBe(1);
    // price twice (one retry), charge, reserve, ship: notify never ran.
    expect(value('onex_orchestrator_step_attempts_total')).toBe(5);
    expect(value('onex_orchestrator_step_retries_total')).toBe(1);
    expect(value('onex_orchestrator_compensations_total', { result: 'run' })).toBe(1);
    expect(value('onex_orchestrator_compensations_total', { result: 'failed' })).toBe(0);
    expect(value('onex_orchestrator_compensations_total', { result: 'parked' })).toBe(0);
    expect(value('onex_orchestrator_takeovers_total')).toBe(0);
    expect(value('onex_orchestrator_lease_losses_total')).toBe(0);
    expect(value('onex_orchestrator_fenced_writes_total')).toBe(0);
    expect(value('onex_orchestrator_workflows_running')).toBe(0);
    expect(value('onex_orchestrator_workflows_queued')).toBe(0);
    expect(scrape.family('onex_orchestrator_step_attempts_total').type).toBe('COUNTER');
    expect(scrape.family('onex_orchestrator_workflows_running').type).toBe('GAUGE');

    // The scrape agrees with stats(), which the JSON view carries.
    const stats = orchestrator.stats();
    expect(value('onex_orchestrator_step_attempts_total')).toBe(stats.stepAttempts);
    expect(value('onex_orchestrator_compensations_total', { result: 'run' })).toBe(stats.compensationsRun);

    // One series per (workflow, step) of the definitions, a step that never ran included, and nothing else.
    const step = (workflow: string, name: string) => scrape.count('onex_orchestrator_step_duration_seconds', { ...node, workflow, step: name });
    expect(step('order', 'price')).toBe(2);
    expect(step('order', 'charge')).toBe(1);
    expect(step('saga', 'reserve')).toBe(1);
    expect(step('saga', 'ship')).toBe(1);
    expect(step('saga', 'notify')).toBe(0);
    expect(scrape.series('onex_orchestrator_step_duration_seconds').map((l) => `${l['workflow']}/${l['step']}`).sort()).toEqual(
      ['order/charge', 'order/price', 'saga/notify', 'saga/reserve', 'saga/ship'],
    );
    const workflow = (type: string) => scrape.count('onex_orchestrator_workflow_duration_seconds', { ...node, workflow: type });
    expect(workflow('order')).toBe(1);
    expect(workflow('saga')).toBe(1);

    // Each peer's breaker, by its key.
    expect(value('onex_circuit_breaker_state', { breaker: 'peer:flaky', state: 'closed' })).toBe(1);
    expect(value('onex_circuit_breaker_state', { breaker: 'peer:flaky', state: 'open' })).toBe(0);
    expect(value('onex_circuit_breaker_calls_total', { breaker: 'peer:flaky', result: 'failure' })).toBe(1);
    expect(value('onex_circuit_breaker_calls_total', { breaker: 'peer:flaky', result: 'success' })).toBe(1);
  });

  it('adds the step histograms of a workflow registered after construction', async () => {
    const a = new ScriptedPeer('a');
    nodes.push(a);
    const orchestrator = new Orchestrator({ name: 'late', workflows: [] }, { store: new MemoryWorkflowStore(), peers: await peers(a), logger: createSilentLogger() });
    await orchestrator.initialize();
    nodes.push(orchestrator);
    const once = defineWorkflow({ type: 'once', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));
    orchestrator.register(once);
    await orchestrator.result(await orchestrator.start(once, { value: 2 }));
    const scrape = parseScrape(await orchestrator.metricsRegistry.metrics());
    expect(scrape.count('onex_orchestrator_step_duration_seconds', { node: 'late', workflow: 'once', step: 'only' })).toBe(1);
    expect(scrape.count('onex_orchestrator_workflow_duration_seconds', { node: 'late', workflow: 'once' })).toBe(1);
  });

  it('counts a delayed start, claimed from the store when due, as a takeover', async () => {
    const a = new ScriptedPeer('a');
    nodes.push(a);
    const once = defineWorkflow({ type: 'once', version: '1.0.0', input: Input, output: Output })
      .step('only', { target: ref('a'), input: ({ input }) => input })
      .returns(({ steps }) => ({ total: steps.only?.value ?? 0 }));
    const orchestrator = new Orchestrator({ name: 'delayed', workflows: [once] }, { store: new MemoryWorkflowStore(), peers: await peers(a), logger: createSilentLogger() });
    await orchestrator.initialize();
    nodes.push(orchestrator);
    expect((await orchestrator.result(await orchestrator.start(once, { value: 2 }, { delayMs: 5 }))).status).toBe('completed');
    const scrape = parseScrape(await orchestrator.metricsRegistry.metrics());
    expect(scrape.value('onex_orchestrator_takeovers_total', { node: 'delayed' })).toBe(1);
    expect(scrape.value('onex_orchestrator_takeovers_total', { node: 'delayed' })).toBe(orchestrator.stats().recovered);
  });
});
