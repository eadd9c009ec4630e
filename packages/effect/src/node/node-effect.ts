import {
  abortReasonToOnexError,
  BreakerState,
  CircuitBreakerRegistry,
  ErrorCode,
  HealthStatus,
  isOnexError,
  isUnclassifiedError,
  NodeService,
  OnexError,
  RetryPolicy,
  toOnexError,
  toWireError,
  type CallContext,
  type CallOptions,
  type CircuitBreaker,
  type ComponentHealth,
  type EmptyConfig,
  type NodeServiceOptions,
  type Result,
  type Schema,
  type WireError,
} from '@onex/core';
import { deepFreeze, validationDetails } from '@onex/core/internal';
import type { z } from 'zod';
import { defineEffectContract, type EffectContractDefinition, type EffectRequest, type EffectRequestSchema, type EffectResult } from '../contract/effect-contract.js';
import { fingerprint } from '../idempotency/fingerprint.js';
import type { IdempotencyOutcome, IdempotencyStore, TransactionalCompletion } from '../idempotency/idempotency-store.js';
import { MemoryIdempotencyStore } from '../idempotency/memory-idempotency-store.js';
import { AttemptContext } from '../operation/attempt-context.js';
import type { AnyEffectOperation, OperationContext } from '../operation/effect-operation.js';
import type { TransactionManager } from '../transaction/transaction-manager.js';
import { KeyedRun } from './keyed-run.js';
import { OperationCounters, type OperationStats } from './operation-stats.js';

/**
 * The names of the operations in `TOps`.
 *
 * @example
 * ```ts
 * type Names = OperationName<[typeof charge, typeof refund]>; // 'charge' | 'refund'
 * ```
 */
export type OperationName<TOps extends readonly AnyEffectOperation[]> = TOps[number]['name'];

/**
 * The operation of `TOps` named `TName`.
 *
 * @example
 * ```ts
 * type Charge = OperationNamed<typeof operations, 'charge'>;
 * ```
 */
export type OperationNamed<TOps extends readonly AnyEffectOperation[], TName extends OperationName<TOps>> = Extract<TOps[number], { readonly name: TName }>;

/**
 * Options of a {@link NodeEffect}: core's node options plus where idempotency records and transactions live.
 *
 * @example
 * ```ts
 * const options: NodeEffectOptions = { idempotencyStore: new SqliteIdempotencyStore({ transactions }), transactions };
 * ```
 */
export interface NodeEffectOptions<TConfig extends Schema = EmptyConfig> extends NodeServiceOptions<TConfig> {
  /**
   * Where idempotency keys and their outcomes are kept. Default: a {@link MemoryIdempotencyStore} the node owns
   * (closed at shutdown). A store passed in is not closed by the node.
   */
  readonly idempotencyStore?: IdempotencyStore;
  /** Runs transactional operations. Required when an operation is `transactional`. Not closed by the node. */
  readonly transactions?: TransactionManager<unknown>;
  /** Registry the per-operation breakers come from (share one to see every breaker). Default: the node's own. */
  readonly breakers?: CircuitBreakerRegistry;
  /** How often expired idempotency records are purged, ms (also once at initialize). 0 disables. Default 1 h. */
  readonly purgeIntervalMs?: number;
}

/**
 * What an effect node is made of: its identity and operations (see {@link defineEffectContract}).
 *
 * @example
 * ```ts
 * const definition: EffectNodeDefinition<[typeof charge]> = { name: 'payments', version: '1.0.0', operations: [charge] };
 * ```
 */
export type EffectNodeDefinition<TOps extends readonly AnyEffectOperation[], TConfig extends Schema = EmptyConfig> = EffectContractDefinition<TOps, TConfig>;

interface PreparedOperation {
  readonly op: AnyEffectOperation;
  readonly retry: RetryPolicy;
  readonly breaker: CircuitBreaker | undefined;
  /** The breaker has its own timeout, so its signal may abort an attempt. */
  readonly breakerTimes: boolean;
  readonly stats: OperationCounters;
  readonly completeInTx: TransactionalCompletion | undefined;
}

