import { defineContract, EmptyConfig, ErrorCode, NodeKind, OnexError, type NodeContract, type Schema } from '@onex/core';
import { z } from 'zod';
import type { OperationName, OperationNamed, OperationSignature } from '../operation/operation-signature.js';

/**
 * The request an effect node accepts, as parsed: one of its operations and that operation's input.
 *
 * @example
 * ```ts
 * type Req = EffectRequest<[typeof charge]>; // { operation: 'charge'; input: { amount: number } }
 * ```
 */
export type EffectRequest<TOps extends readonly OperationSignature[]> = {
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
export type EffectRequestInput<TOps extends readonly OperationSignature[]> = {
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
export type EffectRequestSchema<TOps extends readonly OperationSignature[]> = z.ZodType<EffectRequest<TOps>, EffectRequestInput<TOps>>;

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
 * The request envelope of one operation: `{ operation: <its name>, input: <its input> }`.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import type { EffectEnvelopeSchema } from '@onex/effect';
 * const charge = { name: 'charge', input: z.object({ amount: z.int() }), output: z.object({ chargeId: z.string() }) } as const;
 * type ChargeRequest = z.input<EffectEnvelopeSchema<typeof charge>>; // { operation: 'charge'; input: { amount: number } }
 * ```
 */
export type EffectEnvelopeSchema<TOp extends OperationSignature> = z.ZodObject<{ operation: z.ZodLiteral<TOp['name']>; input: TOp['input'] }>;

/**
 * The answer of one operation: `{ result: <its output> }`, typed and checked by the operation's own output schema.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import type { EffectOperationResultSchema } from '@onex/effect';
 * const charge = { name: 'charge', input: z.object({ amount: z.int() }), output: z.object({ chargeId: z.string() }) } as const;
 * type ChargeAnswer = z.output<EffectOperationResultSchema<typeof charge>>; // { result: { chargeId: string } }
 * ```
 */
export type EffectOperationResultSchema<TOp extends OperationSignature> = z.ZodObject<{ result: TOp['output'] }>;

/**
 * The contract of one operation of an effect node, as its callers see it: the node's name, kind, version and config,
 * the operation's envelope in and its typed `{ result }` out. An orchestrator step targeting it
 * (`peer('payments', payments.operation('charge'))`) is typed by it; a node client built on it checks the result
 * against the operation's output schema.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineEffectContract, type EffectOperationContract } from '@onex/effect';
 * const charge = { name: 'charge', input: z.object({ amount: z.int() }), output: z.object({ chargeId: z.string() }) } as const;
 * const payments = defineEffectContract({ name: 'payments', version: '1.0.0', operations: [charge] });
 * const chargeContract: EffectOperationContract<typeof charge> = payments.operation('charge');
 * ```
 */
export type EffectOperationContract<TOp extends OperationSignature, TConfig extends Schema = EmptyConfig> = NodeContract<
  EffectEnvelopeSchema<TOp>,
  EffectOperationResultSchema<TOp>,
  TConfig
>;

/**
 * The contract of an effect node: input `{ operation, input }` (a union over its operations), output `{ result }`
 * (checked per operation by the node), plus its operations and, per operation, a typed contract
 * ({@link EffectOperationContract}).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineEffectContract, type EffectContract } from '@onex/effect';
 * const charge = { name: 'charge', input: z.object({ amount: z.int() }), output: z.object({ chargeId: z.string() }) } as const;
 * const payments: EffectContract<[typeof charge]> = defineEffectContract({ name: 'payments', version: '1.0.0', operations: [charge] });
 * ```
 */
export interface EffectContract<TOps extends readonly OperationSignature[], TConfig extends Schema = EmptyConfig>
  extends NodeContract<EffectRequestSchema<TOps>, EffectResult, TConfig> {
  /** The node's operations (their names and schemas). */
  readonly operations: TOps;
  /**
   * The contract of operation `name` alone, with its result typed (the same object on every call).
   *
   * @throws OnexError `CONTRACT` for a name that is not one of the operations.
   */
  operation<TName extends OperationName<TOps>>(name: TName): EffectOperationContract<OperationNamed<TOps, TName>, TConfig>;
}

/**
 * What {@link defineEffectContract} takes.
 *
 * @example
 * ```ts
 * const definition: EffectContractDefinition<[typeof charge]> = { name: 'payments', version: '1.0.0', operations: [charge] };
 * ```
 */
export interface EffectContractDefinition<TOps extends readonly OperationSignature[], TConfig extends Schema = EmptyConfig> {
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
 * `operation`, so `GET /contract` documents each operation's input), output `{ result }`, and per operation a
 * contract whose result is typed: `contract.operation('charge')`. Callers that only know the operations' signatures
 * (names and schemas, not the node's code) build the same contract, for a typed `createNodeClient`,
 * `createEffectClient` or orchestrator peer. A node definition ({@link defineEffectNode}) is a contract definition too.
 *
 * @throws OnexError `CONTRACT` when there is no operation or two share a name.
 * @example
 * ```ts
 * // @example-compile-only
 * import { createNodeClient } from '@onex/core';
 * import { defineEffectContract } from '@onex/effect';
 * import { z } from 'zod';
 * const charge = { name: 'charge', input: z.object({ amount: z.int() }), output: z.object({ chargeId: z.string() }) } as const;
 * const contract = defineEffectContract({ name: 'payments', version: '1.0.0', operations: [charge] });
 * const payments = createNodeClient('http://127.0.0.1:8080', contract.operation('charge'));
 * const answer = await payments.call({ operation: 'charge', input: { amount: 10 } }, { idempotencyKey: 'order-42' });
 * if (answer.ok) console.log(answer.value.result.chargeId);
 * await payments.close();
 * ```
 */
export function defineEffectContract<const TOps extends readonly OperationSignature[], TConfig extends Schema = EmptyConfig>(
  definition: EffectContractDefinition<TOps, TConfig>,
): EffectContract<TOps, TConfig> {
  const { operations } = definition;
  if (operations.length === 0) throw new OnexError(ErrorCode.Contract, `Effect node '${definition.name}' declares no operation`);
  const seen = new Set<string>();
  for (const op of operations) {
    if (seen.has(op.name)) throw new OnexError(ErrorCode.Contract, `Effect node '${definition.name}' declares operation '${op.name}' twice`);
    seen.add(op.name);
  }
  const envelopes = operations.map((op) => z.object({ operation: z.literal(op.name), input: op.input }).describe(op.description ?? `Operation ${op.name}`));
  const input = z.discriminatedUnion('operation', envelopes as unknown as [z.ZodObject<{ operation: z.ZodLiteral<string> }>]);
  const config = (definition.config ?? EmptyConfig) as TConfig;
  const identity = {
    name: definition.name,
    kind: NodeKind.Effect,
    version: definition.version,
    ...(definition.description === undefined ? {} : { description: definition.description }),
    config,
  };
  const whole = defineContract({ ...identity, input: input as unknown as EffectRequestSchema<TOps>, output: EffectResult });
  const perOperation = new Map<string, NodeContract>();
  operations.forEach((op, i) => {
    perOperation.set(op.name, defineContract({ ...identity, input: envelopes[i] as z.ZodObject, output: z.object({ result: op.output }) }));
  });
  return Object.freeze({
    ...whole,
    operations,
    operation<TName extends OperationName<TOps>>(name: TName): EffectOperationContract<OperationNamed<TOps, TName>, TConfig> {
      const contract = perOperation.get(name);
      if (contract === undefined) throw new OnexError(ErrorCode.Contract, `Effect node '${definition.name}' has no operation '${name}'`);
      return contract as unknown as EffectOperationContract<OperationNamed<TOps, TName>, TConfig>;
    },
  });
}
