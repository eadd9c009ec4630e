import {
  BreakerState,
  CircuitBreakerRegistry,
  composeInterceptors,
  ErrorCode,
  HealthStatus,
  isOnexError,
  NodeService,
  OnexAttribute,
  OnexError,
  toOnexError,
  type CallContext,
  type CallOptions,
  type ComponentHealth,
  type EmptyConfig,
  type Result,
  type Schema,
} from '@onex/core';
import { onexTracer, packageVersion, runInSpan } from '@onex/core/internal';
import { context, type Tracer } from '@opentelemetry/api';
import type { z } from 'zod';
import { defineEffectContract, type EffectContract, type EffectRequest, type EffectRequestSchema, type EffectResult } from '../contract/effect-contract.js';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import { KeyedCalls } from '../idempotency/keyed-calls.js';
import { MemoryIdempotencyStore } from '../idempotency/memory-idempotency-store.js';
import { runAttempts } from '../operation/attempts.js';
import type { AnyEffectOperation, OperationContext } from '../operation/effect-operation.js';
import { checkOperationDefaults, resolveOperationSettings } from '../operation/operation-defaults.js';
import type { OperationName, OperationNamed } from '../operation/operation-signature.js';
import { produce, type PreparedOperation } from '../operation/prepared-operation.js';
import type { TransactionManager } from '../transaction/transaction-manager.js';
import { runInTransaction } from '../transaction/transactional-attempt.js';
import type { EffectNodeDefinition } from './define-effect-node.js';
import { DEFAULT_PURGE_INTERVAL_MS, type NodeEffectOptions } from './node-effect-options.js';
import { OperationCounters, type EffectStats, type OperationStats } from './operation-stats.js';

/** The version of `@onex/effect`, for its tracer. */
const VERSION = packageVersion(import.meta.url);

