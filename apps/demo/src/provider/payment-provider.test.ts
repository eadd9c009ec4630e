import { afterEach, describe, expect, it } from 'vitest';
import { startPaymentProvider, type PaymentProvider } from './payment-provider.js';

let provider: PaymentProvider | undefined;
afterEach(async () => {
  await provider?.close();
  provider = undefined;
});

async function post(path: string, key: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${provider!.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('simulated payment provider', () => {
  it('charges once per idempotency key, however often the charge is repeated', async () => {
    provider = await startPaymentProvider({ config: { latencyMs: { min: 0, max: 0 } } });
    const charge = { orderId: 'o-1', amountCents: 1_000, currency: 'EUR' };
    const answers = await Promise.all([1, 2, 3].map(() => post('/charges', 'charge:o-1', charge)));
    expect(new Set(answers.map((a) => JSON.stringify(a)))).toHaveProperty('size', 1);
    expect(answers[0]?.status).toBe(201);
    const ledger = provider.ledger();
    expect(ledger.stats.charges).toBe(1);
    expect(ledger.entries).toEqual([expect.objectContaining({ key: 'charge:o-1', status: 'succeeded', requests: 3 })]);
  });

  it('refunds a charge; a refund before any charge voids the key so a late charge is refused', async () => {
    provider = await startPaymentProvider({ config: { latencyMs: { min: 0, max: 0 } } });
    await post('/charges', 'charge:o-1', { orderId: 'o-1', amountCents: 500, currency: 'EUR' });
    expect((await post('/refunds', 'refund:o-1', { orderId: 'o-1', chargeKey: 'charge:o-1' })).body).toMatchObject({ status: 'refunded' });
    expect((await post('/refunds', 'refund:o-2', { orderId: 'o-2', chargeKey: 'charge:o-2' })).body).toMatchObject({ status: 'no_charge' });
    expect((await post('/charges', 'charge:o-2', { orderId: 'o-2', amountCents: 500, currency: 'EUR' })).status).toBe(409);
    expect(provider.ledger().entries.map((e) => [e.key, e.status])).toEqual([
      ['charge:o-1', 'refunded'],
      ['charge:o-2', 'voided'],
    ]);
  });

  it('declines as configured, and answers 503 without effect during an outage', async () => {
    provider = await startPaymentProvider({ config: { latencyMs: { min: 0, max: 0 }, declineRate: 1 } });
    expect((await post('/charges', 'charge:o-1', { orderId: 'o-1', amountCents: 500, currency: 'EUR' })).status).toBe(402);
    provider.configure({ outage: true, declineRate: 0 });
    expect((await post('/charges', 'charge:o-2', { orderId: 'o-2', amountCents: 500, currency: 'EUR' })).status).toBe(503);
    provider.configure({ outage: false });
    expect((await post('/charges', 'charge:o-2', { orderId: 'o-2', amountCents: 500, currency: 'EUR' })).status).toBe(201);
    // The declined key stays declined: a retry never turns a decline into a charge.
    expect((await post('/charges', 'charge:o-1', { orderId: 'o-1', amountCents: 500, currency: 'EUR' })).status).toBe(402);
    expect(provider.ledger().stats).toMatchObject({ charges: 1, declines: 1, rejectedDuringOutage: 1 });
  });
});
