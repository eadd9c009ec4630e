// The sagas the process-level tests run, shared by the orchestrator processes (which run them), the peer processes
// (which serve their operations) and the tests (which check what they did):
// - `order` (chaos.test.ts): reserve stock, charge the payment, confirm the reservation; a failure compensates with
//   release and refund;
// - `payment` (failover.test.ts, one effect node `pay` only, served by replicas): charge, then capture the charge; a
//   refused capture refunds it.
// Refusals are planned per workflow number, so every outcome (completed, compensated, compensation_failed) is
// exercised whatever the faults do.
import { defineContract, NodeKind } from '@onex/core';
import { z } from 'zod';
import { defineWorkflow, peer } from '../../src/index.js';

/** Type of the chaos workflow. */
export const ORDER_WORKFLOW = 'chaos-order';

/** Which calls of one workflow the peers refuse, definitely (non-retryable `FORBIDDEN`). */
export const RefusalPlan = z.object({
  /** pay.charge declines: the reservation is released, the workflow ends compensated. */
  declineCharge: z.boolean(),
  /** stock.confirm refuses: the charge is refunded and the reservation released. */
  refuseConfirm: z.boolean(),
  /** pay.refund refuses: the workflow ends compensation_failed. */
  refuseRefund: z.boolean(),
  /** stock.release refuses: the workflow ends compensation_failed. */
  refuseRelease: z.boolean(),
});
export type RefusalPlan = z.infer<typeof RefusalPlan>;

export const OrderInput = z.object({ n: z.number().int().nonnegative(), amount: z.number().int().positive(), plan: RefusalPlan });
export type OrderInput = z.infer<typeof OrderInput>;

/** The input of workflow number `n`: one in ten declined, one in ten refused at confirm, a few refusing compensation. */
export function orderInput(n: number): OrderInput {
  return {
    n,
    amount: 10 + (n % 90),
    plan: { declineCharge: n % 10 === 3, refuseConfirm: n % 10 === 7, refuseRefund: n % 20 === 7, refuseRelease: n % 20 === 13 },
  };
}

/** What every peer operation takes: the business effect it belongs to, and whether to refuse it. */
export const EffectCall = z.object({ workflowId: z.string().min(1), refuse: z.boolean() });
export const ChargeCall = EffectCall.extend({ amount: z.number().int().positive() });
export const EffectRef = z.object({ ref: z.string() });

/** The stock peer: reserve (step `reserve`), release (its compensation), confirm (step `confirm`). */
export const stockContract = defineContract({
  name: 'stock',
  kind: NodeKind.Effect,
  version: '1.0.0',
  input: z.discriminatedUnion('operation', [
    z.object({ operation: z.literal('reserve'), input: EffectCall }),
    z.object({ operation: z.literal('release'), input: EffectCall }),
    z.object({ operation: z.literal('confirm'), input: EffectCall }),
  ]),
  output: z.object({ result: EffectRef }),
});

/** The payment peer: charge (step `charge`), refund (its compensation), capture (step `capture` of the payment saga). */
export const payContract = defineContract({
  name: 'pay',
  kind: NodeKind.Effect,
  version: '1.0.0',
  input: z.discriminatedUnion('operation', [
    z.object({ operation: z.literal('charge'), input: ChargeCall }),
    z.object({ operation: z.literal('refund'), input: ChargeCall }),
    z.object({ operation: z.literal('capture'), input: EffectCall }),
  ]),
  output: z.object({ result: EffectRef }),
});

/** The peers by name, as the orchestrators register them. */
export const PEERS = ['stock', 'pay'] as const;
export type PeerName = (typeof PEERS)[number];

/** The contracts of the peers, by name. */
export const PEER_CONTRACTS = { stock: stockContract, pay: payContract } as const satisfies Record<PeerName, unknown>;

/** `do` is a step, `undo` its compensation: the ledger's view of an operation. */
export type EffectOp = 'do' | 'undo';

