import { Counter, register as globalRegistry, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseScrape } from '../../test/prometheus-text.js';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import { CircuitBreakerRegistry } from '../resilience/circuit-breaker-registry.js';
import { BucketHistogram } from './bucket-histogram.js';
import { PrometheusMetrics } from './prometheus-metrics.js';

const validation = expect.objectContaining({ code: ErrorCode.Validation });

describe('PrometheusMetrics', () => {
  it('registers in a registry of its own, never prom-client’s global one', async () => {
    const metrics = new PrometheusMetrics({ node: 'solo' });
    metrics.gauge({ name: 'onex_test_own_registry', help: 'x', collect: (emit) => emit({}, 1) });
    expect(metrics.registry).not.toBe(globalRegistry);
    expect(globalRegistry.getSingleMetric('onex_test_own_registry')).toBeUndefined();
    expect(parseScrape(await metrics.registry.metrics()).value('onex_test_own_registry', { node: 'solo' })).toBe(1);
  });

  it('reads values at scrape time, labelled with the node', async () => {
    const figures = new Map([['add', 1]]);
    const metrics = new PrometheusMetrics({ node: 'math' });
    metrics.counter({
      name: 'onex_test_runs_total',
      help: 'Runs.',
      labelNames: ['computation'],
      collect: (emit) => figures.forEach((value, computation) => emit({ computation }, value)),
    });
    expect(parseScrape(await metrics.registry.metrics()).value('onex_test_runs_total', { node: 'math', computation: 'add' })).toBe(1);
    figures.set('add', 5);
    figures.set('mul', 2);
    const scrape = parseScrape(await metrics.registry.metrics());
    expect(scrape.family('onex_test_runs_total').type).toBe('COUNTER');
    expect(scrape.value('onex_test_runs_total', { node: 'math', computation: 'add' })).toBe(5);
    expect(scrape.value('onex_test_runs_total', { node: 'math', computation: 'mul' })).toBe(2);
  });

  it('shares a family between nodes of one registry, each series labelled with its node', async () => {
    const registry = new Registry();
    for (const [node, value] of [['eu', 3], ['us', 4]] as const) {
      new PrometheusMetrics({ node, registry }).gauge({ name: 'onex_test_depth', help: 'Depth.', collect: (emit) => emit({}, value) });
    }
    const scrape = parseScrape(await registry.metrics());
    expect(scrape.family('onex_test_depth').metrics).toHaveLength(2);
    expect(scrape.value('onex_test_depth', { node: 'eu' })).toBe(3);
    expect(scrape.value('onex_test_depth', { node: 'us' })).toBe(4);
  });

  it('refuses a second live node with the same label in one registry; a stopped one gives its label up', async () => {
    const registry = new Registry();
    let firstLive = true;
    const gauge = (value: number) => ({ name: 'onex_test_clash', help: 'x', collect: (emit: (labels: object, v: number) => void) => emit({}, value) });
    new PrometheusMetrics({ node: 'pricing', registry, live: () => firstLive }).gauge(gauge(1));
    expect(() => new PrometheusMetrics({ node: 'pricing', registry }).gauge(gauge(2))).toThrow(validation);
    firstLive = false;
    new PrometheusMetrics({ node: 'pricing', registry }).gauge(gauge(3));
    const scrape = parseScrape(await registry.metrics());
    expect(scrape.family('onex_test_clash').metrics).toHaveLength(1);
    expect(scrape.value('onex_test_clash', { node: 'pricing' })).toBe(3);
  });

  it('refuses reserved labels, a name another metric holds, and a family of another shape', () => {
    const registry = new Registry();
    const metrics = new PrometheusMetrics({ node: 'n', registry });
    for (const label of ['node', 'le', 'quantile']) {
      expect(() => metrics.gauge({ name: `onex_test_reserved_${label}`, help: 'x', labelNames: [label], collect: () => undefined })).toThrow(validation);
    }
    new Counter({ name: 'app_requests_total', help: 'The application’s own.', registers: [registry] });
    expect(() => metrics.counter({ name: 'app_requests_total', help: 'x', collect: () => undefined })).toThrow(validation);
    metrics.counter({ name: 'onex_test_shape_total', help: 'x', labelNames: ['a'], collect: () => undefined });
    const other = new PrometheusMetrics({ node: 'm', registry });
    expect(() => other.counter({ name: 'onex_test_shape_total', help: 'x', labelNames: ['b'], collect: () => undefined })).toThrow(validation);
    expect(() => other.gauge({ name: 'onex_test_shape_total', help: 'x', labelNames: ['a'], collect: () => undefined })).toThrow(validation);
    expect(() => new PrometheusMetrics({ node: '' })).toThrow(validation);
  });

  it('exposes histograms read from BucketHistograms, and fails a scrape whose histogram has other buckets', async () => {
    const charge = new BucketHistogram([0.01, 0.1]);
    const metrics = new PrometheusMetrics({ node: 'checkout' });
    metrics.histogram({ name: 'onex_test_step_seconds', help: 'Steps.', labelNames: ['step'], buckets: [0.01, 0.1], collect: (emit) => emit({ step: 'charge' }, charge) });
    for (const ms of [5, 50, 500]) charge.record(ms);
    const scrape = parseScrape(await metrics.registry.metrics());
    expect(scrape.family('onex_test_step_seconds').type).toBe('HISTOGRAM');
    const h = scrape.histogram('onex_test_step_seconds', { node: 'checkout', step: 'charge' });
    expect(h).toEqual({ buckets: new Map([['0.01', 1], ['0.1', 2], ['+Inf', 3]]), count: 3, sum: expect.closeTo(0.555, 9) as number });
    // The JSON view prom-client derives from the same method.
    const json = await metrics.registry.getMetricsAsJSON();
    expect(json.find((m) => m.name === 'onex_test_step_seconds')?.values).toContainEqual({ metricName: 'onex_test_step_seconds_count', labels: { node: 'checkout', step: 'charge' }, value: 3 });

    const wrong = new PrometheusMetrics({ node: 'other' });
    wrong.histogram({ name: 'onex_test_wrong_seconds', help: 'x', collect: (emit) => emit({}, new BucketHistogram([1])) });
    await expect(wrong.registry.metrics()).rejects.toBeInstanceOf(OnexError);
  });

  it('shows every breaker of a registry: its state as a stateset, its calls, timeouts and openings', async () => {
    const breakers = new CircuitBreakerRegistry({ defaults: { timeoutMs: false, volumeThreshold: 1, resetTimeoutMs: 60_000 } });
    const metrics = new PrometheusMetrics({ node: 'checkout' });
    metrics.breakers(breakers);
    await breakers.get('inventory').execute(() => Promise.resolve('ok'));
    await expect(breakers.get('payments').execute(() => Promise.reject(new Error('down')))).rejects.toThrow();
    await expect(breakers.get('payments').execute(() => Promise.resolve('never'))).rejects.toMatchObject({ code: ErrorCode.CircuitOpen });
    const scrape = parseScrape(await metrics.registry.metrics());
    const state = (breaker: string, s: string) => scrape.value('onex_circuit_breaker_state', { node: 'checkout', breaker, state: s });
    expect([state('payments', 'open'), state('payments', 'closed'), state('payments', 'half_open')]).toEqual([1, 0, 0]);
    expect([state('inventory', 'open'), state('inventory', 'closed')]).toEqual([0, 1]);
    expect(scrape.value('onex_circuit_breaker_calls_total', { node: 'checkout', breaker: 'payments', result: 'failure' })).toBe(1);
    expect(scrape.value('onex_circuit_breaker_calls_total', { node: 'checkout', breaker: 'payments', result: 'rejected' })).toBe(1);
    expect(scrape.value('onex_circuit_breaker_calls_total', { node: 'checkout', breaker: 'inventory', result: 'success' })).toBe(1);
    expect(scrape.value('onex_circuit_breaker_openings_total', { node: 'checkout', breaker: 'payments' })).toBe(1);
    expect(scrape.value('onex_circuit_breaker_timeouts_total', { node: 'checkout', breaker: 'payments' })).toBe(0);
    breakers.shutdown();
  });

  it('counts once when scrapes overlap, even with collects that wait', async () => {
    const metrics = new PrometheusMetrics({ node: 'slow' });
    metrics.counter({
      name: 'onex_test_overlap_total',
      help: 'x',
      collect: async (emit) => {
        await new Promise((resolve) => setImmediate(resolve));
        emit({}, 7);
      },
    });
    const texts = await Promise.all([metrics.registry.metrics(), metrics.registry.metrics(), metrics.registry.metrics()]);
    for (const text of texts) expect(parseScrape(text).value('onex_test_overlap_total', { node: 'slow' })).toBe(7);
  });
});
