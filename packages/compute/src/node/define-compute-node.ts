import { ErrorCode, OnexError } from '@onex/core';
import {
  cacheOptionsProblem,
  slowThresholdProblem,
  type AnyComputation,
  type ComputationCacheOptions,
} from '../computation/computation.js';
import { computeContract, type ComputeContractDefinition } from '../contract/compute-contract.js';

/**
 * Settings every computation of a node gets unless it sets its own: written once on the node definition, overridden
 * per computation (`defineComputation({ …, cache: false })`, `slowThresholdMs: 5`). As for effect operations and
 * workflow steps, a computation's own value replaces the default's whole value: its `cache: { ttlMs }` is that TTL
 * with the built-in `maxEntries` (1 000), not merged with `defaults.cache`.
 *
 * @example
 * ```ts
 * const defaults: ComputationDefaults = { slowThresholdMs: 20, cache: { maxEntries: 10_000 } };
 * ```
 */
export interface ComputationDefaults {
  /** Slow-run threshold, ms (`Infinity` turns the warning off). Default 100. */
  readonly slowThresholdMs?: number;
  /**
   * Turns the result cache on for every computation that does not say `cache: false`, with these settings. Off
   * by default: caching is the author's promise that the functions are pure.
   */
  readonly cache?: ComputationCacheOptions;
}

/**
 * A compute node's definition: a pure value — its identity, its computations and their defaults — that
 * `new NodeCompute(definition, options)` serves, `computeContract(definition)` describes to callers, and a test can
 * construct as often as it likes. Runtime things (logger, clock, limits, interceptors) are the node's options.
 *
 * @example
 * ```ts
 * const math: ComputeNodeDefinition<readonly [typeof add]> = { name: 'math', version: '1.0.0', computations: [add] };
 * ```
 */
export interface ComputeNodeDefinition<TComputations extends readonly AnyComputation[] = readonly AnyComputation[]>
  extends ComputeContractDefinition<TComputations> {
  /** Settings of the computations that set none of their own. */
  readonly defaults?: ComputationDefaults | undefined;
}

/**
 * Any compute node definition, whatever its computations.
 *
 * @example
 * ```ts
 * function describe(definition: AnyComputeNodeDefinition): string {
 *   return `${definition.name}@${definition.version}: ${definition.computations.map((c) => c.name).join(', ')}`;
 * }
 * ```
 */
export type AnyComputeNodeDefinition = ComputeNodeDefinition<readonly AnyComputation[]>;

/**
 * The computations of a compute node definition, as a tuple.
 *
 * @example
 * ```ts
 * type Cs = ComputationsOf<typeof math>; // readonly [typeof add]
 * ```
 */
export type ComputationsOf<TDefinition extends AnyComputeNodeDefinition> = TDefinition['computations'];

/** A computation's settings once its own and the node's defaults are merged. */
export interface ResolvedComputationSettings {
  readonly cache: Required<ComputationCacheOptions> | undefined;
  readonly slowThresholdMs: number;
}

const DEFAULT_SLOW_THRESHOLD_MS = 100;
const DEFAULT_MAX_ENTRIES = 1_000;

function defaultsError(node: string, message: string): OnexError {
  return new OnexError(ErrorCode.Contract, `Compute node '${node}': defaults.${message}`);
}

/**
 * Checks a definition's `defaults`.
 *
 * @internal Shared by {@link defineComputeNode} and `NodeCompute`.
 */
export function checkComputationDefaults(node: string, defaults: ComputationDefaults | undefined): void {
  if (defaults === undefined) return;
  const threshold = slowThresholdProblem(defaults.slowThresholdMs);
  if (threshold !== undefined) throw defaultsError(node, threshold);
  const cache = defaults.cache === undefined ? undefined : cacheOptionsProblem(defaults.cache);
  if (cache !== undefined) throw defaultsError(node, cache);
}

/**
 * One computation's settings: its own, else the node's defaults, else the built-in defaults (cache off, 1 000
 * entries and no expiry once on, slow runs at 100 ms).
 *
 * @internal Used by `NodeCompute`.
 */
export function resolveComputationSettings(computation: AnyComputation, defaults: ComputationDefaults | undefined): ResolvedComputationSettings {
  const slowThresholdMs = computation.slowThresholdMs ?? defaults?.slowThresholdMs ?? DEFAULT_SLOW_THRESHOLD_MS;
  // A computation's own cache settings replace the default's whole (as `retry` does for operations and steps).
  const cache = computation.cache ?? defaults?.cache;
  if (cache === undefined || cache === false) return { cache: undefined, slowThresholdMs };
  return { cache: { maxEntries: cache.maxEntries ?? DEFAULT_MAX_ENTRIES, ttlMs: cache.ttlMs ?? Number.POSITIVE_INFINITY }, slowThresholdMs };
}

/**
 * Defines a compute node: checks its computations (at least one, names unique), name, version and `defaults`, and
 * answers the definition as a frozen value. Serve it with `new NodeCompute(definition, options)`, describe it to
 * callers with `computeContract(definition)`, or extend `NodeCompute<typeof definition>` for behaviour of your own.
 *
 * @throws OnexError `CONTRACT` when the definition is invalid.
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { serveNode } from '@onex/core';
 * import { NodeCompute, defineComputation, defineComputeNode } from '@onex/compute';
 *
 * const slugify = defineComputation({
 *   name: 'slugify', input: z.string(), output: z.string(),
 *   compute: (s) => s.toLowerCase().trim().replace(/[^a-z0-9]+/g, '-'),
 * });
 * const text = defineComputeNode({ name: 'text', version: '1.0.0', computations: [slugify], defaults: { slowThresholdMs: 20 } });
 * const served = await serveNode(new NodeCompute(text), { port: 0 });
 * await served.close();
 * ```
 */
export function defineComputeNode<const TComputations extends readonly AnyComputation[]>(
  definition: ComputeNodeDefinition<TComputations>,
): ComputeNodeDefinition<TComputations> {
  // Builds (and drops) the contract: it checks the name, the version and the computations.
  computeContract(definition);
  const { name, version, description, computations, defaults } = definition;
  checkComputationDefaults(name, defaults);
  return Object.freeze({
    name,
    version,
    ...(description === undefined ? {} : { description }),
    computations: Object.freeze([...computations]) as unknown as TComputations,
    ...(defaults === undefined
      ? {}
      : {
          defaults: Object.freeze({
            ...(defaults.slowThresholdMs === undefined ? {} : { slowThresholdMs: defaults.slowThresholdMs }),
            ...(defaults.cache === undefined ? {} : { cache: Object.freeze({ ...defaults.cache }) }),
          }),
        }),
  });
}
