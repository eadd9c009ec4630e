import { ErrorCode, isOnexError, OnexError } from '@onex/core';
import { defineEffectNode, defineOperation, type HttpEffect } from '@onex/effect';
import { ProviderCharge, ProviderRefund } from '../domain/payment-provider-protocol.js';
import { ChargeOperation, chargeKey, PAYMENT_DECLINED, RefundOperation } from '../domain/payments.js';
import { CONTRACT_VERSION, PeerName } from '../domain/peers.js';

/** HTTP statuses of the provider that mean "no money taken, and none will be": not worth a retry. */
const DECLINED_STATUSES: Readonly<Record<number, string>> = { 402: 'card_declined', 409: 'charge_voided' };

/**
 * The payments node's definition: its operations over the provider's HTTP API. The helper retries 429/5xx and
 * dropped connections (a POST with an idempotency key is safe to repeat) behind its own breaker; the operations add
 * no retries or breakers of their own (the definition's defaults), so a failure reaches the orchestrator after one
 * bounded burst.
 */
export function paymentsDefinition(provider: HttpEffect) {
  /** `charge`: one charge per order at the provider (key `charge:<orderId>`); a decline is a non-retryable `CONFLICT`. */
  const charge = defineOperation({
    ...ChargeOperation,
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
    ...RefundOperation,
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

  return defineEffectNode({
    name: PeerName.Payments,
    version: CONTRACT_VERSION,
    operations: [charge, refund],
    defaults: { timeoutMs: 2_500, retry: { maxAttempts: 1 }, breaker: false },
  });
}
