import type { z } from 'zod';
import type { Schema } from '../contract/contract.js';
import { withSignal, type CallContext } from '../node/call-context.js';
import { composeInterceptors, type CallInterceptor } from '../node/interceptor.js';
import { HealthStatus, type ComponentHealth, type NodeService } from '../node/node-service.js';
import { BreakerState, type CircuitBreaker } from './circuit-breaker.js';
import type { CircuitBreakerOptions } from './circuit-breaker-options.js';
import { CircuitBreakerRegistry } from './circuit-breaker-registry.js';

/**
 * An interceptor that runs every call through `breaker`: while the breaker is open, calls fail fast with
 * `CIRCUIT_OPEN` (and a `retryAfterMs`) without reaching the rest of the chain; the rest sees the call's signal
 * combined with the breaker's, so a call past the breaker's `timeoutMs` is aborted, not only answered `TIMEOUT`.
 * It fits every node (a {@link CallInterceptor}); {@link withCircuitBreaker} is the same guard as a mixin, with the
 * breaker's state in `health()` and `metrics()`.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { CircuitBreaker, circuitBreakerInterceptor, defineContract, NodeKind, NodeService, type NodeServiceOptions } from '@onex/core';
 * const contract = defineContract({ name: 'quotes', kind: NodeKind.Effect, version: '1.0.0',
 *   input: z.object({ sku: z.string() }), output: z.object({ cents: z.number() }) });
 * type Options = NodeServiceOptions<typeof contract.config, typeof contract.input, typeof contract.output>;
 * class Quotes extends NodeService<typeof contract.input, typeof contract.output, typeof contract.config> {
 *   constructor(options: Options = {}) { super(contract, options); }
 *   protected async process(input: { sku: string }) { return { cents: input.sku.length * 100 }; }
 * }
 * const breaker = new CircuitBreaker('quotes', { resetTimeoutMs: 5_000 });
 * const node = new Quotes({ interceptors: [circuitBreakerInterceptor(breaker)] });
 * await node.initialize();
 * console.log(await node.handle({ sku: 'abc' })); // { ok: true, value: { cents: 300 } }
 * await node.shutdown();
 * breaker.shutdown();
 * ```
 */
export function circuitBreakerInterceptor(breaker: CircuitBreaker): CallInterceptor {
  return (input, ctx, next) => breaker.execute((signal) => next(input, withSignal(ctx, AbortSignal.any([ctx.signal, signal]))));
}

/**
 * Options of {@link withCircuitBreaker}.
 *
 * @example
 * ```ts
 * import { CircuitBreakerRegistry, type WithCircuitBreakerOptions } from '@onex/core';
 * const options: WithCircuitBreakerOptions = { registry: new CircuitBreakerRegistry(), key: 'node:pricing', breaker: { resetTimeoutMs: 5_000 } };
 * ```
 */
export interface WithCircuitBreakerOptions {
  /** Registry the breaker comes from; share one so `health()` of every node sees every breaker. Default: its own. */
  readonly registry?: CircuitBreakerRegistry;
  /** Breaker key. Default `node:<contract name>`. */
  readonly key?: string;
  /** Breaker settings (over the registry's defaults). */
  readonly breaker?: CircuitBreakerOptions;
}

/**
 * A constructor of some {@link NodeService} subclass, whatever its constructor takes.
 *
 * @example
 * ```ts
 * import type { NodeServiceConstructor } from '@onex/core';
 * function describeNodeClass(NodeClass: NodeServiceConstructor): string {
 *   return NodeClass.name;
 * }
 * ```
 */
export type NodeServiceConstructor = abstract new (...args: never[]) => NodeService<Schema, Schema, Schema>;

/**
 * What {@link withCircuitBreaker} adds to a node class.
 *
 * @example
 * ```ts
 * import type { CircuitBreakerGuarded } from '@onex/core';
 * const isOpen = (node: CircuitBreakerGuarded) => node.circuitBreaker.state === 'open';
 * ```
 */
export interface CircuitBreakerGuarded {
  /** The breaker guarding the node's calls. */
  readonly circuitBreaker: CircuitBreaker;
}

/**
 * The class {@link withCircuitBreaker} answers for `TBase`: the same constructor parameters and static members, and
 * instances that are also {@link CircuitBreakerGuarded}; abstract exactly when `TBase` is.
 *
 * @example
 * ```ts
 * import type { CircuitBreakerGuardedClass, NodeServiceConstructor } from '@onex/core';
 * type Guarded<T extends NodeServiceConstructor> = InstanceType<CircuitBreakerGuardedClass<T>>;
 * ```
 */
