import type { ContractOutput, Result } from '@onex/core';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineComputation } from '../computation/computation.js';
import { defineComputeNode, type ComputationsOf, type ComputeNodeDefinition } from './define-compute-node.js';
import { NodeCompute } from './node-compute.js';
import type { NodeComputeOptions } from './node-compute-options.js';

const add = defineComputation({
  name: 'add',
  input: z.object({ a: z.number(), b: z.number() }),
  output: z.object({ sum: z.number() }),
  compute: ({ a, b }) => ({ sum: a + b }),
});
const upper = defineComputation({ name: 'upper', input: z.string(), output: z.string(), compute: (s) => s.toUpperCase() });
const math = defineComputeNode({ name: 'math', version: '1.0.0', computations: [add, upper], defaults: { slowThresholdMs: 10 } });

describe('NodeCompute(definition, options)', () => {
  it('keeps the computations of the definition as a tuple', () => {
    expectTypeOf(math).toEqualTypeOf<ComputeNodeDefinition<readonly [typeof add, typeof upper]>>();
    expectTypeOf<ComputationsOf<typeof math>>().toEqualTypeOf<readonly [typeof add, typeof upper]>();
  });

  it('types compute() and the contract by the definition, for new and for subclasses', () => {
    const node = new NodeCompute(math, {});
    expectTypeOf(node).toEqualTypeOf<NodeCompute<typeof math>>();
    expectTypeOf(node.compute('add', { a: 1, b: 2 })).toEqualTypeOf<Promise<Result<{ sum: number }>>>();
    expectTypeOf(node.computations).toEqualTypeOf<readonly ('add' | 'upper')[]>();
    expectTypeOf<ContractOutput<ReturnType<typeof node.contract.computation<'upper'>>>>().toEqualTypeOf<{ result: string }>();

    class MathNode extends NodeCompute<typeof math> {
      constructor(options: NodeComputeOptions = {}) {
        super(math, options);
      }
    }
    expectTypeOf(new MathNode().compute('upper', 'a')).toEqualTypeOf<Promise<Result<string>>>();
  });

  it('types node interceptors by the wire protocol', () => {
    new NodeCompute(math, {
      interceptors: [
        async (request, _ctx, next) => {
          expectTypeOf(request.computation).toEqualTypeOf<string>();
          const response = await next(request);
          expectTypeOf(response).toExtend<{ result?: unknown } | { results: readonly unknown[] }>();
          return response;
        },
      ],
    });
    // @ts-expect-error: an interceptor answers the node's response shape
    new NodeCompute(math, { interceptors: [async () => Promise.resolve({ answer: 42 })] });
  });

  it('takes runtime things as options and the node itself as the definition', () => {
    // @ts-expect-error: a definition names its version
    new NodeCompute({ name: 'math', computations: [add] }, {});
    // @ts-expect-error: slow thresholds are definition defaults, not runtime options
    new NodeCompute(math, { slowThresholdMs: 5 });
    // @ts-expect-error: the input of a computation is checked
    void new NodeCompute(math).compute('add', { a: 1 });
  });
});
