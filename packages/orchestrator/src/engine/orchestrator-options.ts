import { ErrorCode, OnexError, type CircuitBreakerOptions, type CircuitBreakerRegistry, type NodeClient, type NodeContract, type NodeServiceOptions } from '@onex/core';
import type { ScheduleStore } from '../store/schedule-store.js';
import type { WorkflowStore } from '../store/workflow-store.js';

/**
 * What an orchestrator runs with (the second argument of `new Orchestrator(definition, options)`): where workflows
 * live, the peers its steps call, its limits and leases, plus every `NodeServiceOptions` (logger, clock,
 * sanitizer, …).
 *
 * @example
 * ```ts
 * import { createSilentLogger } from '@onex/core';
 * import { MemoryWorkflowStore, type OrchestratorOptions } from '@onex/orchestrator';
 * const options: OrchestratorOptions = {
 *   store: new MemoryWorkflowStore(), maxConcurrentWorkflows: 64, leaseMs: 10_000, logger: createSilentLogger(),
 * };
 * ```
 */
export interface OrchestratorOptions extends Omit<NodeServiceOptions<NodeContract['config']>, 'config'> {
  /** Where workflows are persisted (write-ahead). Default: a `MemoryWorkflowStore` (nothing survives a restart). */
  readonly store?: WorkflowStore;
  /**
   * Where cron schedules live (`orchestrator.schedules`). Default: the workflow store, when it keeps them (the
   * memory, SQLite and PostgreSQL stores do).
   */
  readonly scheduleStore?: ScheduleStore;
  /**
   * How often the instance looks for schedules created on other instances when its store tells it of none (stores
   * with events — memory, PostgreSQL — tell at once), ms. Default 60 000, or 600 000 for a store with events.
   */
  readonly schedulePollMs?: number;
  /** Peer nodes by name; steps and compensations name them. */
  readonly peers?: Readonly<Record<string, NodeClient<NodeContract>>>;
  /**
   * Name of this instance: owner of the workflows it runs. Unique per instance: two instances must never share
   * one. Default `<name>-<random>`, new at each construction, so a restarted instance takes its predecessor's
   * workflows over once their leases expire. Set a stable id (unique per replica) to resume at once after a
   * restart.
   */
  readonly instanceId?: string;
  /** Workflows running at once. Default 256. */
  readonly maxConcurrentWorkflows?: number;
  /** Workflows waiting behind them; past it `start` fails with OVERLOADED. Default 10 000. */
  readonly maxQueuedWorkflows?: number;
  /** Steps of one workflow running at once. Default 16. */
  readonly maxParallelSteps?: number;
  /** The breaker registry (one breaker per peer, `peer:<name>`). Default: its own, with `breakerDefaults`. */
  readonly breakers?: CircuitBreakerRegistry;
  /** Defaults of the breakers the orchestrator creates (default: no breaker timeout — step deadlines apply). */
  readonly breakerDefaults?: CircuitBreakerOptions;
  /**
   * Lease on held workflows, ms; renewed every quarter of it. An instance that cannot renew stops dispatching and
   * aborts its runs a quarter of a lease before the lease could expire elsewhere. Default 30 000.
   */
  readonly leaseMs?: number;
  /** How long `shutdown()` waits for aborted runs to unwind before closing the store, ms. Default 10 000. */
  readonly shutdownTimeoutMs?: number;
}

/** The numeric settings of {@link OrchestratorOptions}, defaults applied and checked. */
export interface OrchestratorLimits {
  readonly maxConcurrentWorkflows: number;
  readonly maxQueuedWorkflows: number;
  readonly maxParallelSteps: number;
  readonly leaseMs: number;
  readonly shutdownTimeoutMs: number;
}

/**
 * Applies the defaults of the numeric options and checks them.
 *
 * @throws OnexError `VALIDATION` naming the option that is not a positive integer (a non-negative one for the queue).
 */
export function resolveLimits(options: OrchestratorOptions): OrchestratorLimits {
  const limits: OrchestratorLimits = {
    maxConcurrentWorkflows: options.maxConcurrentWorkflows ?? 256,
    maxQueuedWorkflows: options.maxQueuedWorkflows ?? 10_000,
    maxParallelSteps: options.maxParallelSteps ?? 16,
    leaseMs: options.leaseMs ?? 30_000,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000,
  };
  for (const [name, value] of Object.entries(limits)) {
    const least = name === 'maxQueuedWorkflows' || name === 'shutdownTimeoutMs' ? 0 : 1;
    if (!Number.isInteger(value) || value < least) {
      throw new OnexError(ErrorCode.Validation, `${name} must be an integer >= ${least} (got ${String(value)})`, { context: { option: name } });
    }
  }
  return limits;
}

/**
 * Options of `Orchestrator.start`.
 *
 * @example
 * ```ts
 * import type { StartOptions } from '@onex/orchestrator';
 * const options: StartOptions = { idempotencyKey: 'order-o-1', timeoutMs: 60_000 };
 * const tomorrow: StartOptions = { delayMs: 86_400_000 }; // created now, runs in a day
 * ```
 */
export interface StartOptions {
  /** Registered version, when starting by type; default the highest registered. A definition names its own. */
  readonly version?: string;
  /** A start with a key already used returns the existing workflow's id. */
  readonly idempotencyKey?: string;
  /** Whole-workflow deadline from now, ms (default: the definition's `timeoutMs`). */
  readonly timeoutMs?: number;
  /** Absolute deadline, epoch ms. */
  readonly deadlineAt?: number;
  /** Correlation id every step call carries. */
  readonly correlationId?: string;
  /** @internal parent workflow of a nested run. */
  readonly parentId?: string;
  /** Explicit id (e.g. derived from a parent); default a time-ordered UUID (version 7). */
  readonly id?: string;
  /**
   * Delayed start: the workflow is created durably at once but runs only from this time, epoch ms or a `Date`, on
   * whichever instance claims it when due (after a restart too). Its `timeoutMs` counts from then. A time already
   * past starts it at once. Not with `delayMs`.
   */
  readonly startAt?: number | Date;
  /** Delayed start, ms from now (see `startAt`). Not with `startAt`. */
  readonly delayMs?: number;
  /**
   * Among workflows waiting for a slot on the instance (past `maxConcurrentWorkflows`, or their key's limit), higher
   * runs first; equal ones in start order. An integer, default 0. Stored with the workflow.
   */
  readonly priority?: number;
  /**
   * At most `concurrencyLimit` (default 1) workflows of this key are held at once across every instance sharing
   * the store (a claim takes one only while its key has a slot free; a parked workflow holds none); the others wait
   * (durably: they are stored, pending) while workflows of other keys go on. Children and cancelled workflows are
   * exempt. A keyed workflow is stored unowned and runs on whichever instance claims it first. For example
   * `concurrencyKey: \`tenant:${tenant}\`, concurrencyLimit: 2`. Stored with the workflow.
   */
  readonly concurrencyKey?: string;
  readonly concurrencyLimit?: number;
}

/**
 * Options of `Orchestrator.result` and `Orchestrator.cancel`.
 *
 * @example
 * ```ts
 * import type { ResultOptions } from '@onex/orchestrator';
 * const options: ResultOptions = { signal: AbortSignal.timeout(5_000) }; // stop waiting after 5 s
 * ```
 */
export interface ResultOptions {
  /** Stops the wait (CANCELLED); the workflow goes on. */
  readonly signal?: AbortSignal;
}