export type CircuitBreakerGuardedClass<TBase extends NodeServiceConstructor> = Omit<TBase, 'prototype'> &
  (TBase extends new (...args: infer TArgs) => infer TNode
    ? new (...args: TArgs) => TNode & CircuitBreakerGuarded
    : abstract new (...args: ConstructorParameters<TBase>) => InstanceType<TBase> & CircuitBreakerGuarded);

/**
 * Mixin: every call of the node runs through a circuit breaker (from core's registry), by
 * {@link circuitBreakerInterceptor} around the node's `invoke` (outside the interceptors of its options). While the
 * breaker is open, calls fail fast with `CIRCUIT_OPEN` and a `retryAfterMs`; the breaker's state shows in `health()`
 * (open → degraded), `metrics().extra.breaker` and Prometheus (`onex_circuit_breaker_state{breaker="node:<name>"}`
 * and the other `onex_circuit_breaker_*` families). The answer has the constructor of `Base`.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { CircuitBreakerRegistry, defineContract, NodeKind, NodeService, withCircuitBreaker } from '@onex/core';
 * const contract = defineContract({ name: 'greeter', kind: NodeKind.Compute, version: '1.0.0',
 *   input: z.object({ name: z.string() }), output: z.object({ greeting: z.string() }) });
 * class Greeter extends NodeService<typeof contract.input, typeof contract.output, typeof contract.config> {
 *   constructor(readonly salutation = 'Hello') { super(contract); }
 *   protected async process(input: { name: string }) { return { greeting: `${this.salutation} ${input.name}` }; }
 * }
 * const registry = new CircuitBreakerRegistry();
 * const GuardedGreeter = withCircuitBreaker(Greeter, { registry, breaker: { resetTimeoutMs: 5_000 } });
 * const node = new GuardedGreeter('Hi'); // same constructor as Greeter
 * await node.initialize();
 * console.log(node.circuitBreaker.state, await node.handle({ name: 'Ada' })); // closed { ok: true, value: { greeting: 'Hi Ada' } }
 * await node.shutdown();
 * registry.shutdown();
 * ```
 */
export function withCircuitBreaker<TBase extends NodeServiceConstructor>(Base: TBase, options: WithCircuitBreakerOptions = {}): CircuitBreakerGuardedClass<TBase> {
  // Extending `Base` as a type parameter would make this a mixin class, which TypeScript requires to take `any[]`:
  // extend it as a constructor of the base class instead; the answer's type above restores Base's own signature.
  const Root = Base as unknown as abstract new (...args: unknown[]) => NodeService<Schema, Schema, Schema>;
  abstract class CircuitBreakerNode extends Root implements CircuitBreakerGuarded {
    /** The breaker guarding this node's calls. */
    readonly circuitBreaker: CircuitBreaker;
    readonly #guarded: (input: z.output<Schema>, ctx: CallContext) => Promise<z.input<Schema>>;

    constructor(...args: unknown[]) {
      super(...args);
      const registry = options.registry ?? new CircuitBreakerRegistry();
      this.circuitBreaker = registry.get(options.key ?? `node:${this.contract.name}`, options.breaker);
      this.prometheus.breakers(this.circuitBreaker);
      this.#guarded = composeInterceptors([circuitBreakerInterceptor(this.circuitBreaker)], (input, ctx) => super.invoke(input, ctx));
    }

    protected override invoke(input: z.output<Schema>, ctx: CallContext): Promise<z.input<Schema>> {
      return this.#guarded(input, ctx);
    }

    protected override async componentHealth(): Promise<Record<string, ComponentHealth>> {
      const own = await super.componentHealth();
      const state = this.circuitBreaker.state;
      const status = state === BreakerState.Closed ? HealthStatus.Healthy : HealthStatus.Degraded;
      return { ...own, breaker: { status, detail: `circuit ${state}`, data: { ...this.circuitBreaker.stats() } } };
    }

    protected override extraMetrics(): Record<string, unknown> {
      return { ...super.extraMetrics(), breaker: this.circuitBreaker.stats() };
    }

    protected override async onShutdown(): Promise<void> {
      await super.onShutdown();
      if (options.registry === undefined) this.circuitBreaker.shutdown();
    }
  }
  return CircuitBreakerNode as unknown as CircuitBreakerGuardedClass<TBase>;
}
