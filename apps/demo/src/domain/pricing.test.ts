import { describe, expect, it } from 'vitest';
import { fraudCheckComputation, fraudScore, quoteOrder, VOLUME_DISCOUNT_ITEMS } from './pricing.js';

describe('quoteOrder', () => {
  it('sums line totals and adds the destination VAT', () => {
    const quote = quoteOrder({ orderId: 'o-1', customerId: 'c-1', country: 'FR', lines: [{ sku: 'MUG-ONEX', quantity: 2 }, { sku: 'STICKERS', quantity: 1 }] });
    expect(quote.subtotalCents).toBe(2 * 1_250 + 450);
    expect(quote.discountCents).toBe(0);
    expect(quote.taxCents).toBe(590); // 20 % of 2 950
    expect(quote.totalCents).toBe(3_540);
    expect(quote.lines.map((l) => l.lineCents)).toEqual([2_500, 450]);
  });

  it('applies the better of the coupon and the volume discount, before VAT', () => {
    const big = { orderId: 'o-2', customerId: 'c-1', country: 'US' as const, lines: [{ sku: 'STICKERS' as const, quantity: VOLUME_DISCOUNT_ITEMS }] };
    expect(quoteOrder(big).discountCents).toBe(225); // 5 % of 4 500
    expect(quoteOrder({ ...big, coupon: 'ONEX20' }).discountCents).toBe(900); // 20 % wins
    expect(quoteOrder({ ...big, coupon: 'ONEX20' }).totalCents).toBe(3_600); // no US VAT
  });
});

describe('fraud check', () => {
  it('lets ordinary customers through and refuses flagged ones with a non-retryable FORBIDDEN', () => {
    expect(fraudScore({ orderId: 'o', customerId: 'cust-1', country: 'FR', totalCents: 10_000 })).toBeLessThan(0.8);
    const verdict = fraudCheckComputation.compute({ orderId: 'o', customerId: 'cust-1', country: 'FR', totalCents: 10_000 }, {} as never);
    expect(verdict).toMatchObject({ approved: true });
    expect(() => fraudCheckComputation.compute({ orderId: 'o', customerId: 'fraud-7', country: 'FR', totalCents: 10_000 }, {} as never)).toThrow(
      expect.objectContaining({ code: 'FORBIDDEN', retryable: false, context: expect.objectContaining({ reason: 'FRAUD_SUSPECTED' }) }),
    );
  });
});