/**
 * What a peer operation is to the ledger: its step, do or undo, and for a forward call the step whose compensation
 * makes it late (default its own: a released reservation cannot be confirmed, a refunded charge not captured).
 */
export interface OperationEffect {
  readonly step: string;
  readonly op: EffectOp;
  readonly guard?: string;
}

/** Which step (and do/undo) each peer operation is, so the peers record applications by business effect. */
export const OPERATION_EFFECTS = {
  stock: { reserve: { step: 'reserve', op: 'do' }, release: { step: 'reserve', op: 'undo' }, confirm: { step: 'confirm', op: 'do', guard: 'reserve' } },
  pay: { charge: { step: 'charge', op: 'do' }, refund: { step: 'charge', op: 'undo' }, capture: { step: 'capture', op: 'do', guard: 'charge' } },
} as const satisfies Record<PeerName, Record<string, OperationEffect>>;

/** Steps that have a compensation. */
export const COMPENSABLE_STEPS = ['reserve', 'charge'] as const;

// Generous step retries (~8 s): a peer down for a few seconds (killed and restarted) delays a workflow, rarely fails it.
const STEP_RETRY = { maxAttempts: 20, initialDelayMs: 20, maxDelayMs: 500 } as const;
// Compensations park (durably) while their peer is unavailable; short waits keep the drain quick.
const COMPENSATION_RETRY = { maxAttempts: 4, initialDelayMs: 20, maxDelayMs: 300 } as const;
const ATTEMPT_TIMEOUT_MS = 4_000;

const stock = peer('stock', stockContract);
const pay = peer('pay', payContract);

/** The three-step saga. */
export const orderWorkflow = defineWorkflow({
  type: ORDER_WORKFLOW,
  version: '1.0.0',
  input: OrderInput,
  output: z.object({ reservation: z.string(), charge: z.string(), confirmation: z.string() }),
})
  .step('reserve', {
    target: stock,
    retry: STEP_RETRY,
    timeoutMs: ATTEMPT_TIMEOUT_MS,
    input: ({ workflowId }) => ({ operation: 'reserve', input: { workflowId, refuse: false } }),
    compensate: {
      target: stock,
      retry: COMPENSATION_RETRY,
      timeoutMs: ATTEMPT_TIMEOUT_MS,
      input: ({ workflowId, input }) => ({ operation: 'release', input: { workflowId, refuse: input.plan.refuseRelease } }),
    },
  })
  .step('charge', {
    target: pay,
    dependsOn: ['reserve'],
    retry: STEP_RETRY,
    timeoutMs: ATTEMPT_TIMEOUT_MS,
    input: ({ workflowId, input }) => ({ operation: 'charge', input: { workflowId, amount: input.amount, refuse: input.plan.declineCharge } }),
    compensate: {
      target: pay,
      retry: COMPENSATION_RETRY,
      timeoutMs: ATTEMPT_TIMEOUT_MS,
      input: ({ workflowId, input }) => ({ operation: 'refund', input: { workflowId, amount: input.amount, refuse: input.plan.refuseRefund } }),
    },
  })
  .step('confirm', {
    target: stock,
    dependsOn: ['charge'],
    retry: STEP_RETRY,
    timeoutMs: ATTEMPT_TIMEOUT_MS,
    input: ({ workflowId, input }) => ({ operation: 'confirm', input: { workflowId, refuse: input.plan.refuseConfirm } }),
  })
  .returns(({ steps }) => ({ reservation: steps.reserve?.result.ref ?? '', charge: steps.charge?.result.ref ?? '', confirmation: steps.confirm?.result.ref ?? '' }));

/** Type of the payment workflow. */
export const PAYMENT_WORKFLOW = 'chaos-payment';