/**
 * An effect node: side-effecting I/O (databases, external APIs, files) made safe. Built from a definition (a value:
 * {@link defineEffectNode}) and options (stores, transactions, logger): `new NodeEffect(definition, options)`, or a
 * subclass that passes its definition to `super`. The definition declares operations ({@link defineOperation}); each
 * runs with its retry policy, per-attempt timeout (an `AbortSignal` handed to `run`), circuit breaker
 * (`op:<node>:<operation>` from core's registry) and interceptors — its own, else the definition's `defaults` — and
 * optionally in a database transaction rolled back on error or timeout.
 *
 * **Contract.** Input `{ operation, input }`, output `{ result }` (see {@link defineEffectContract}); in process,
 * {@link execute} is the typed form. Served with core's `serveNode` like any node.
 *
 * **Idempotency.** A call with an idempotency key (`CallOptions.idempotencyKey`, the `idempotency-key` header; the
 * orchestrator sends `<workflowId>:<step>`) runs at most once per operation: keys are scoped as
 * `<node>:<operation>:<key>`; a repeat gets the stored result (its JSON re-parsed by the operation's output schema),
 * or the stored error; concurrent duplicates in the process wait for the first and share its result, deep-frozen; a
 * duplicate running in another process is refused with a retryable `CONFLICT`
 * (`retryAfterMs` = the holder's remaining lease); the same key with a different input is a `CONFLICT`. These
 * conflicts of the idempotency layer carry `context.idempotency` (`in_progress`, `mismatch`, `lease_lost`), so a
 * caller can tell them from an operation's own CONFLICT: they mean a call with that key reached the node.
 *
 * The key is held (its lease renewed) until the operation has settled — its promise resolved or rejected — even
 * when the caller was already answered `TIMEOUT` or `CANCELLED` by an operation that ignores its signal: a
 * duplicate in this process then waits for that run and gets its recorded outcome (or runs if the key was
 * released), one in another process gets the retryable `CONFLICT`; never a second run alongside the first. A result
 * produced after the caller's answer is recorded. Then, by the outcome:
 *
 * - stored (definite outcomes, replayed for the retention window): results, and typed errors that are not
 *   retryable — `VALIDATION`, `NOT_FOUND`, `CONFLICT`, `CONTRACT`, an `INTERNAL` the operation threw as an
 *   `OnexError`, …;
 * - released (a retry may run again, once the operation has settled — at-least-once): retryable errors (`TIMEOUT`,
 *   `UNAVAILABLE`, `CIRCUIT_OPEN`, …, including a foreign error whose cause is a dropped connection), `CANCELLED`,
 *   and failures nobody classified (a thrown value that is not an `OnexError` and reads as nothing known becomes an
 *   `INTERNAL` for which {@link isUnclassifiedError} is true): whether their effect happened is unknown, and storing
 *   them would fail every retry of the key for the retention window.
 *
 * A renewal that answers the lease is lost (the store gave the key to another holder) aborts the running
 * operation's signal; the run records nothing and answers a retryable `CONFLICT` (or its result, when the operation
 * finished anyway). At shutdown, runs still holding a key after their answer stop renewing: their lease lapses as
 * after a crash.
 *
 * **Guarantee.** A transactional operation whose idempotency store shares the transaction manager's connection
 * (`new SqliteIdempotencyStore({ transactions })`, or `new PostgresIdempotencyStore({ transactions })` from
 * `@onex/effect/postgres`, shared by any number of replicas) records its completion inside its transaction:
 * exactly-once, even across a crash. Otherwise: at-least-once, with completed keys never run again; forward `ctx.idempotencyKey` to
 * external systems that accept one.
 *
 * **Retries.** A non-idempotent operation (`idempotent: false`) is retried only when the call carries a key. In a
 * keyed run, a retry after a timed-out attempt whose operation still runs waits for it instead of running the effect
 * beside it, and answers its result if it succeeded after all.
 *
 * **Interceptors** (`defaults.interceptors`, an operation's `interceptors`) wrap `run` in every attempt; see
 * {@link OperationInterceptor}.
 *
 * **Metrics.** {@link stats} (also in `metrics().extra`) counts per operation. In Prometheus (`GET /metrics`) calls
 * are labelled by operation (`onex_node_calls_total{operation="send"}`), beside `onex_effect_dedup_hits_total`,
 * `_conflicts_total`, `_retries_total` and `_timeouts_total`, each labelled `operation`, the gauge
 * `onex_effect_idempotency_keys_in_flight`, and the `onex_circuit_breaker_*` families of each operation's breaker
 * (`breaker="op:<node>:<operation>"`); all read at scrape time.
 *
 * **Traces.** Beside core's `process <node>` span, each call of an operation is a span `effect <operation>`
 * (attributes `onex.operation`, `onex.idempotency_key`; `ERROR` with `onex.error.code` when it fails), and each
 * attempt of a transactional operation a child span `transaction <operation>` (`onex.attempt`).
 *
 * Protected hooks: {@link invokeOperation} (the end of the chain), plus core's
 * `onInitialize`, `onShutdown`, `componentHealth`, `extraMetrics` (call `super`).
 *
 * @example
 * ```ts
 * import { createSilentLogger } from '@onex/core';
 * import { defineEffectNode, defineOperation, NodeEffect, type NodeEffectOptions } from '@onex/effect';
 * import { z } from 'zod';
 * const sent: string[] = [];
 * const send = defineOperation({
 *   name: 'send', input: z.object({ to: z.string() }), output: z.object({ id: z.string() }),
 *   idempotent: false,
 *   run: async ({ to }, ctx) => {
 *     ctx.signal.throwIfAborted();
 *     sent.push(to);
 *     return { id: `msg-${sent.length}` };
 *   },
 * });
 * const mailer = defineEffectNode({ name: 'mailer', version: '1.0.0', operations: [send], defaults: { timeoutMs: 2_000 } });
 *
 * class Mailer extends NodeEffect<typeof mailer.operations> {
 *   constructor(options: NodeEffectOptions = {}) {
 *     super(mailer, options);
 *   }
 * }
 * const node = new Mailer({ logger: createSilentLogger() });
 * await node.initialize();
 * const r = await node.execute('send', { to: 'ada@example.com' }, { idempotencyKey: 'welcome-ada' });
 * if (r.ok) console.log(r.value.id); // 'msg-1', and the same again for the same key
 * await node.shutdown();
 * ```
 */
export class NodeEffect<const TOps extends readonly AnyEffectOperation[], TConfig extends Schema = EmptyConfig> extends NodeService<
  EffectRequestSchema<TOps>,
  EffectResult,
  TConfig
