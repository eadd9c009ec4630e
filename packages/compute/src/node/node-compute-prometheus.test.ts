// What a compute node adds to its Prometheus metrics: calls labelled by computation, runs, failures, slow runs and
// run durations per computation, and the figures of each result cache — read through prom-client's registry.
// (The exposition format itself is parsed in @onex/core's tests.)
import { createSilentLogger, ErrorCode } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineComputation } from '../computation/computation.js';
import { defineComputeNode } from './define-compute-node.js';
import { NodeCompute } from './node-compute.js';

type Labels = Readonly<Record<string, string>>;

/** The value of the series of `name` whose labels are exactly `labels` (histograms: pass `metricName`). */
async function valueOf(node: NodeCompute, name: string, labels: Labels, metricName?: string): Promise<number | undefined> {
  const metric = (await node.metricsRegistry.getMetricsAsJSON()).find((m) => m.name === name);
  const wanted = Object.entries(labels).sort();
  const series = metric?.values.find((v) => {
    const own = Object.entries(v.labels).map(([k, l]) => [k, String(l)]).sort();
    return (metricName === undefined || (v as { metricName?: string }).metricName === metricName) && JSON.stringify(own) === JSON.stringify(wanted);
  });
  return series?.value;
}

function setup() {
  let now = 1_000_000;
  const add = defineComputation({
    name: 'add',
    input: z.object({ a: z.number(), b: z.number() }),
    output: z.number(),
    compute: ({ a, b }) => a + b,
    cache: { maxEntries: 1, ttlMs: 1_000 },
  });
  const fail = defineComputation({
    name: 'fail',
    input: z.string(),
    output: z.string(),
    compute: (s) => {
      if (s === 'boom') throw new Error('boom');
      return 42 as unknown as string; // breaks the output schema
    },
  });
  const definition = defineComputeNode({ name: 'math', version: '1.0.0', computations: [add, fail] });
  const node = new NodeCompute(definition, { logger: createSilentLogger(), clock: { now: () => now } });
  return { node, advance: (ms: number) => (now += ms) };
}

describe('NodeCompute Prometheus metrics', () => {
  it('labels calls by computation, and never by a name outside the definition', async () => {
    const { node } = setup();
    await node.initialize();
    await node.compute('add', { a: 1, b: 2 });
    await node.computeBatch('add', [{ a: 1, b: 2 }, { a: 2, b: 3 }]);
    await node.handle({ computation: 'nope', input: 1 });
    expect(await valueOf(node, 'onex_node_calls_total', { node: 'math', operation: 'add', outcome: 'success' })).toBe(2);
    expect(await valueOf(node, 'onex_node_call_errors_total', { node: 'math', operation: '', code: ErrorCode.NotFound })).toBe(1);
    const operations = (await node.metricsRegistry.getMetricsAsJSON()).find((m) => m.name === 'onex_node_calls_total')?.values.map((v) => v.labels['operation']);
    expect(new Set(operations)).toEqual(new Set(['', 'add', 'fail']));
    await node.shutdown();
  });

  it('counts runs, failures and run durations per computation, and cache hits, misses, evictions and entries', async () => {
    const { node, advance } = setup();
    await node.initialize();
    await node.compute('add', { a: 1, b: 2 }); // miss, run
    await node.compute('add', { a: 1, b: 2 }); // hit
    await node.compute('add', { a: 2, b: 2 }); // miss, run, evicts {1,2}
    advance(2_000);
    await node.compute('add', { a: 2, b: 2 }); // expired: miss, run
    await node.compute('fail', 'boom'); // throws
    await node.compute('fail', 'x'); // output breaks the schema
    const v = (name: string, labels: Labels) => valueOf(node, name, { node: 'math', ...labels });
    expect(await v('onex_compute_runs_total', { computation: 'add' })).toBe(3);
    expect(await v('onex_compute_runs_total', { computation: 'fail' })).toBe(2);
    expect(await v('onex_compute_run_failures_total', { computation: 'fail' })).toBe(2);
    expect(await v('onex_compute_slow_runs_total', { computation: 'add' })).toBe(0);
    expect(await valueOf(node, 'onex_compute_run_duration_seconds', { node: 'math', computation: 'add' }, 'onex_compute_run_duration_seconds_count')).toBe(3);
    expect(await v('onex_compute_cache_hits_total', { computation: 'add' })).toBe(1);
    expect(await v('onex_compute_cache_misses_total', { computation: 'add' })).toBe(3);
    expect(await v('onex_compute_cache_evictions_total', { computation: 'add' })).toBe(1);
    expect(await v('onex_compute_cache_expirations_total', { computation: 'add' })).toBe(1);
    expect(await v('onex_compute_cache_entries', { computation: 'add' })).toBe(1);
    expect(await v('onex_compute_cache_max_entries', { computation: 'add' })).toBe(1);
    // An uncached computation has no cache series.
    expect(await v('onex_compute_cache_hits_total', { computation: 'fail' })).toBeUndefined();
    await node.shutdown();
  });
});
