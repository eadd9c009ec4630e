import { defineComputation, type ComputationDefaults } from '@onex/compute';
import { ErrorCode, OnexError } from '@onex/core';
import { CATALOG, COUPONS, TAX_RATE_BPS } from './catalog.js';
import { FraudCheckInput, FraudVerdict, Order, Quote } from './order.js';

/** Orders of this many items or more get the volume discount. */
export const VOLUME_DISCOUNT_ITEMS = 10;
/** The volume discount, basis points of the subtotal. */
export const VOLUME_DISCOUNT_BPS = 500;
/** Orders scoring at or above this are refused. */
export const FRAUD_THRESHOLD = 0.8;

/** Rounds half away from zero, on integer cents. */
function bps(amountCents: number, basisPoints: number): number {
  return Math.round((amountCents * basisPoints) / 10_000);
}

/**
 * Prices an order: line totals from the catalogue, the better of the coupon and the volume discount, then VAT of
 * the destination country on the discounted subtotal. Pure, so the pricing node caches it ({@link pricingDefaults}).
 *
 * @example
 * ```ts
 * quoteOrder({ orderId: 'o-1', customerId: 'c-1', country: 'US', lines: [{ sku: 'MUG-ONEX', quantity: 2 }] }).totalCents; // 2500
 * ```
 */
export function quoteOrder(order: Order): Quote {
  const lines = order.lines.map((line) => {
    const unitCents = CATALOG[line.sku].priceCents;
    return { ...line, unitCents, lineCents: unitCents * line.quantity };
  });
  const subtotalCents = lines.reduce((sum, line) => sum + line.lineCents, 0);
  const items = order.lines.reduce((sum, line) => sum + line.quantity, 0);
  const couponBps = order.coupon === undefined ? 0 : COUPONS[order.coupon];
  const volumeBps = items >= VOLUME_DISCOUNT_ITEMS ? VOLUME_DISCOUNT_BPS : 0;
  const discountCents = bps(subtotalCents, Math.max(couponBps, volumeBps));
  const taxCents = bps(subtotalCents - discountCents, TAX_RATE_BPS[order.country]);
  return {
    orderId: order.orderId,
    lines,
    subtotalCents,
    discountCents,
    taxCents,
    totalCents: subtotalCents - discountCents + taxCents,
    currency: 'EUR',
  };
}

/**
 * A deterministic stand-in for a fraud model: customers whose id starts with `fraud` score high, and so do very
 * large orders.
 */
export function fraudScore(input: FraudCheckInput): number {
  const base = input.customerId.startsWith('fraud') ? 0.9 : 0.05;
  const size = Math.min(0.5, input.totalCents / 2_000_000);
  return Math.min(1, Math.round((base + size) * 100) / 100);
}

/** Computation `order.quote`: see {@link quoteOrder}. */
export const quoteComputation = defineComputation({
  name: 'order.quote',
  description: 'Validates an order and prices it: line totals, discount, VAT.',
  input: Order,
  output: Quote,
  compute: (order) => quoteOrder(order),
});

/**
 * Computation `order.fraud-check`: answers the score of an order it lets through; refuses a suspicious one with a
 * non-retryable `FORBIDDEN` (`context.reason: 'FRAUD_SUSPECTED'`), which fails the workflow and starts the saga.
 */
export const fraudCheckComputation = defineComputation({
  name: 'order.fraud-check',
  description: 'Scores an order for fraud; refuses it above the threshold.',
  input: FraudCheckInput,
  output: FraudVerdict,
  compute: (input) => {
    const score = fraudScore(input);
    if (score >= FRAUD_THRESHOLD) {
      throw new OnexError(ErrorCode.Forbidden, 'Order refused by the fraud check', { context: { reason: 'FRAUD_SUSPECTED', score } });
    }
    return { score, approved: true as const };
  },
});

/** The pricing node's computations. */
export const pricingComputations = [quoteComputation, fraudCheckComputation] as const;

/** What the pricing node's computations share: both are pure, so both are cached. */
export const pricingDefaults = { cache: { maxEntries: 10_000 } } as const satisfies ComputationDefaults;
