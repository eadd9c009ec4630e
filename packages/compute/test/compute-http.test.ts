// A compute node served over HTTP with serveNode and called with createNodeClient: single calls, a batch with a
// failing item, the cache seen through GET /metrics.json, and errors as they cross the wire.
import { createNodeClient, createSilentLogger, ErrorCode, serveNode, type NodeClient, type ServedNode } from '@onex/core';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { computeContract, defineComputation, defineComputeNode, NodeCompute } from '../src/index.js';

const quote = defineComputation({
  name: 'price.quote',
  description: 'Net price of a line.',
  input: z.object({ unitCents: z.int().nonnegative(), quantity: z.int().positive(), discountPct: z.number().min(0).max(100).default(0) }),
  output: z.object({ totalCents: z.int() }),
  compute: ({ unitCents, quantity, discountPct }) => ({ totalCents: Math.round(unitCents * quantity * (1 - discountPct / 100)) }),
  cache: { maxEntries: 100, ttlMs: 60_000 },
});
const explode = defineComputation({
  name: 'explode',
  input: z.string(),
  output: z.string(),
  compute: (s) => {
    if (s === 'boom') throw new Error('internal detail api_key=sk_live_0123456789abcdef');
    return s.toUpperCase();
  },
});

const pricing = defineComputeNode({ name: 'pricing', version: '1.0.0', computations: [quote, explode] });

describe('compute node over HTTP', () => {
  let node: NodeCompute<typeof pricing>;
  let served: ServedNode;
  let client: NodeClient<typeof node.contract>;

  beforeAll(async () => {
    node = new NodeCompute(pricing, { logger: createSilentLogger() });
    served = await serveNode(node, { host: '127.0.0.1', port: 0 });
    client = createNodeClient(served.url, node.contract, { timeoutMs: 5_000 });
  });

  afterAll(async () => {
    await client.close();
    await served.close();
  });

  it('computes one input', async () => {
    const r = await client.call({ computation: 'price.quote', input: { unitCents: 250, quantity: 4, discountPct: 10 } });
    expect(r).toEqual({ ok: true, value: { result: { totalCents: 900 } } });
  });

  it("calls one computation through its own contract, its output typed and checked by the client", async () => {
    const quoteClient = createNodeClient(served.url, computeContract(pricing).computation('price.quote'));
    try {
      const r = await quoteClient.call({ computation: 'price.quote', input: { unitCents: 100, quantity: 3 } });
      if (!r.ok) throw r.error;
      expectTypeOf(r.value).toEqualTypeOf<{ result: { totalCents: number } }>();
      expect(r.value.result.totalCents).toBe(300);
      // The node answers the envelope of another computation: the client refuses output that is not this one's.
      const wrong = await createNodeClient(served.url, computeContract(pricing).computation('explode')).call(
        { computation: 'price.quote', input: { unitCents: 1, quantity: 1 } } as never,
      );
      expect(!wrong.ok && wrong.error.code).toBe(ErrorCode.Contract);
    } finally {
      await quoteClient.close();
    }
  });

  it('computes a batch with a failing item, results in input order', async () => {
    const r = await client.call({
      computation: 'price.quote',
      batch: [{ unitCents: 100, quantity: 1 }, { unitCents: -1, quantity: 1 }, { unitCents: 100, quantity: 3, discountPct: 50 }],
      concurrency: 2,
    });
    expect(r.ok).toBe(true);
    if (!r.ok || !('results' in r.value)) throw new Error('expected batch results');
    const [first, bad, third] = r.value.results;
    expect(first).toEqual({ ok: true, value: { totalCents: 100 } });
    expect(third).toEqual({ ok: true, value: { totalCents: 150 } });
    expect(bad?.ok).toBe(false);
    if (bad?.ok !== false) return;
    expect(bad.error.code).toBe(ErrorCode.Validation);
    expect(bad.error.details).toEqual([{ path: 'batch.1.unitCents', message: expect.any(String) as string }]);
  });

  it('keeps internal failures of batch items off the wire', async () => {
    const r = await client.call({ computation: 'explode', batch: ['ok', 'boom'] });
    const body = JSON.stringify(r);
    expect(body).not.toContain('sk_live');
    expect(body).not.toContain('internal detail');
    expect(r.ok && 'results' in r.value && r.value.results).toEqual([
      { ok: true, value: 'OK' },
      { ok: false, error: { code: 'INTERNAL', message: 'Internal error', retryable: false, correlationId: expect.any(String) as string } },
    ]);
  });

  it('answers an unknown computation with NOT_FOUND and a bad single input with VALIDATION', async () => {
    const unknown = await client.call({ computation: 'price.refund', input: {} }, { correlationId: 'corr-unknown' });
    expect(!unknown.ok && [unknown.error.code, unknown.error.message, unknown.error.correlationId]).toEqual([
      ErrorCode.NotFound,
      "Unknown computation 'price.refund' on node 'pricing'",
      'corr-unknown',
    ]);
    const invalid = await client.call({ computation: 'price.quote', input: { unitCents: 1 } });
    expect(!invalid.ok && invalid.error.code).toBe(ErrorCode.Validation);
    expect(!invalid.ok && invalid.error.message).toMatch(/input\.quantity/);
  });

  it('shows cache hits and per-computation figures in GET /metrics.json', async () => {
    const input = { unitCents: 999, quantity: 7 };
    await client.call({ computation: 'price.quote', input });
    await client.call({ computation: 'price.quote', input: { quantity: 7, unitCents: 999 } });
    const metrics = (await (await fetch(`${served.url}/metrics.json`)).json()) as { extra: { cache: Record<string, { hits: number; size: number }>; computations: Record<string, { runs: number }> } };
    expect(metrics.extra.cache['price.quote']?.hits).toBeGreaterThanOrEqual(1);
    expect(metrics.extra.computations['explode']?.runs).toBe(2);
    const health = await client.health();
    expect(health.components['computations']?.data).toMatchObject({ names: ['price.quote', 'explode'], cached: ['price.quote'] });
  });
});
