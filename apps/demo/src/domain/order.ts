import { z } from 'zod';
import { COUPONS, SKUS, TAX_RATE_BPS, type Country } from './catalog.js';

/** Ids that travel in idempotency keys, event ids and URLs: short, visible, unambiguous. */
const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64');

/** One line of an order. */
export const OrderLine = z.object({
  sku: z.enum(SKUS),
  quantity: z.int().positive().max(50),
});
/** One line of an order. */
export type OrderLine = z.infer<typeof OrderLine>;

/** An order as a customer submits it: the input of the `order-fulfilment` workflow. */
export const Order = z.object({
  orderId: Id,
  customerId: Id,
  country: z.enum(Object.keys(TAX_RATE_BPS) as [Country, ...Country[]]),
  lines: z.array(OrderLine).min(1).max(10),
  coupon: z.enum(Object.keys(COUPONS) as [keyof typeof COUPONS, ...(keyof typeof COUPONS)[]]).optional(),
});
/** An order as a customer submits it. */
export type Order = z.infer<typeof Order>;

/** A priced line. */
export const PricedLine = OrderLine.extend({
  unitCents: z.int().nonnegative(),
  lineCents: z.int().nonnegative(),
});

/** The priced order: what pricing answers and what payments charges. */
export const Quote = z.object({
  orderId: Id,
  lines: z.array(PricedLine),
  subtotalCents: z.int().nonnegative(),
  discountCents: z.int().nonnegative(),
  taxCents: z.int().nonnegative(),
  totalCents: z.int().positive(),
  currency: z.literal('EUR'),
});
/** The priced order. */
export type Quote = z.infer<typeof Quote>;

/** What the fraud check looks at. */
export const FraudCheckInput = z.object({
  orderId: Id,
  customerId: Id,
  country: Order.shape.country,
  totalCents: z.int().positive(),
});
/** What the fraud check looks at. */
export type FraudCheckInput = z.infer<typeof FraudCheckInput>;

/** The fraud check's verdict on an order it lets through (a rejected order fails the call). */
export const FraudVerdict = z.object({
  score: z.number().min(0).max(1),
  approved: z.literal(true),
});
