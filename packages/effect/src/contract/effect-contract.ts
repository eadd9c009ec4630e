import { defineContract, EmptyConfig, ErrorCode, NodeKind, OnexError, type NodeContract, type Schema } from '@onex/core';
import { z } from 'zod';
import type { AnyEffectOperation } from '../operation/effect-operation.js';

/**
 * The request an effect node accepts, as parsed: one of its operations and that operation's input.
 *
 * @example
 * ```ts
 * type Req = EffectRequest<[typeof charge]>; // { operation: 'charge'; input: { amount: number } }
 * ```
 */
export type EffectRequest<TOps extends readonly AnyEffectOperation[]> = {
  [K in keyof TOps]: { operation: TOps[K]['name']; input: z.output<TOps[K]['input']> };
}[number];

/**
 * The request an effect node accepts, as sent (before parsing and defaults).
 *
 * @example
 * ```ts
 * const req: EffectRequestInput<[typeof charge]> = { operation: 'charge', input: { amount: 10 } };
 * ```
 */
export type EffectRequestInput<TOps extends readonly AnyEffectOperation[]> = {
  [K in keyof TOps]: { operation: TOps[K]['name']; input: z.input<TOps[K]['input']> };
}[number];

/**
 * The schema of an effect node's request: a union discriminated by `operation`.
 *
 * @example
 * ```ts
 * const schema: EffectRequestSchema<[typeof charge]> = effectContract.input;
 * ```
 */
export type EffectRequestSchema<TOps extends readonly AnyEffectOperation[]> = z.ZodType<EffectRequest<TOps>, EffectRequestInput<TOps>>;

/**
 * The schema of an effect node's output: `{ result }`, the operation's result (validated against the operation's
 * own output schema by the node).
 *
 * @example
 * ```ts
 * EffectResult.parse({ result: { chargeId: 'ch_1' } });
 * ```
 */
export const EffectResult = z.object({ result: z.unknown() });
/** Type of {@link EffectResult}. */
export type EffectResult = typeof EffectResult;

/**
 * The contract of an effect node.
 *
 * @example
 * ```ts
 * const client = createNodeClient(url, paymentsContract); // paymentsContract: EffectContract<[typeof charge]>
 * ```
 */
export type EffectContract<TOps extends readonly AnyEffectOperation[], TConfig extends Schema = EmptyConfig> = NodeContract<
  EffectRequestSchema<TOps>,
  EffectResult,
  TConfig
>;

/**
 * What {@link defineEffectContract} takes.
 *
 * @example
 * ```ts
 * const definition: EffectContractDefinition<[typeof charge]> = { name: 'payments', version: '1.0.0', operations: [charge] };
 * ```
 */
export interface EffectContractDefinition<TOps extends readonly AnyEffectOperation[], TConfig extends Schema = EmptyConfig> {
  /** Node name, kebab-case. */
  readonly name: string;
  /** Semantic version of the contract. */
  readonly version: string;
  /** One sentence for people. */
  readonly description?: string;
  /** The node's operations (at least one; names unique). */
  readonly operations: TOps;
  /** Schema of the node's configuration. */
  readonly config?: TConfig;
}

/**
 * The contract of an effect node with these operations: input `{ operation, input }` (a union discriminated by
 * `operation`, so `GET /contract` documents each operation's input), output `{ result }`. Callers that only know
 * the operations (not the node) build the same contract to get a typed `createNodeClient`.
 *
 * @throws OnexError `CONTRACT` when there is no operation or two share a name.
 * @example
 * ```ts
 * import { createNodeClient } from '@onex/core';
 * import { defineEffectContract } from '@onex/effect';
 * const contract = defineEffectContract({ name: 'payments', version: '1.0.0', operations: [charge] });
 * const payments = createNodeClient('http://127.0.0.1:8080', contract);
 * await payments.call({ operation: 'charge', input: { amount: 10 } }, { idempotencyKey: 'order-42' });
 * ```
 */
export function defineEffectContract<const TOps extends readonly AnyEffectOperation[], TConfig extends Schema = EmptyConfig>(
  definition: EffectContractDefinition<TOps, TConfig>,
): EffectContract<TOps, TConfig> {
  const { operations } = definition;
  if (operations.length === 0) throw new OnexError(ErrorCode.Contract, `Effect node '${definition.name}' declares no operation`);
  const seen = new Set<string>();
  for (const op of operations) {
    if (seen.has(op.name)) throw new OnexError(ErrorCode.Contract, `Effect node '${definition.name}' declares operation '${op.name}' twice`);
    seen.add(op.name);
  }
  const options = operations.map((op) =>
    z.object({ operation: z.literal(op.name), input: op.input }).describe(op.description ?? `Operation ${op.name}`),
  );
  const input = z.discriminatedUnion('operation', options as unknown as [z.ZodObject<{ operation: z.ZodLiteral<string> }>]);
  return defineContract({
    name: definition.name,
    kind: NodeKind.Effect,
    version: definition.version,
    ...(definition.description === undefined ? {} : { description: definition.description }),
    input: input as unknown as EffectRequestSchema<TOps>,
    output: EffectResult,
    config: (definition.config ?? EmptyConfig) as TConfig,
  });
}