interface InFlight {
  readonly fingerprint: string;
  /** The run's result; for a settling entry, a promise that resolves (never rejects) once the key is recorded or released. */
  readonly promise: Promise<unknown>;
  /** Set when the run already answered its caller but its operation still runs, holding the key. */
  readonly settling?: KeyedRun;
}

const NO_RETRY = RetryPolicy.noRetry();
const DEFAULT_PURGE_INTERVAL_MS = 60 * 60 * 1000;

/**
 * The base class of effect nodes: side-effecting I/O (databases, external APIs, files) made safe. The node declares
 * operations ({@link defineOperation}); each runs with its own retry policy, per-attempt timeout (an `AbortSignal`
 * handed to `run`), circuit breaker (`op:<node>:<operation>` from core's registry), and optionally in a database
 * transaction rolled back on error or timeout.
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
 * Protected hooks: {@link invokeOperation} (wrap every attempt), plus core's `onInitialize`, `onShutdown`,
 * `componentHealth`, `extraMetrics` (call `super`).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { NodeEffect, defineOperation } from '@onex/effect';
 * const send = defineOperation({
 *   name: 'send', input: z.object({ to: z.string() }), output: z.object({ id: z.string() }),
 *   retry: { maxAttempts: 3 }, timeoutMs: 2_000,
 *   run: async ({ to }, ctx) => mailer.send(to, { signal: ctx.signal }),
 * });
 * const operations = [send] as const;
 * class Mailer extends NodeEffect<typeof operations> {
 *   constructor() { super({ name: 'mailer', version: '1.0.0', operations }); }
 * }
 * const node = new Mailer();
 * await node.initialize();
 * const r = await node.execute('send', { to: 'ada@example.com' }, { idempotencyKey: 'welcome-ada' });
 * ```
 */
export abstract class NodeEffect<const TOps extends readonly AnyEffectOperation[], TConfig extends Schema = EmptyConfig> extends NodeService<
  EffectRequestSchema<TOps>,
  EffectResult,
  TConfig
