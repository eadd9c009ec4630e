import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode } from '../errors/error-codes.js';
import type { OnexError } from '../errors/onex-error.js';
import { isOnexError } from '../errors/onex-error.js';
import { NodeKind } from '../node/node-kind.js';
import { defineContract } from './contract.js';
import { parseManifest } from './manifest.js';

const contract = defineContract({
  name: 'pricing',
  kind: NodeKind.Compute,
  version: '1.2.0',
  description: 'Prices an order',
  input: z.object({ sku: z.string(), qty: z.number().int().default(1) }),
  output: z.object({ total: z.number() }),
  config: z.object({ currency: z.string().default('EUR') }),
});

function thrown(fn: () => unknown): OnexError {
  try {
    fn();
  } catch (error) {
    if (isOnexError(error)) return error;
    throw error;
  }
  throw new Error('expected a throw');
}

describe('defineContract', () => {
  it('generates JSON Schema for input, output and config', () => {
    const doc = contract.toDocument();
    expect(doc).toMatchObject({ name: 'pricing', kind: 'compute', version: '1.2.0', description: 'Prices an order' });
    expect(doc.input).toMatchObject({ type: 'object', properties: { sku: { type: 'string' } } });
    expect(doc.input['required']).toEqual(['sku']);
    expect(doc.output).toMatchObject({ properties: { total: { type: 'number' } } });
    expect(doc.config).toMatchObject({ properties: { currency: { type: 'string', default: 'EUR' } } });
    expect(contract.toDocument()).toBe(doc);
  });

  it('rejects bad names, kinds and versions with a message naming the field', () => {
    const base = { kind: NodeKind.Compute, version: '1.0.0', input: z.string(), output: z.string() };
    expect(thrown(() => defineContract({ ...base, name: 'Bad_Name' })).message).toContain('name');
    expect(thrown(() => defineContract({ ...base, name: 'ok', version: 'v1' })).message).toContain('version');
    const e = thrown(() => defineContract({ ...base, name: 'ok', kind: 'widget' as NodeKind }));
    expect(e.code).toBe(ErrorCode.Contract);
    expect(e.message).toContain('kind');
  });
});

describe('parseManifest', () => {
  it('loads a full manifest with defaults', () => {
    const m = parseManifest(`
name: order-fulfilment
kind: orchestrator
version: 0.3.0
dependencies:
  - { name: pricing, kind: compute, url: "http://127.0.0.1:4001" }
resilience:
  timeoutMs: 5000
  retry: { maxAttempts: 4, initialDelayMs: 50 }
  breaker: { errorThresholdPercentage: 40 }
subcontracts:
  fsm: ./order-fsm.yaml
`);
    expect(m.dependencies[0]).toEqual({ name: 'pricing', kind: 'compute', url: 'http://127.0.0.1:4001' });
    expect(m.resilience.retry?.maxAttempts).toBe(4);
    expect(m.subcontracts).toEqual({ fsm: './order-fsm.yaml' });
    expect(m.config).toEqual({});
  });

  it('names the bad field', () => {
    const e = thrown(() => parseManifest('name: a\nkind: compute\nversion: 1.0.0\nresilience:\n  retry:\n    maxAttempts: 0\n', 'a.yaml'));
    expect(e.code).toBe(ErrorCode.Contract);
    expect(e.message).toContain('a.yaml');
    expect(e.message).toContain('resilience.retry.maxAttempts');
    expect(thrown(() => parseManifest('name: a\nkind: gadget\nversion: 1.0.0\n')).message).toContain('kind');
    expect(thrown(() => parseManifest('name: a\nkind: compute\nversion: 1.0.0\nextra: 1\n')).message).toMatch(/extra|Unrecognized/);
  });

  it('reports YAML syntax errors as contract errors', () => {
    const e = thrown(() => parseManifest('name: [unclosed\n'));
    expect(e.code).toBe(ErrorCode.Contract);
    expect(e.message).toContain('YAML');
  });
});
