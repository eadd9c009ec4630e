import type { z } from 'zod';
import type { Schema } from '../contract/contract.js';
import { withSignal, type CallContext } from '../node/call-context.js';
import { HealthStatus, type ComponentHealth, type NodeService } from '../node/node-service.js';
import { BreakerState, CircuitBreakerRegistry, type CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';

/** Options of {@link withCircuitBreaker}. */
export interface WithCircuitBreakerOptions {
  /** Registry the breaker comes from; share one so `health()` of every node sees every breaker. Default: its own. */
  readonly registry?: CircuitBreakerRegistry;
  /** Breaker key. Default `node:<contract name>`. */
  readonly key?: string;
  /** Breaker settings (over the registry's defaults). */
  readonly breaker?: CircuitBreakerOptions;
}

/** A constructor of some NodeService subclass (TypeScript requires `any[]` arguments for mixin bases). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NodeServiceConstructor = abstract new (...args: any[]) => NodeService<Schema, Schema, Schema>;

/** What {@link withCircuitBreaker} adds to a node class. */
export interface CircuitBreakerGuarded {
  /** The breaker guarding the node's calls. */
  readonly circuitBreaker: CircuitBreaker;
}

/**
 * Mixin: every call of the node runs through a circuit breaker (from core's registry). While the breaker is open,
 * calls fail fast with `CIRCUIT_OPEN` and a `retryAfterMs`; the breaker's state shows in `health()` (open →
 * degraded) and `metrics().extra.breaker`. The composition alternative is `registry.get(key).execute(...)`.
 *
 * @example
 * ```ts
 * class Greeter extends NodeService<In, Out, Cfg> { … }
 * const GuardedGreeter = withCircuitBreaker(Greeter, { registry, breaker: { resetTimeoutMs: 5_000 } });
 * const node = new GuardedGreeter(); // same constructor as Greeter
 * ```
 */
export function withCircuitBreaker<TBase extends NodeServiceConstructor>(
  Base: TBase,
  options: WithCircuitBreakerOptions = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): TBase & (abstract new (...args: any[]) => CircuitBreakerGuarded) {
  abstract class CircuitBreakerNode extends Base {
    /** The breaker guarding this node's calls. */
    readonly circuitBreaker: CircuitBreaker;

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      // eslint-disable-next-line @typescript-eslint/no-unsafe-argument
      super(...args);
      const registry = options.registry ?? new CircuitBreakerRegistry();
      this.circuitBreaker = registry.get(options.key ?? `node:${this.contract.name}`, options.breaker);
    }

    protected override invoke(input: z.output<Schema>, ctx: CallContext): Promise<z.input<Schema>> {
      return this.circuitBreaker.execute((signal) => super.invoke(input, withSignal(ctx, AbortSignal.any([ctx.signal, signal]))));
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
  return CircuitBreakerNode;
}