> {
  /** The node's operations. */
  readonly operations: TOps;
  /** Where idempotency records live. */
  protected readonly idempotencyStore: IdempotencyStore;
  /** The transaction manager, when the node has one. */
  protected readonly transactions: TransactionManager<unknown> | undefined;
  readonly #prepared: Map<string, PreparedOperation>;
  readonly #inFlight: Map<string, InFlight>;
  readonly #ownsStore: boolean;
  readonly #breakers: CircuitBreakerRegistry;
  readonly #ownsBreakers: boolean;
  readonly #purgeIntervalMs: number;
  #purgeTimer: NodeJS.Timeout | undefined;

  /**
   * @throws OnexError `CONTRACT` for an invalid definition (no operation, duplicate names, a transactional
   *   operation without `transactions`), `VALIDATION` for invalid options or config.
   */
  constructor(definition: EffectNodeDefinition<TOps, TConfig>, options: NodeEffectOptions<TConfig> = {}) {
    super(defineEffectContract(definition), options);
    this.operations = definition.operations;
    this.#ownsStore = options.idempotencyStore === undefined;
    this.idempotencyStore = options.idempotencyStore ?? new MemoryIdempotencyStore();
    this.transactions = options.transactions;
    this.#ownsBreakers = options.breakers === undefined;
    this.#breakers = options.breakers ?? new CircuitBreakerRegistry();
    this.#purgeIntervalMs = options.purgeIntervalMs ?? DEFAULT_PURGE_INTERVAL_MS;
    this.#purgeTimer = undefined;
    this.#inFlight = new Map();
    this.#prepared = new Map();
    const completeInTx = this.transactions === undefined ? undefined : this.idempotencyStore.transactionalCompletion?.(this.transactions);
    for (const op of definition.operations) {
      if (op.transactional && this.transactions === undefined) {
        throw new OnexError(ErrorCode.Contract, `Operation '${op.name}' is transactional but node '${definition.name}' has no transaction manager`);
      }
      const breaker = op.breaker === false ? undefined : this.#breakers.get(`op:${definition.name}:${op.name}`, { timeoutMs: false, ...op.breaker });
      this.#prepared.set(op.name, {
        op,
        retry: new RetryPolicy(op.retry ?? {}),
        breaker,
        breakerTimes: breaker !== undefined && breaker.options.timeoutMs !== false,
        stats: new OperationCounters(),
        completeInTx: op.transactional ? completeInTx : undefined,
      });
    }
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
    try {
      const key = ctx.idempotencyKey;
      const result = key === undefined ? await this.#attempts(prepared, request.input, ctx, undefined) : await this.#keyed(prepared, request.input, ctx, key);
      stats.successes++;
      return { result };
    } catch (error) {
      stats.failures++;
      if (isOnexError(error) && error.code === ErrorCode.Timeout) stats.timeouts++;
      throw error;
    }
  }

  /**
   * Runs one attempt of an operation: by default `operation.run(input, ctx)`. Override to wrap every attempt (a
   * span, a log line); call `super.invokeOperation`.
   *
   * @example
   * ```ts
   * protected override async invokeOperation(op: AnyEffectOperation, input: unknown, ctx: OperationContext<unknown>) {
   *   const started = performance.now();
   *   try { return await super.invokeOperation(op, input, ctx); }
   *   finally { ctx.logger.debug({ op: op.name, ms: performance.now() - started }, 'attempt done'); }
   * }
   * ```
   */
  protected invokeOperation(operation: AnyEffectOperation, input: unknown, ctx: OperationContext<unknown>): Promise<unknown> {
    return operation.run(input, ctx);
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
    for (const entry of this.#inFlight.values()) entry.settling?.abandon();
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

  protected override extraMetrics(): Record<string, unknown> {
    const operations: Record<string, OperationStats> = {};
    for (const { op, stats, breaker } of this.#prepared.values()) operations[op.name] = stats.stats(breaker?.state ?? null);
    return {
      ...super.extraMetrics(),
      operations,
      idempotency: { keysInFlight: this.#inFlight.size, exactlyOnce: this.exactlyOnceOperations },
    };
  }

  async #purge(): Promise<void> {
    try {
      await this.idempotencyStore.purgeExpired();
    } catch (error) {
      this.logger.warn({ err: error }, 'idempotency purge failed');
    }
  }

  /** A keyed call: joins a concurrent duplicate in this process, or claims the key in the store and runs. */
  async #keyed(prepared: PreparedOperation, input: unknown, ctx: CallContext, key: string): Promise<unknown> {
    const scoped = `${this.name}:${prepared.op.name}:${key}`;
    const print = fingerprint(input);
    for (;;) {
      const running = this.#inFlight.get(scoped);
      if (running === undefined) break;
      if (running.fingerprint !== print) throw this.#mismatch(prepared, ctx);
      if (running.settling !== undefined) {
        // The first run answered its caller, but its operation still runs: wait until its key is recorded or
        // released, then ask the store (a replay, or a run of our own).
        await untilSettled(running.promise, ctx.signal, ctx.correlationId);
        continue;
      }
      prepared.stats.dedupHits++;
      try {
        return await running.promise;
      } catch (error) {
        // The first caller gave up (its outcome was released, not stored): run it ourselves unless we gave up too.
        if (isOnexError(error) && error.code === ErrorCode.Cancelled && !ctx.signal.aborted) continue;
        throw error;
      }
    }
    // Every caller joining this key gets this very value: frozen, so one of them cannot change what the others see.
    const promise = this.#claimAndRun(prepared, input, ctx, scoped, print).then((value) => deepFreeze(value));
    const entry: InFlight = { fingerprint: print, promise };
    this.#inFlight.set(scoped, entry);
    try {
      return await promise;
    } finally {
      if (this.#inFlight.get(scoped) === entry) this.#inFlight.delete(scoped);
    }
  }

  async #claimAndRun(prepared: PreparedOperation, input: unknown, ctx: CallContext, scoped: string, print: string): Promise<unknown> {
    const store = this.idempotencyStore;
    const begun = await this.#storeCall(() => store.begin(scoped, print), ctx);
    switch (begun.kind) {
      case 'completed':
        prepared.stats.dedupHits++;
        return replay(begun.outcome, prepared.op, ctx.correlationId);
      case 'mismatch':
        throw this.#mismatch(prepared, ctx);
      case 'in_progress':
        prepared.stats.conflicts++;
        throw new OnexError(ErrorCode.Conflict, `Operation '${prepared.op.name}' with this idempotency key is running elsewhere`, {
          correlationId: ctx.correlationId,
          retryable: true,
          retryAfterMs: begun.retryAfterMs,
          // Marks a CONFLICT of the idempotency layer (not the operation's): a call with this key reached the node.
          context: { operation: prepared.op.name, idempotency: 'in_progress' },
        });
      case 'started':
        break;
    }
    const keyed = new KeyedRun(scoped, begun.token);
    keyed.renewEvery(Math.max(1, store.leaseMs / 3), () => {
      this.#renewLease(prepared, ctx, keyed);
    });
    let value: unknown;
    try {
      value = await this.#attempts(prepared, input, ctx, keyed);
    } catch (thrown) {
      const error = keyed.lost ?? toOnexError(thrown, { correlationId: ctx.correlationId });
      if (keyed.busy && keyed.lost === undefined) this.#holdUntilSettled(prepared, ctx, keyed, print, error);
      else await this.#recordFailure(ctx, keyed, error);
      throw error;
    }
    keyed.finish();
    if (keyed.completedInTx) return value;
    if (keyed.lost !== undefined) {
      ctx.logger.warn({ operation: prepared.op.name }, 'idempotency lease was lost while the operation ran; its result is not recorded');
      return value;
    }
    await this.#recordResult(prepared, ctx, keyed, value);
    return value;
  }

  /** One lease renewal; a holder that lost the key stops its run. */
  #renewLease(prepared: PreparedOperation, ctx: CallContext, keyed: KeyedRun): void {
    const store = this.idempotencyStore;
    void Promise.resolve()
      .then(() => store.renew(keyed.scoped, keyed.token))
      .then(
        (held) => {
          // Refused because our own transaction completed the key (the renewal waited for its COMMIT): not a loss.
          if (held || keyed.finished || keyed.completingInTx || keyed.completedInTx) return;
          ctx.logger.warn({ operation: prepared.op.name }, 'idempotency lease lost to another holder; aborting the operation');
          keyed.lose(
            new OnexError(ErrorCode.Conflict, `Operation '${prepared.op.name}' lost its idempotency lease while it ran (the key expired and was taken, or is gone)`, {
              correlationId: ctx.correlationId,
              retryable: true,
              context: { operation: prepared.op.name, idempotency: 'lease_lost' },
            }),
          );
        },
        (error: unknown) => ctx.logger.warn({ err: error }, 'idempotency lease renewal failed'),
      );
  }

  /**
   * The run answered its caller (timeout, cancel, or a failure while an earlier attempt still runs) but an operation
   * is still running: keep the key — renewed — until it settles, then record its late result or apply the failure
   * rules. Duplicates in this process wait on the settling entry.
   */
  #holdUntilSettled(prepared: PreparedOperation, ctx: CallContext, keyed: KeyedRun, print: string, error: OnexError): void {
    const settled = keyed
      .whenIdle()
      .then(async () => {
        if (keyed.finished) return; // abandoned at shutdown
        const late = keyed.lateResult;
        if (late === undefined || keyed.lost !== undefined) {
          await this.#recordFailure(ctx, keyed, error);
          return;
        }
        keyed.finish();
        if (keyed.completedInTx) return; // recorded inside its transaction
        ctx.logger.info({ operation: prepared.op.name, code: error.code }, 'operation finished after its caller was answered; its result is recorded');
        await this.#recordResult(prepared, ctx, keyed, late.value);
      })
      .catch((e: unknown) => ctx.logger.error({ err: e, operation: prepared.op.name }, 'could not settle an idempotent call after its answer'));
    const entry: InFlight = { fingerprint: print, promise: settled, settling: keyed };
    this.#inFlight.set(keyed.scoped, entry);
    void settled.then(() => {
      if (this.#inFlight.get(keyed.scoped) === entry) this.#inFlight.delete(keyed.scoped);
    });
  }

  /** Stores a successful run's result. A result that is not JSON is a stored `CONTRACT` failure, thrown. */
  async #recordResult(prepared: PreparedOperation, ctx: CallContext, keyed: KeyedRun, value: unknown): Promise<void> {
    const store = this.idempotencyStore;
    let outcome: IdempotencyOutcome;
    try {
      outcome = { ok: true, resultJson: serialize(value, prepared.op.name) };
    } catch (thrown) {
      const error = toOnexError(thrown, { correlationId: ctx.correlationId });
      await this.#recordFailure(ctx, keyed, error);
      throw error;
    }
    keyed.finish();
    try {
      const recorded = await this.#storeCall(() => store.complete(keyed.scoped, keyed.token, outcome), ctx);
      if (!recorded) ctx.logger.warn({ operation: prepared.op.name }, 'idempotency lease was lost before the result was recorded');
    } catch (error) {
      // The effect happened: answer with it. The key stays in progress until its lease expires.
      ctx.logger.error({ err: error, operation: prepared.op.name }, 'could not record the result of an idempotent call');
    }
  }

  /** A failed run: a definite failure is stored, anything else releases the key; nothing when the lease was lost. */
  async #recordFailure(ctx: CallContext, keyed: KeyedRun, error: OnexError): Promise<void> {
    keyed.finish();
    if (keyed.lost !== undefined) return;
    const store = this.idempotencyStore;
    if (isDefiniteFailure(error)) {
      const recorded: IdempotencyOutcome = { ok: false, error: this.#storedError(error) };
      await this.#storeCall(() => store.complete(keyed.scoped, keyed.token, recorded), ctx).catch((e: unknown) =>
        ctx.logger.error({ err: e }, 'could not record the failure of an idempotent call'),
      );
    } else {
      await this.#storeCall(() => store.release(keyed.scoped, keyed.token), ctx).catch((e: unknown) => ctx.logger.warn({ err: e }, 'idempotency release failed'));
    }
  }

  async #storeCall<T>(fn: () => T | Promise<T>, ctx: CallContext): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isOnexError(error)) throw error;
      throw new OnexError(ErrorCode.Unavailable, 'Idempotency store unavailable', { cause: error, correlationId: ctx.correlationId });
    }
  }

  #mismatch(prepared: PreparedOperation, ctx: CallContext): OnexError {
    prepared.stats.conflicts++;
    return new OnexError(ErrorCode.Conflict, `Idempotency key already used with a different input for operation '${prepared.op.name}'`, {
      correlationId: ctx.correlationId,
      context: { operation: prepared.op.name, idempotency: 'mismatch' },
    });
  }

  /** The wire form kept for replay: sanitized, without the first call's correlation id. */
  #storedError(error: OnexError): WireError {
    const { correlationId: _omitted, ...rest } = toWireError(error, { sanitize: this.sanitizer.forWire }).error;
    return { error: rest };
  }

  /**
   * The operation's attempts under its retry policy. The first attempt runs before the policy is entered, so a call
   * that succeeds at once pays nothing for it; after a failure the policy decides, waits and runs the rest (its
   * attempt 1 is the failure already seen). A keyed run's retries wait for attempts still running (see
   * {@link KeyedRun}) and stop when its lease is lost.
   */
  async #attempts(prepared: PreparedOperation, input: unknown, ctx: CallContext, keyed: KeyedRun | undefined): Promise<unknown> {
    const policy = prepared.op.idempotent || keyed !== undefined ? prepared.retry : NO_RETRY;
    const attempt = (n: number): Promise<unknown> => {
      if (keyed?.lost !== undefined) return Promise.reject(keyed.lost);
      const breaker = prepared.breaker;
      if (breaker === undefined) return this.#bounded(prepared, input, ctx, n, keyed, undefined);
      return breaker.execute((breakerSignal) => this.#bounded(prepared, input, ctx, n, keyed, breakerSignal));
    };
    let first: unknown;
    try {
      return await attempt(1);
    } catch (error) {
      if (policy.options.maxAttempts === 1) throw error;
      first = error;
    }
    // A keyed run also stops retrying, and waiting, when its lease is lost.
    const signal = keyed === undefined ? ctx.signal : keyed.signalFor(ctx.signal);
    const retry =
      keyed === undefined
        ? attempt
        : async (n: number): Promise<unknown> => {
            // An earlier attempt that timed out may still run its operation: wait for it rather than run the effect
            // twice at once; if it succeeded after all, its result is the run's.
            if (keyed.busy) await untilSettled(keyed.whenIdle(), signal, ctx.correlationId);
            const late = keyed.lateResult;
            return late === undefined ? attempt(n) : late.value;
          };
    return policy.execute((n) => (n === 1 ? Promise.reject(first as Error) : retry(n)), {
      signal,
      ...(ctx.deadlineAt === undefined ? {} : { deadlineAt: ctx.deadlineAt }),
      onRetry: (info) => {
        prepared.stats.retries++;
        ctx.logger.warn({ operation: prepared.op.name, attempt: info.attempt, delayMs: info.delayMs, code: info.error.code }, 'operation attempt failed; retrying');
      },
    });
  }

  /**
   * One attempt with its own signal: the call's, the breaker's (only when the breaker has a timeout) and the
   * operation's timeout. Without either, the attempt runs on the call's signal (a keyed run's adds its lease, made
   * only if the operation reads it) and `handle()` races the call. (In Node 20 every AbortSignal that gets a
   * listener costs ~4 µs, so this path adds as few as it can.)
   *
   * An attempt stopped by a timeout or an abort answers at once; in a keyed run it stays counted as running until
   * its operation settles (see {@link KeyedRun}), and a lost lease stops it.
   */
  #bounded(
    prepared: PreparedOperation,
    input: unknown,
    ctx: CallContext,
    attempt: number,
    keyed: KeyedRun | undefined,
    breakerSignal: AbortSignal | undefined,
  ): Promise<unknown> {
    const { op } = prepared;
    const timeoutMs = op.timeoutMs;
    const guard = prepared.breakerTimes ? breakerSignal : undefined;
    if (timeoutMs === undefined && guard === undefined) {
      const opCtx = new AttemptContext<unknown>(ctx, op.name, attempt, undefined, keyed);
      return op.transactional ? this.#inTransaction(prepared, input, opCtx, keyed) : this.#produce(prepared, input, opCtx);
    }
    return new Promise<unknown>((resolve, reject) => {
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const cleanup = (): void => {
        settled = true;
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onCallAbort);
        guard?.removeEventListener('abort', onGuardAbort);
      };
      // Rejects at once, even when the operation ignores its signal.
      const stop = (reason: unknown): void => {
        if (settled) return;
        cleanup();
        controller.abort(reason);
        reject(abortReasonToOnexError(controller.signal, ctx.correlationId));
      };
      function onCallAbort(): void {
        stop(ctx.signal.reason);
      }
      function onGuardAbort(): void {
        stop(guard?.reason);
      }
      ctx.signal.addEventListener('abort', onCallAbort, { once: true });
      guard?.addEventListener('abort', onGuardAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          stop(
            new OnexError(ErrorCode.Timeout, `Operation '${op.name}' timed out after ${String(timeoutMs)} ms`, {
              correlationId: ctx.correlationId,
              context: { operation: op.name, timeoutMs },
            }),
          );
        }, timeoutMs);
      }
      if (ctx.signal.aborted) onCallAbort();
      else if (guard?.aborted === true) onGuardAbort();
      else if (keyed?.lost !== undefined) stop(keyed.lost);
      if (settled) return;
      const opCtx = new AttemptContext<unknown>(ctx, op.name, attempt, undefined, controller.signal);
      keyed?.attemptStarted(stop);
      const work = op.transactional ? this.#inTransaction(prepared, input, opCtx, keyed) : this.#produce(prepared, input, opCtx);
      work.then(
        (value) => {
          // Settled after it answered: the key's holder records this value (the effect did happen).
          keyed?.attemptSettled(stop, settled ? { value } : undefined);
          if (settled) return;
          cleanup();
          resolve(value);
        },
        (error: unknown) => {
          keyed?.attemptSettled(stop);
          if (settled) return;
          cleanup();
          // Passed on as thrown: toOnexError classifies foreign values (`{ status: 503 }`) later.
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          reject(error);
        },
      );
    });
  }

  /** A transactional attempt: the run, its output check and (same connection) the idempotency record, then COMMIT. */
  async #inTransaction(prepared: PreparedOperation, input: unknown, opCtx: AttemptContext<unknown>, keyed: KeyedRun | undefined): Promise<unknown> {
    const manager = this.transactions as TransactionManager<unknown>;
    let recorded = false;
    let value: unknown;
    try {
      value = await manager.run(
        async (tx, txSignal) => {
          const produced = await this.#produce(prepared, input, opCtx.inTransaction(tx, txSignal));
          if (keyed !== undefined && prepared.completeInTx !== undefined) {
            const resultJson = serialize(produced, prepared.op.name);
            await prepared.completeInTx(tx, keyed.scoped, keyed.token, { ok: true, resultJson });
            recorded = true;
            keyed.completingInTx = true;
          }
          return produced;
        },
        { signal: opCtx.signal },
      );
    } finally {
      if (keyed !== undefined) keyed.completingInTx = false;
    }
    if (keyed !== undefined && recorded) keyed.completedInTx = true;
    return value;
  }

  /** Runs the operation and checks its output against the operation's schema. */
  async #produce(prepared: PreparedOperation, input: unknown, opCtx: OperationContext<unknown>): Promise<unknown> {
    const produced = await this.invokeOperation(prepared.op, input, opCtx);
    const parsed = prepared.op.output.safeParse(produced);
    if (!parsed.success) {
      throw new OnexError(ErrorCode.Contract, `Operation '${prepared.op.name}' produced output that breaks its schema`, {
        correlationId: opCtx.correlationId,
        details: validationDetails(parsed.error.issues),
      });
    }
    return parsed.data;
  }
}

