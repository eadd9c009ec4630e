import { ErrorCode, isOnexError, OnexError } from '@onex/core';
import { defineOperation, type HttpEffect } from '@onex/effect';
import { ProviderCharge, ProviderRefund } from '../domain/payment-provider-protocol.js';
import { ChargeInput, ChargeOutput, chargeKey, PAYMENT_DECLINED, RefundInput, RefundOutput } from '../domain/payments.js';

/** HTTP statuses of the provider that mean "no money taken, and none will be": not worth a retry. */
const DECLINED_STATUSES: Readonly<Record<number, string>> = { 402: 'card_declined', 409: 'charge_voided' };

/**
 * The payments node's operations over the provider's HTTP API. The helper retries 429/5xx and dropped connections
 * (a POST with an idempotency key is safe to repeat) behind its own breaker; the operations add no retries of their
 * own, so a failure reaches the orchestrator after one bounded burst.
 */
export function paymentOperations(provider: HttpEffect) {
  /** `charge`: one charge per order at the provider (key `charge:<orderId>`); a decline is a non-retryable `CONFLICT`. */
  const charge = defineOperation({
    name: 'charge',
    description: 'Charges an order’s total at the payment provider',
    input: ChargeInput,
    output: ChargeOutput,
    timeoutMs: 2_500,
    retry: { maxAttempts: 1 },
    breaker: false,
    run: async (input, ctx) => {
      try {
        const response = await provider.request({
          method: 'POST',
          path: '/charges',
          body: input,
          idempotencyKey: chargeKey(input.orderId),
          signal: ctx.signal,
          deadlineAt: ctx.deadlineAt,
        });
        const body = ProviderCharge.parse(response.body);
        return { orderId: input.orderId, chargeId: body.chargeId, amountCents: body.amountCents };
      } catch (error) {
        const status = isOnexError(error) ? error.context['status'] : undefined;
        const decline = typeof status === 'number' ? DECLINED_STATUSES[status] : undefined;
        if (decline !== undefined) {
          throw new OnexError(ErrorCode.Conflict, `Payment declined by the provider (${decline})`, {
            cause: error,
            context: { reason: PAYMENT_DECLINED, decline, orderId: input.orderId },
          });
        }
        throw error;
      }
    },
  });

  /** `refund`: gives the order's charge back; a no-op when it was never charged (the provider then voids the key). */
  const refund = defineOperation({
    name: 'refund',
    description: 'Refunds an order’s charge; a no-op when nothing was charged',
    input: RefundInput,
    output: RefundOutput,
    timeoutMs: 2_500,
    retry: { maxAttempts: 1 },
    breaker: false,
    run: async ({ orderId }, ctx) => {
      const response = await provider.request({
        method: 'POST',
        path: '/refunds',
        body: { orderId, chargeKey: chargeKey(orderId) },
        idempotencyKey: `refund:${orderId}`,
        signal: ctx.signal,
        deadlineAt: ctx.deadlineAt,
      });
      const body = ProviderRefund.parse(response.body);
      return { orderId, refunded: body.status === 'refunded', chargeId: body.chargeId };
    },
  });

  return [charge, refund] as const;
}
