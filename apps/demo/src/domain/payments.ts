import { z } from 'zod';

const OrderId = z.string().min(1).max(64);

/** Input of `charge`: take the order's total from the customer. */
export const ChargeInput = z.object({ orderId: OrderId, amountCents: z.int().positive(), currency: z.literal('EUR') });
/** Output of `charge`. */
export const ChargeOutput = z.object({ orderId: OrderId, chargeId: z.string(), amountCents: z.int().positive() });

/** Input of `refund`: give the order's charge back (a no-op when nothing was charged). */
export const RefundInput = z.object({ orderId: OrderId });
/** Output of `refund`. */
export const RefundOutput = z.object({ orderId: OrderId, refunded: z.boolean(), chargeId: z.string().nullable() });

/** `context.reason` of the non-retryable error a declined charge fails with. */
export const PAYMENT_DECLINED = 'PAYMENT_DECLINED';

/**
 * The idempotency key payments sends the provider for an order's charge: one per order, so however often the
 * charge is retried, replayed after a crash or re-submitted, the provider charges the order at most once.
 */
export function chargeKey(orderId: string): string {
  return `charge:${orderId}`;
}