/**
 * Whether a failed keyed run's outcome is definite, stored as final: a typed error that is not retryable. Retryable
 * errors, `CANCELLED` and unclassified failures (an `INTERNAL` made of a value nobody understood: whether the effect
 * happened is unknown) release the key instead.
 */
function isDefiniteFailure(error: OnexError): boolean {
  return !error.retryable && error.code !== ErrorCode.Cancelled && !isUnclassifiedError(error);
}

/** Waits for `settling` (which never rejects), or rejects with the TIMEOUT/CANCELLED of `signal` when it aborts first. */
function untilSettled(settling: Promise<unknown>, signal: AbortSignal, correlationId: string): Promise<void> {
  if (signal.aborted) return Promise.reject(abortReasonToOnexError(signal, correlationId));
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(abortReasonToOnexError(signal, correlationId));
    signal.addEventListener('abort', onAbort, { once: true });
    void settling.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

function serialize(value: unknown, operation: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new OnexError(ErrorCode.Contract, `Operation '${operation}' produced a result that is not JSON-serializable`, { cause: error });
  }
  return json ?? 'null';
}

/**
 * A stored outcome, answered again: the stored JSON result re-parsed by the operation's output schema (so a schema
 * that turns JSON into richer values — `z.coerce.date()` — gives them back), or the stored error.
 */
function replay(outcome: IdempotencyOutcome, op: AnyEffectOperation, correlationId: string): unknown {
  const operation = op.name;
  if (outcome.ok) {
    const stored: unknown = JSON.parse(outcome.resultJson);
    let parsed = op.output.safeParse(stored);
    // A result of undefined is stored as null (JSON has no undefined): a `z.void()` output reads it back as undefined.
    if (!parsed.success && stored === null) {
      const absent = op.output.safeParse(undefined);
      if (absent.success) parsed = absent;
    }
    if (!parsed.success) {
      throw new OnexError(ErrorCode.Contract, `Stored result of operation '${operation}' does not fit its output schema (as JSON)`, {
        correlationId,
        details: validationDetails(parsed.error.issues),
        context: { operation, idempotentReplay: true },
      });
    }
    return parsed.data;
  }
  const e = outcome.error.error;
  throw new OnexError(e.code, e.message, {
    correlationId,
    retryable: e.retryable,
    context: { ...e.context, operation, idempotentReplay: true },
    ...(e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs }),
    ...(e.details === undefined ? {} : { details: e.details }),
  });
}
