// Fixtures the TSDoc examples of @onex/core may use without declaring them (see examples/README.md). Each is a real
// value of the type its name suggests; importing this file starts nothing, so it runs and exits like any example.
// A fragment that uses one of these is compiled, not run. Add a fixture here when several examples share it;
// a name only one example uses belongs in that example.
import { z } from 'zod';
import {
  CircuitBreaker,
  CircuitBreakerRegistry,
  createSilentLogger,
  defineContract,
  ErrorSanitizer,
  NodeKind,
  NodeService,
  RetryPolicy,
  type CallContext,
  type Logger,
} from '@onex/core';

/** A logger (silent: examples print nothing through it). */
export const log: Logger = createSilentLogger();
/** The same logger, by the other name examples use. */
export const logger: Logger = log;

/** The URL of a peer node. */
export const url = 'http://127.0.0.1:4001';
/** An identifier, of an order or a user. */
export const id = 'order-42';
/** A correlation id. */
export const correlationId = 'c-1';
/** An error as a `catch` receives it. */
export const error: unknown = new Error('boom');
/** A signal that has not aborted. */
export const signal: AbortSignal = new AbortController().signal;

/** The context of a call, as `process` receives it. */
export const ctx: CallContext = {
  correlationId,
  signal,
  deadlineAt: Date.now() + 5_000,
  idempotencyKey: undefined,
  caller: { id: 'checkout', kind: 'node' },
  logger: log,
};

/** A breaker guarding a peer. */
export const breaker = new CircuitBreaker('pricing-service', { timeoutMs: 2_000 });
/** A registry of breakers, one per peer. */
export const registry = new CircuitBreakerRegistry({ defaults: { timeoutMs: 2_000 } });
/** A retry policy with the defaults. */
export const policy = new RetryPolicy();
/** A sanitizer with the default preset. */
export const sanitizer = new ErrorSanitizer();

/** A metrics sink (a gauge per name and labels), as an application's own metrics library offers one. */
export const metrics = {
  values: new Map<string, number>(),
  gauge(name: string, value: number, labels: Readonly<Record<string, string>> = {}): void {
    this.values.set(`${name}${JSON.stringify(labels)}`, value);
  },
};

/** The contract of the greeter node the examples serve and call. */
export const greeterContract = defineContract({
  name: 'greeter',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ name: z.string().min(1) }),
  output: z.object({ greeting: z.string() }),
});

/** The greeter node: a `NodeService` answering `{ greeting: 'Hello, <name>' }`. */
export class Greeter extends NodeService<typeof greeterContract.input, typeof greeterContract.output, typeof greeterContract.config> {
  constructor() {
    super(greeterContract, { logger: createSilentLogger() });
  }

  protected async process(input: { name: string }): Promise<{ greeting: string }> {
    return { greeting: `Hello, ${input.name}` };
  }
}

/** A greeter node, not initialised. */
export const node = new Greeter();
