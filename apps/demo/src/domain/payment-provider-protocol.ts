import { z } from 'zod';

/** What the simulated payment provider does, changeable at run time through `POST /admin/config`. */
export const ProviderConfig = z.object({
  /** Each request waits a uniform random time in [min, max] ms before it is answered. */
  latencyMs: z.object({ min: z.int().nonnegative(), max: z.int().nonnegative() }),
  /** Share of new charges declined (HTTP 402), 0–1. */
  declineRate: z.number().min(0).max(1),
  /** While true every request is refused with HTTP 503 and nothing happens. */
  outage: z.boolean(),
  /** Share of requests answered HTTP 500 without effect, 0–1 (flaky provider). */
  errorRate: z.number().min(0).max(1),
});
/** The provider's behaviour. */
export type ProviderConfig = z.infer<typeof ProviderConfig>;

/** The defaults: fast, reliable, no declines. */
export const DEFAULT_PROVIDER_CONFIG: ProviderConfig = { latencyMs: { min: 2, max: 15 }, declineRate: 0, outage: false, errorRate: 0 };

/** Body of `POST /charges` (header `idempotency-key` required). */
export const ProviderChargeRequest = z.object({ orderId: z.string().min(1), amountCents: z.int().positive(), currency: z.string() });
/** Body of `POST /refunds`: refunds the charge made with `chargeKey` (header `idempotency-key` required). */
export const ProviderRefundRequest = z.object({ orderId: z.string().min(1), chargeKey: z.string().min(1) });

/** Answer of a successful `POST /charges`. */
export const ProviderCharge = z.object({ chargeId: z.string(), status: z.literal('succeeded'), amountCents: z.int() });
/** Answer of `POST /refunds`. */
export const ProviderRefund = z.object({ status: z.enum(['refunded', 'no_charge']), chargeId: z.string().nullable() });

/**
 * One entry of the provider's ledger, keyed by the charge's idempotency key:
 * `succeeded` (money taken), `refunded` (taken then given back), `declined` (never taken), `voided` (a refund came
 * before any charge: a late charge with that key is refused, so a compensation can never be overtaken).
 */
export const ProviderLedgerEntry = z.object({
  key: z.string(),
  orderId: z.string(),
  status: z.enum(['succeeded', 'refunded', 'declined', 'voided']),
  amountCents: z.int(),
  chargeId: z.string().nullable(),
  /** Requests seen with this key (retries and replays included). */
  requests: z.int().nonnegative(),
});
/** One entry of the provider's ledger. */
export type ProviderLedgerEntry = z.infer<typeof ProviderLedgerEntry>;

/** Answer of `GET /admin/ledger`. */
export const ProviderLedger = z.object({
  entries: z.array(ProviderLedgerEntry),
  stats: z.object({
    requests: z.int(),
    charges: z.int(),
    refunds: z.int(),
    declines: z.int(),
    rejectedDuringOutage: z.int(),
    injectedErrors: z.int(),
  }),
});
/** Answer of `GET /admin/ledger`. */
export type ProviderLedger = z.infer<typeof ProviderLedger>;

/** Body of `POST /admin/config`: the fields to change. */
export const ProviderConfigPatch = ProviderConfig.partial().strict();
/** Body of `POST /admin/config`. */
export type ProviderConfigPatch = z.infer<typeof ProviderConfigPatch>;