> {
  /** The node's contract; `contract.operation(name)` is one operation's, typed, for its callers. */
  declare readonly contract: EffectContract<TOps, TConfig>;
  /** The node's definition, as given. */
  readonly definition: EffectNodeDefinition<TOps, TConfig>;
  /** The node's operations. */
  readonly operations: TOps;
  /** Where idempotency records live. */
  protected readonly idempotencyStore: IdempotencyStore;
  /** The transaction manager, when the node has one. */
  protected readonly transactions: TransactionManager<unknown> | undefined;
  readonly #prepared: Map<string, PreparedOperation>;
  readonly #keyed: KeyedCalls;
  readonly #ownsStore: boolean;
  readonly #breakers: CircuitBreakerRegistry;
  readonly #ownsBreakers: boolean;
  readonly #purgeIntervalMs: number;
  #purgeTimer: NodeJS.Timeout | undefined;
  readonly #tracer: Tracer;

  /**
   * @throws OnexError `CONTRACT` for an invalid definition (no operation, duplicate names, an invalid default, a
   *   transactional operation without `transactions`), `VALIDATION` for invalid options or config.
   */
  constructor(definition: EffectNodeDefinition<TOps, TConfig>, options: NodeEffectOptions<TConfig> = {}) {
    super(defineEffectContract(definition), options);
    const defaults = definition.defaults ?? {};
    checkOperationDefaults(definition.name, defaults);
    this.definition = definition;
    this.operations = definition.operations;
    this.#ownsStore = options.idempotencyStore === undefined;
    this.idempotencyStore = options.idempotencyStore ?? new MemoryIdempotencyStore();
    this.transactions = options.transactions;
    this.#ownsBreakers = options.breakers === undefined;
    this.#breakers = options.breakers ?? new CircuitBreakerRegistry();
    this.#purgeIntervalMs = options.purgeIntervalMs ?? DEFAULT_PURGE_INTERVAL_MS;
    this.#purgeTimer = undefined;
    this.#tracer = onexTracer(this.tracerProvider, '@onex/effect', VERSION);
    const tracer = this.#tracer;
    this.#keyed = new KeyedCalls(definition.name, this.idempotencyStore, this.sanitizer);
    this.#prepared = new Map();
    const manager = this.transactions;
    const completeInTx = manager === undefined ? undefined : this.idempotencyStore.transactionalCompletion?.(manager);
    for (const op of definition.operations) {
      if (op.transactional && manager === undefined) {
        throw new OnexError(ErrorCode.Contract, `Operation '${op.name}' is transactional but node '${definition.name}' has no transaction manager`);
      }
      const settings = resolveOperationSettings(op, defaults);
      const breaker = settings.breaker === false ? undefined : this.#breakers.get(`op:${definition.name}:${op.name}`, { timeoutMs: false, ...settings.breaker });
      const call = composeInterceptors<unknown, unknown, OperationContext<unknown>>(settings.interceptors, (input, ctx) => this.invokeOperation(op, input, ctx));
      const transactionSpan = `transaction ${op.name}`;
      const prepared: PreparedOperation = {
        op,
        spanName: `effect ${op.name}`,
        timeoutMs: settings.timeoutMs,
        retry: settings.retry,
        breaker,
        breakerTimes: breaker !== undefined && breaker.options.timeoutMs !== false,
        stats: new OperationCounters(),
        completeInTx: op.transactional ? completeInTx : undefined,
        call,
        work:
          op.transactional && manager !== undefined
            ? (input, opCtx, keyed) => {
                const span = tracer.startSpan(transactionSpan, undefined, context.active());
                if (span.isRecording()) {
                  span.setAttribute(OnexAttribute.Operation, op.name);
                  span.setAttribute(OnexAttribute.Attempt, opCtx.attempt);
                }
                return runInSpan(span, () => runInTransaction(manager, prepared, input, opCtx, keyed));
              }
            : (input, opCtx) => produce(prepared, input, opCtx),
      };
      this.#prepared.set(op.name, prepared);
    }
    this.labelCallsByOperation([...this.#prepared.keys()], (request) => request.operation);
    this.#registerMetrics();
  }

  /**
   * Operations whose completion commits with their transaction (exactly-once).
   *
   * @example
   * ```ts
   * node.exactlyOnceOperations; // ['credit']
   * ```
   */
  get exactlyOnceOperations(): readonly string[] {
    return [...this.#prepared.values()].filter((p) => p.completeInTx !== undefined).map((p) => p.op.name);
  }

  /**
   * Runs operation `name` through `handle()` (lifecycle, deadline, metrics, validation) and returns its typed
   * result. Never throws.
   *
   * @example
   * ```ts
   * const r = await node.execute('charge', { amount: 10 }, { idempotencyKey: 'order-42', timeoutMs: 5_000 });
   * if (r.ok) console.log(r.value.chargeId); else console.error(r.error.code);
   * ```
   */
  async execute<TName extends OperationName<TOps>>(
    name: TName,
    input: z.input<OperationNamed<TOps, TName>['input']>,
    options?: CallOptions,
  ): Promise<Result<z.output<OperationNamed<TOps, TName>['output']>>> {
    const r = await this.handle({ operation: name, input }, options);
    return r.ok ? { ok: true, value: r.value.result as z.output<OperationNamed<TOps, TName>['output']> } : r;
  }

  /**
   * Like {@link execute}, but returns the result and throws the {@link OnexError} of a failed call.
   *
   * @example
   * ```ts
   * const { chargeId } = await node.executeOrThrow('charge', { amount: 10 });
   * ```
   */
  async executeOrThrow<TName extends OperationName<TOps>>(
    name: TName,
    input: z.input<OperationNamed<TOps, TName>['input']>,
    options?: CallOptions,
  ): Promise<z.output<OperationNamed<TOps, TName>['output']>> {
    const r = await this.execute(name, input, options);
    if (r.ok) return r.value;
    throw r.error;
  }

  /** Dispatches a validated request to its operation. Override {@link invokeOperation} rather than this. */
  protected async process(request: EffectRequest<TOps>, ctx: CallContext): Promise<z.input<EffectResult>> {
    const prepared = this.#prepared.get(request.operation) as PreparedOperation;
    const stats = prepared.stats;
    stats.calls++;
    const span = this.#tracer.startSpan(prepared.spanName, undefined, context.active());
    const key = ctx.idempotencyKey;
    if (span.isRecording()) {
      span.setAttribute(OnexAttribute.Operation, prepared.op.name);
      if (key !== undefined) span.setAttribute(OnexAttribute.IdempotencyKey, key);
    }
    try {
      const result = await runInSpan(span, () => (key === undefined ? runAttempts(prepared, request.input, ctx, undefined) : this.#keyed.run(prepared, request.input, ctx, key)));
      stats.successes++;
      return { result };
    } catch (error) {
      stats.failures++;
      if (isOnexError(error) && error.code === ErrorCode.Timeout) stats.timeouts++;
      throw error;
    }
  }

  /**
   * Runs one attempt of an operation — the end of its interceptor chain: by default `operation.run(input, ctx)`.
   * Override to wrap every attempt of every operation in code (a span, a log line); call `super.invokeOperation`.
   * For behaviour a definition should carry, prefer `defaults.interceptors`.
   *
   * @example
   * ```ts
   * const charge = defineOperation({
   *   name: 'charge', input: z.object({ amount: z.number() }), output: z.object({ chargeId: z.string() }),
   *   run: async ({ amount }) => ({ chargeId: `ch-${amount}` }),
   * });
   * const payments = defineEffectNode({ name: 'payments', version: '1.0.0', operations: [charge] });
   * const attempts: string[] = []; // a profiler's spans, say
   *
   * class TimedPayments extends NodeEffect<typeof payments.operations> {
   *   protected override async invokeOperation(op: AnyEffectOperation, input: unknown, ctx: OperationContext<unknown>): Promise<unknown> {
   *     const started = performance.now();
   *     try { return await super.invokeOperation(op, input, ctx); }
   *     finally { attempts.push(`${op.name} attempt ${ctx.attempt}: ${(performance.now() - started).toFixed(1)} ms`); }
   *   }
   * }
   * const node = new TimedPayments(payments, { logger: createSilentLogger() });
   * await node.initialize();
   * await node.execute('charge', { amount: 10 });
   * console.log(attempts); // ['charge attempt 1: 0.1 ms']
   * await node.shutdown();
   * ```
   */
  protected invokeOperation(operation: AnyEffectOperation, input: unknown, ctx: OperationContext<unknown>): Promise<unknown> {
    // `AnyEffectOperation` erases the transaction's type (`never`); `ctx.tx` is the one the node's manager opened.
    return operation.run(input, ctx as OperationContext<never>);
  }

  protected override async onInitialize(): Promise<void> {
    await super.onInitialize();
    if (this.#purgeIntervalMs > 0) {
      await this.#purge();
      this.#purgeTimer = setInterval(() => void this.#purge(), this.#purgeIntervalMs);
      this.#purgeTimer.unref();
    }
  }

  protected override async onShutdown(): Promise<void> {
    clearInterval(this.#purgeTimer);
    this.#purgeTimer = undefined;
    // Operations still running after their caller was answered: stop holding their keys (as a crash would).
    this.#keyed.abandonAll();
    try {
      await super.onShutdown();
    } finally {
      if (this.#ownsBreakers) this.#breakers.shutdown();
      if (this.#ownsStore) await this.idempotencyStore.close();
    }
  }

  protected override async componentHealth(): Promise<Record<string, ComponentHealth>> {
    const components: Record<string, ComponentHealth> = { ...(await super.componentHealth()) };
    try {
      components['idempotency'] = await this.idempotencyStore.health();
    } catch (error) {
      components['idempotency'] = { status: HealthStatus.Unhealthy, detail: this.sanitizer.sanitizeText(toOnexError(error).message) };
    }
    const transactions = this.transactions?.health?.();
    if (transactions !== undefined) components['transactions'] = transactions;
    for (const { op, breaker } of this.#prepared.values()) {
      if (breaker === undefined) continue;
      const state = breaker.state;
      components[`operation:${op.name}`] = {
        status: state === BreakerState.Closed ? HealthStatus.Healthy : HealthStatus.Degraded,
        detail: `circuit ${state}`,
        data: { ...breaker.stats() },
      };
    }
    return components;
  }

  /**
   * Counters per operation and the idempotency keys in flight (also in `metrics().extra`).
   *
   * @example
   * ```ts
   * const { operations } = node.stats();
   * console.log(operations['charge']?.calls);
   * ```
   */
  stats(): EffectStats {
    const operations: Record<string, OperationStats> = {};
    for (const { op, stats, breaker } of this.#prepared.values()) operations[op.name] = stats.stats(breaker?.state ?? null);
    return { operations, idempotency: { keysInFlight: this.#keyed.inFlight, exactlyOnce: this.exactlyOnceOperations } };
  }

  /** Adds {@link EffectStats} (`operations` and `idempotency`) to `metrics().extra`. */
  protected override extraMetrics(): Record<string, unknown> {
    return { ...super.extraMetrics(), ...this.stats() };
  }

  /**
   * The kind's Prometheus families, read at scrape time from the operations' counters, the in-flight keys and the
   * operations' breakers (each one, not the whole registry, which may be shared with other nodes).
   */
  #registerMetrics(): void {
    const perOperation = (name: string, help: string, value: (c: OperationCounters) => number): void =>
      this.prometheus.counter({
        name,
        help,
        labelNames: ['operation'],
        collect: (emit) => this.#prepared.forEach(({ stats }, operation) => emit({ operation }, value(stats))),
      });
    perOperation('onex_effect_dedup_hits_total', 'Calls answered without running: replayed from the idempotency store or joined to a concurrent duplicate.', (c) => c.dedupHits);
    perOperation('onex_effect_conflicts_total', 'Keyed calls refused because their key was reused with another input or is being run elsewhere.', (c) => c.conflicts);
    perOperation('onex_effect_retries_total', "Attempts after the first, made by the operation's retry policy.", (c) => c.retries);
    perOperation('onex_effect_timeouts_total', 'Calls of the operation that failed with TIMEOUT.', (c) => c.timeouts);
    this.prometheus.gauge({
      name: 'onex_effect_idempotency_keys_in_flight',
      help: 'Keyed runs in this process not settled yet (running, or settling after their caller was answered).',
      collect: (emit) => emit({}, this.#keyed.inFlight),
    });
    for (const { breaker } of this.#prepared.values()) if (breaker !== undefined) this.prometheus.breakers(breaker);
  }

  async #purge(): Promise<void> {
    try {
      await this.idempotencyStore.purgeExpired();
    } catch (error) {
      this.logger.warn({ err: error }, 'idempotency purge failed');
    }
  }
}
