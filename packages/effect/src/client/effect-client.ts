import { ErrorCode, OnexError, type CallOptions, type NodeClient, type NodeContract, type Result, type Schema } from '@onex/core';
import { validationDetails } from '@onex/core/internal';
import type { z } from 'zod';
import type { EffectContract } from '../contract/effect-contract.js';
import type { OperationName, OperationNamed, OperationSignature } from '../operation/operation-signature.js';

/**
 * A typed caller of an effect node's operations over any core {@link NodeClient} (HTTP or in-process): each
 * operation's result is typed and checked by its own output schema.
 *
 * @example
 * ```ts
 * // @example-compile-only
 * import { createNodeClient } from '@onex/core';
 * import { createEffectClient, defineEffectContract, type EffectClient } from '@onex/effect';
 * import { z } from 'zod';
 * const charge = { name: 'charge', input: z.object({ amount: z.int() }), output: z.object({ chargeId: z.string() }) } as const;
 * const contract = defineEffectContract({ name: 'payments', version: '1.0.0', operations: [charge] });
 * const payments: EffectClient<[typeof charge]> = createEffectClient(createNodeClient('http://127.0.0.1:8080', contract));
 * const r = await payments.execute('charge', { amount: 10 }, { idempotencyKey: 'order-42' });
 * if (r.ok) console.log(r.value.chargeId);
 * await payments.client.close();
 * ```
 */
export interface EffectClient<TOps extends readonly OperationSignature[]> {
  /** The underlying node client. */
  readonly client: NodeClient<NodeContract>;
  /** Calls operation `name`; the result is checked against the operation's output schema. Never throws. */
  execute<TName extends OperationName<TOps>>(
    name: TName,
    input: z.input<OperationNamed<TOps, TName>['input']>,
    options?: CallOptions,
  ): Promise<Result<z.output<OperationNamed<TOps, TName>['output']>>>;
  /** Like `execute`, but returns the result and throws the {@link OnexError} of a failed call. */
  executeOrThrow<TName extends OperationName<TOps>>(
    name: TName,
    input: z.input<OperationNamed<TOps, TName>['input']>,
    options?: CallOptions,
  ): Promise<z.output<OperationNamed<TOps, TName>['output']>>;
}

/**
 * Wraps a node client of an effect node into a typed per-operation caller. The operations — their names and
 * schemas, shared with the node (e.g. from a common package) — give the types and the output schemas: from the
 * client's own contract when it was made with one ({@link defineEffectContract}), else passed as `operations` (a
 * client whose type lost them, such as `createInProcessClient(node)`: pass `node.operations`).
 *
 * @example
 * ```ts
 * import { createInProcessClient } from '@onex/core';
 * import { createEffectClient, defineEffectNode, defineOperation, NodeEffect } from '@onex/effect';
 * import { z } from 'zod';
 * const charge = defineOperation({
 *   name: 'charge', input: z.object({ amount: z.int() }), output: z.object({ chargeId: z.string() }),
 *   run: async ({ amount }) => ({ chargeId: `ch_${amount}` }),
 * });
 * const node = new NodeEffect(defineEffectNode({ name: 'payments', version: '1.0.0', operations: [charge] }));
 * await node.initialize();
 * const payments = createEffectClient(createInProcessClient(node), node.operations);
 * const { chargeId } = await payments.executeOrThrow('charge', { amount: 10 }, { idempotencyKey: 'order-42' });
 * await node.shutdown();
 * ```
 */
export function createEffectClient<const TOps extends readonly OperationSignature[], TConfig extends Schema>(
  client: NodeClient<EffectContract<TOps, TConfig>>,
): EffectClient<TOps>;
export function createEffectClient<const TOps extends readonly OperationSignature[]>(client: NodeClient<NodeContract>, operations: TOps): EffectClient<TOps>;
export function createEffectClient(client: NodeClient<NodeContract>, operations?: readonly OperationSignature[]): EffectClient<readonly OperationSignature[]> {
  const ops = operations ?? (client.contract as Partial<EffectContract<readonly OperationSignature[]>>).operations;
  if (ops === undefined) throw new OnexError(ErrorCode.Contract, 'createEffectClient: the client was not made with an effect contract; pass the operations');
  const byName = new Map<string, OperationSignature>(ops.map((op) => [op.name, op]));
  const execute = async (name: string, input: unknown, options?: CallOptions): Promise<Result<unknown>> => {
    const op = byName.get(name);
    if (op === undefined) return { ok: false, error: new OnexError(ErrorCode.Validation, `Unknown operation '${name}'`) };
    const r = await client.call({ operation: name, input }, options);
    if (!r.ok) return r;
    const result = (r.value as { result?: unknown }).result;
    const parsed = op.output.safeParse(result);
    if (parsed.success) return { ok: true, value: parsed.data };
    return {
      ok: false,
      error: new OnexError(ErrorCode.Contract, `Operation '${name}' answered with a result that breaks its schema`, { details: validationDetails(parsed.error.issues) }),
    };
  };
  return {
    client,
    execute: execute as EffectClient<readonly OperationSignature[]>['execute'],
    executeOrThrow: (async (name: string, input: unknown, options?: CallOptions) => {
      const r = await execute(name, input, options);
      if (r.ok) return r.value;
      throw r.error;
    }) as EffectClient<readonly OperationSignature[]>['executeOrThrow'],
  };
}
