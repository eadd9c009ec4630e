import { expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import { defineContract } from '../contract/contract.js';
import type { CallContext } from '../node/call-context.js';
import { NodeKind } from '../node/node-kind.js';
import { NodeService, type NodeServiceOptions } from '../node/node-service.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { withCircuitBreaker, type CircuitBreakerGuarded } from './with-circuit-breaker.js';

const scaling = defineContract({
  name: 'scaling',
  kind: NodeKind.Compute,
  version: '2.0.0',
  input: z.object({ value: z.number().int() }),
  output: z.object({ scaled: z.number() }),
});
type Options = NodeServiceOptions<typeof scaling.config, typeof scaling.input, typeof scaling.output>;

class Doubler extends NodeService<typeof scaling.input, typeof scaling.output, typeof scaling.config> {
  static readonly version = 2;
  constructor(
    readonly factor: number,
    options: Options = {},
  ) {
    super(scaling, options);
  }
  protected async process(input: { value: number }, _ctx: CallContext) {
    return { scaled: input.value * this.factor };
  }
}

abstract class AbstractDoubler extends NodeService<typeof scaling.input, typeof scaling.output, typeof scaling.config> {
  constructor() {
    super(scaling);
  }
}

test('the mixin keeps the constructor, the statics and the instance type, and adds circuitBreaker', () => {
  const Guarded = withCircuitBreaker(Doubler);
  expectTypeOf<ConstructorParameters<typeof Guarded>>().toEqualTypeOf<[factor: number, options?: Options]>();
  expectTypeOf(Guarded.version).toEqualTypeOf<number>();
  const node = new Guarded(2);
  expectTypeOf(node).toMatchTypeOf<Doubler>();
  expectTypeOf(node.circuitBreaker).toEqualTypeOf<CircuitBreaker>();
  expectTypeOf(node.factor).toEqualTypeOf<number>();
  // @ts-expect-error the base constructor's parameters still apply
  new Guarded('two');

  const GuardedAbstract = withCircuitBreaker(AbstractDoubler);
  // @ts-expect-error an abstract base stays abstract
  new GuardedAbstract();
  expectTypeOf<InstanceType<typeof GuardedAbstract>>().toMatchTypeOf<CircuitBreakerGuarded>();
});
