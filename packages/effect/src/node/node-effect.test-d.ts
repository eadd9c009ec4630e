import type { ContractOutput } from '@onex/core';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineOperation, type OperationContext, type OperationInterceptor } from '../operation/effect-operation.js';
import type { OperationDefaults } from '../operation/operation-defaults.js';
import { defineEffectNode, type EffectNodeDefinition } from './define-effect-node.js';
import { NodeEffect } from './node-effect.js';
import type { NodeEffectOptions } from './node-effect-options.js';

interface Ledger {
  credit(account: string, amount: number): number;
}

const credit = defineOperation({
  name: 'credit',
  input: z.object({ account: z.string(), amount: z.int().positive() }),
  output: z.object({ balance: z.int() }),
  transactional: true,
  interceptors: [
    async (input, ctx, next) => {
      // Typed by the operation: its parsed input and its result as `run` returns it (the transaction is unknown here).
      expectTypeOf(input).toEqualTypeOf<{ account: string; amount: number }>();
      expectTypeOf(ctx.tx).toBeUnknown();
      const answer = await next({ ...input, amount: input.amount });
      expectTypeOf(answer).toEqualTypeOf<{ balance: number }>();
      return answer;
    },
  ],
  run: async ({ account, amount }, ctx: OperationContext<Ledger>) => ({ balance: ctx.tx.credit(account, amount) }),
});
const ping = defineOperation({ name: 'ping', input: z.object({}), output: z.literal('pong'), run: async () => 'pong' as const });
const definition = defineEffectNode({
  name: 'ledger',
  version: '1.0.0',
  operations: [credit, ping],
  defaults: { timeoutMs: 2_000, retry: { maxAttempts: 2 }, breaker: false },
});

describe('defineEffectNode and NodeEffect types', () => {
  it('defineEffectNode answers a definition value, not a node', () => {
    expectTypeOf(definition).toEqualTypeOf<EffectNodeDefinition<readonly [typeof credit, typeof ping]>>();
    expectTypeOf(definition).not.toHaveProperty('execute');
    expectTypeOf(definition.defaults).toEqualTypeOf<OperationDefaults | undefined>();
  });

  it('new NodeEffect(definition, options) types execute by operation', () => {
    const node = new NodeEffect(definition, { transactions: { run: async (fn) => fn({}, new AbortController().signal) } });
    expectTypeOf(node.executeOrThrow('credit', { account: 'a', amount: 1 })).resolves.toEqualTypeOf<{ balance: number }>();
    expectTypeOf(node.executeOrThrow('ping', {})).resolves.toEqualTypeOf<'pong'>();
    // @ts-expect-error: not an operation of the node
    void node.execute('debit', {});
    // The node's contract is its effect contract: one operation's result, typed.
    expectTypeOf<ContractOutput<ReturnType<typeof node.contract.operation<'credit'>>>>().toEqualTypeOf<{ result: { balance: number } }>();
  });

  it('a subclass passes its definition to super', () => {
    class LedgerNode extends NodeEffect<typeof definition.operations> {
      constructor(options: NodeEffectOptions) {
        super(definition, options);
      }
    }
    expectTypeOf<ReturnType<LedgerNode['executeOrThrow']>>().toEqualTypeOf<Promise<{ balance: number } | 'pong'>>();
  });

  it('default interceptors see any operation: unknown input, an OperationContext', () => {
    const interceptor: OperationInterceptor = async (input, ctx, next) => {
      expectTypeOf(input).toBeUnknown();
      expectTypeOf(ctx.operation).toBeString();
      expectTypeOf(ctx.attempt).toBeNumber();
      return next(input);
    };
    const withDefaults = defineEffectNode({ name: 'ledger', version: '1.0.0', operations: [ping], defaults: { interceptors: [interceptor] } });
    expectTypeOf(withDefaults.defaults?.interceptors).toEqualTypeOf<readonly OperationInterceptor[] | undefined>();
    // @ts-expect-error: defaults hold operation settings, not a node's options
    defineEffectNode({ name: 'ledger', version: '1.0.0', operations: [ping], defaults: { logger: undefined } });
    // @ts-expect-error: a definition holds no node options (they go to `new NodeEffect(definition, options)`)
    defineEffectNode({ name: 'ledger', version: '1.0.0', operations: [ping], purgeIntervalMs: 0 });
  });
});
