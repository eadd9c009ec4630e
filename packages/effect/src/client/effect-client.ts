import { ErrorCode, OnexError, type CallOptions, type NodeClient, type NodeContract, type Result } from '@onex/core';
import { validationDetails } from '@onex/core/internal';
import type { z } from 'zod';
import type { AnyEffectOperation } from '../operation/effect-operation.js';
import type { OperationName, OperationNamed } from '../node/node-effect.js';

/**
 * A typed caller of an effect node's operations over any core {@link NodeClient} (HTTP or in-process).
 *
 * @example
 * ```ts
 * const r = await payments.execute('charge', { amount: 10 }, { idempotencyKey: 'order-42' });
 * ```
 */
export interface EffectClient<TOps extends readonly AnyEffectOperation[]> {
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
 * Wraps a node client of an effect node into a typed per-operation caller. The operations (shared with the node,
 * e.g. from a common package) provide the types and the output schemas.
 *
 * @example
 * ```ts
 * import { createNodeClient } from '@onex/core';
 * import { createEffectClient, defineEffectContract } from '@onex/effect';
 * const operations = [charge] as const;
 * const contract = defineEffectContract({ name: 'payments', version: '1.0.0', operations });
 * const payments = createEffectClient(createNodeClient('http://127.0.0.1:8080', contract), operations);
 * const { chargeId } = await payments.executeOrThrow('charge', { amount: 10 }, { idempotencyKey: 'order-42' });
 * ```
 */
export function createEffectClient<const TOps extends readonly AnyEffectOperation[]>(client: NodeClient<NodeContract>, operations: TOps): EffectClient<TOps> {
  const byName = new Map<string, AnyEffectOperation>(operations.map((op) => [op.name, op]));
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
    execute: execute as EffectClient<TOps>['execute'],
    executeOrThrow: (async (name: string, input: unknown, options?: CallOptions) => {
      const r = await execute(name, input, options);
      if (r.ok) return r.value;
      throw r.error;
    }) as EffectClient<TOps>['executeOrThrow'],
  };
}
