/**
 * `@onex/effect`: effect nodes — side-effecting I/O (databases, external HTTP APIs, files) made safe with declared
 * operations, per-operation retries, timeouts and circuit breakers, idempotency keys, and transactions.
 *
 * @packageDocumentation
 */

// Operations and contract
export {
  defineOperation,
  type AnyEffectOperation,
  type EffectOperation,
  type OperationContext,
  type OperationDefinition,
  type OperationInterceptor,
} from './operation/effect-operation.js';
export type { OperationDefaults } from './operation/operation-defaults.js';
export type { OperationName, OperationNamed, OperationSignature } from './operation/operation-signature.js';
export {
  defineEffectContract,
  EffectResult,
  type EffectContract,
  type EffectContractDefinition,
  type EffectEnvelopeSchema,
  type EffectOperationContract,
  type EffectOperationResultSchema,
  type EffectRequest,
  type EffectRequestInput,
  type EffectRequestSchema,
} from './contract/effect-contract.js';

// Nodes
export { NodeEffect } from './node/node-effect.js';
export type { NodeEffectOptions } from './node/node-effect-options.js';
export { defineEffectNode, type EffectNodeDefinition } from './node/define-effect-node.js';
export type { EffectStats, OperationStats } from './node/operation-stats.js';
export { createEffectClient, type EffectClient } from './client/effect-client.js';

// Idempotency
export {
  DEFAULT_LEASE_MS,
  DEFAULT_RETENTION_MS,
  type Awaitable,
  type IdempotencyBegin,
  type IdempotencyOutcome,
  type IdempotencyStore,
  type TransactionalCompletion,
} from './idempotency/idempotency-store.js';
export { MemoryIdempotencyStore, type MemoryIdempotencyStoreOptions } from './idempotency/memory-idempotency-store.js';
export { canonicalJson, fingerprint } from './idempotency/fingerprint.js';

// Transactions
export type { TransactionManager, TransactionRunOptions } from './transaction/transaction-manager.js';
// SqliteTransactionManager and SqliteIdempotencyStore: `@onex/effect/sqlite`, so this entry never loads better-sqlite3.

// HTTP
export { createHttpEffect, type HttpEffect, type HttpEffectOptions, type HttpMethod, type HttpRequest, type HttpResponse } from './http/http-effect.js';
export { parseRetryAfter } from './http/retry-after.js';
