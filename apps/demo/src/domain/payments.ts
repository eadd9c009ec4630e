import type { OperationSignature } from '@onex/effect';
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

/** `payments` → `charge`, as the node and its callers both know it: its name and schemas. */
export const ChargeOperation = {
  name: 'charge',
  description: 'Charges an order’s total at the payment provider',
  input: ChargeInput,
  output: ChargeOutput,
} as const satisfies OperationSignature;

/** `payments` → `refund`, as the node and its callers both know it. */
export const RefundOperation = {
  name: 'refund',
  description: 'Refunds an order’s charge; a no-op when nothing was charged',
  input: RefundInput,
  output: RefundOutput,
} as const satisfies OperationSignature;

/** The payments node's operations as its callers know them (the node adds the code that runs them). */
export const paymentSignatures = [ChargeOperation, RefundOperation] as const;

/** `context.reason` of the non-retryable error a declined charge fails with. */
export const PAYMENT_DECLINED = 'PAYMENT_DECLINED';

/**
 * The idempotency key payments sends the provider for an order's charge: one per order, so however often the
 * charge is retried, replayed after a crash or re-submitted, the provider charges the order at most once.
 */
export function chargeKey(orderId: string): string {
  return `charge:${orderId}`;
}