/** Which calls of one payment workflow the `pay` peer refuses, definitely. */
export const PaymentPlan = z.object({
  /** charge declines: nothing was applied, the workflow fails. */
  declineCharge: z.boolean(),
  /** capture refuses: the charge is refunded, the workflow ends compensated. */
  refuseCapture: z.boolean(),
  /** refund refuses: the workflow ends compensation_failed. */
  refuseRefund: z.boolean(),
});
export type PaymentPlan = z.infer<typeof PaymentPlan>;

export const PaymentInput = z.object({ n: z.number().int().nonnegative(), amount: z.number().int().positive(), plan: PaymentPlan });
export type PaymentInput = z.infer<typeof PaymentInput>;

/** The input of payment number `n`: one in ten declined, one in ten refused at capture, half of those refusing the refund. */
export function paymentInput(n: number): PaymentInput {
  return { n, amount: 10 + (n % 90), plan: { declineCharge: n % 10 === 3, refuseCapture: n % 10 === 7, refuseRefund: n % 20 === 7 } };
}

/** Steps of the payment saga that have a compensation. */
export const PAYMENT_COMPENSABLE_STEPS = ['charge'] as const;

/** The two-step payment saga: charge (refunded on a failure after it), capture. */
export const paymentWorkflow = defineWorkflow({
  type: PAYMENT_WORKFLOW,
  version: '1.0.0',
  input: PaymentInput,
  output: z.object({ charge: z.string(), capture: z.string() }),
})
  .step('charge', {
    target: pay,
    retry: STEP_RETRY,
    timeoutMs: ATTEMPT_TIMEOUT_MS,
    input: ({ workflowId, input }) => ({ operation: 'charge', input: { workflowId, amount: input.amount, refuse: input.plan.declineCharge } }),
    compensate: {
      target: pay,
      retry: COMPENSATION_RETRY,
      timeoutMs: ATTEMPT_TIMEOUT_MS,
      input: ({ workflowId, input }) => ({ operation: 'refund', input: { workflowId, amount: input.amount, refuse: input.plan.refuseRefund } }),
    },
  })
  .step('capture', {
    target: pay,
    dependsOn: ['charge'],
    retry: STEP_RETRY,
    timeoutMs: ATTEMPT_TIMEOUT_MS,
    input: ({ workflowId, input }) => ({ operation: 'capture', input: { workflowId, refuse: input.plan.refuseCapture } }),
  })
  .returns(({ steps }) => ({ charge: steps.charge?.result.ref ?? '', capture: steps.capture?.result.ref ?? '' }));

/** The sagas an orchestrator process can run, by name. */
export const SagaName = z.enum(['order', 'payment']);
export type SagaName = z.infer<typeof SagaName>;

/** What the harness needs to know of a saga: its workflow, the peers it calls, its inputs, what it compensates. */
export interface Saga {
  readonly workflow: typeof orderWorkflow | typeof paymentWorkflow;
  readonly type: string;
  readonly peers: readonly PeerName[];
  readonly input: (n: number) => OrderInput | PaymentInput;
  readonly compensable: readonly string[];
  /** True when workflow `n` is planned to end other than completed (a planned refusal). */
  readonly refusedByPlan: (n: number) => boolean;
}

export const SAGAS: Readonly<Record<SagaName, Saga>> = {
  order: {
    workflow: orderWorkflow,
    type: ORDER_WORKFLOW,
    peers: PEERS,
    input: orderInput,
    compensable: COMPENSABLE_STEPS,
    refusedByPlan: (n) => {
      const { plan } = orderInput(n);
      return plan.declineCharge || plan.refuseConfirm;
    },
  },
  payment: {
    workflow: paymentWorkflow,
    type: PAYMENT_WORKFLOW,
    peers: ['pay'],
    input: paymentInput,
    compensable: PAYMENT_COMPENSABLE_STEPS,
    refusedByPlan: (n) => {
      const { plan } = paymentInput(n);
      return plan.declineCharge || plan.refuseCapture;
    },
  },
};
