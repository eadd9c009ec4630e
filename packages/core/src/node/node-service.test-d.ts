import { expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import { defineContract } from '../contract/contract.js';
import type { CircuitBreaker } from '../resilience/circuit-breaker.js';
import { circuitBreakerInterceptor } from '../resilience/with-circuit-breaker.js';
import type { CallInterceptor, NodeInterceptor } from './interceptor.js';
import { NodeKind } from './node-kind.js';
import type { NodeServiceOptions } from './node-service.js';

const contract = defineContract({
  name: 'typed',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ n: z.number() }),
  output: z.object({ doubled: z.number() }),
});
type C = typeof contract;
type Options = NodeServiceOptions<C['config'], C['input'], C['output']>;

test('interceptors are typed by the contract when the options name its schemas', () => {
  expectTypeOf(contract.input.parse({ n: 1 })).toEqualTypeOf<{ n: number }>();
  const options: Options = {
    interceptors: [
      async (input, _ctx, next) => {
        expectTypeOf(input).toEqualTypeOf<{ n: number }>();
        const out = await next({ n: input.n + 1 });
        expectTypeOf(out).toEqualTypeOf<{ doubled: number }>();
        return out;
      },
    ],
  };
  const timing: CallInterceptor = (input, _ctx, next) => next(input);
  const breakerGuard: CallInterceptor = circuitBreakerInterceptor({} as CircuitBreaker);
  const typed: NodeInterceptor<C['input'], C['output']> = (input, _ctx, next) => next(input);
  const mixed: Options = { interceptors: [timing, breakerGuard, typed] };
  // Without the schemas, only interceptors that fit every node are accepted.
  const untyped: NodeServiceOptions<C['config']> = { interceptors: [timing] };
  // @ts-expect-error an interceptor of one contract does not fit a node of unknown contract
  const wrong: NodeServiceOptions<C['config']> = { interceptors: [typed] };
  const other = z.object({ s: z.string() });
  // @ts-expect-error an interceptor of another contract does not fit
  const foreign: Options = { interceptors: [((input, _ctx, next) => next(input)) as NodeInterceptor<typeof other, C['output']>] };
  void [options, mixed, untyped, wrong, foreign, other];
});
