import { defineContract, ErrorCode, NodeKind, OnexError, type EmptyConfig, type NodeContract } from '@onex/core';
import { z } from 'zod';
import type { AnyComputation, ComputationName, ComputationNamed } from '../computation/computation.js';
import { ComputeRequest, ComputeResponse } from '../node/compute-protocol.js';

/**
 * The input schema of one computation's contract: the `{ computation, input }` envelope with that computation's
 * name and input schema (strict, as the node's {@link ComputeRequest} is).
 *
 * @example
 * ```ts
 * type In = z.input<ComputationRequestSchema<typeof add>>; // { computation: 'add'; input: { a: number; b: number } }
 * ```
 */
export type ComputationRequestSchema<C extends AnyComputation> = z.ZodObject<{ computation: z.ZodLiteral<C['name']>; input: C['input'] }, z.core.$strict>;

/**
 * The output schema of one computation's contract: `{ result }` with that computation's output schema.
 *
 * @example
 * ```ts
 * type Out = z.output<ComputationResponseSchema<typeof add>>; // { result: { sum: number } }
 * ```
 */
export type ComputationResponseSchema<C extends AnyComputation> = z.ZodObject<{ result: C['output'] }, z.core.$strip>;

/**
 * The contract of one computation of a compute node, as a caller sees it: `{ computation: name, input }` in,
 * `{ result }` out, both typed by the computation's own schemas. Made by {@link ComputeContract.computation}; a
 * typed `createNodeClient` or workflow step (`peer(name, contract)`) is built from it.
 *
 * @example
 * ```ts
 * const quote: ComputationContract<typeof quoteComputation> = computeContract(pricing).computation('order.quote');
 * ```
 */
export type ComputationContract<C extends AnyComputation> = NodeContract<ComputationRequestSchema<C>, ComputationResponseSchema<C>, EmptyConfig>;

/**
 * The contract of a compute node: the whole wire protocol ({@link ComputeRequest} in, {@link ComputeResponse} out,
 * single inputs and batches of any computation), plus {@link ComputeContract.computation} for the typed contract of
 * one computation.
 *
 * @example
 * ```ts
 * const contract: ComputeContract<readonly [typeof add]> = computeContract({ name: 'math', version: '1.0.0', computations: [add] });
 * ```
 */
export interface ComputeContract<TComputations extends readonly AnyComputation[] = readonly AnyComputation[]>
  extends NodeContract<typeof ComputeRequest, typeof ComputeResponse, EmptyConfig> {
  /** Names of the node's computations, in definition order. */
  readonly computations: readonly ComputationName<TComputations>[];
  /**
   * The typed contract of one computation: input `{ computation: name, input }`, output `{ result }` with that
   * computation's output type (not the union the node's envelope answers). Built once per name.
   *
   * @throws OnexError `CONTRACT` for a name the node does not serve (only reachable from untyped code).
   * @example
   * ```ts
   * const quote = computeContract(pricing).computation('order.quote');
   * const client = createNodeClient('http://127.0.0.1:4001', quote);
   * const r = await client.call({ computation: 'order.quote', input: order }); // r.value.result: Quote
   * ```
   */
  computation<TName extends ComputationName<TComputations>>(name: TName): ComputationContract<ComputationNamed<TComputations, TName>>;
}

/**
 * What {@link computeContract} takes: a compute node definition (`defineComputeNode(...)`), or just the parts a
 * caller knows — name, version and computations.
 *
 * @example
 * ```ts
 * const definition: ComputeContractDefinition<readonly [typeof add]> = { name: 'math', version: '1.0.0', computations: [add] };
 * ```
 */
export interface ComputeContractDefinition<TComputations extends readonly AnyComputation[]> {
  /** Node name, kebab-case. */
  readonly name: string;
  /** Semantic version of the node's contract. */
  readonly version: string;
  /** One sentence for people. Default: the list of computations. */
  readonly description?: string | undefined;
  /** The computations the node serves (at least one; names unique). */
  readonly computations: TComputations;
}

function isComputation(value: unknown): value is AnyComputation {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Partial<Record<keyof AnyComputation, unknown>>;
  return typeof c.name === 'string' && typeof c.compute === 'function' && typeof c.input === 'object' && typeof c.output === 'object';
}

/** Echoed names can be untyped caller text: keep them short in messages. */
function quoteName(name: string): string {
  return `'${name.length > 128 ? `${name.slice(0, 128)}…` : name}'`;
}

/**
 * The computations of a definition by name, checked: at least one, each made by `defineComputation`, names unique.
 *
 * @internal Shared by {@link computeContract} and `NodeCompute`.
 */
export function computationsByName(node: string, computations: unknown): ReadonlyMap<string, AnyComputation> {
  if (!Array.isArray(computations) || computations.length === 0) {
    throw new OnexError(ErrorCode.Contract, `Compute node '${node}' needs at least one computation`);
  }
  const byName = new Map<string, AnyComputation>();
  for (const computation of computations as readonly unknown[]) {
    if (!isComputation(computation)) throw new OnexError(ErrorCode.Contract, `Compute node '${node}': computations must be made by defineComputation()`);
    if (byName.has(computation.name)) {
      throw new OnexError(ErrorCode.Contract, `Compute node '${node}' registers computation '${computation.name}' twice`, { context: { computation: computation.name } });
    }
    byName.set(computation.name, computation);
  }
  return byName;
}

/**
 * The contract of a compute node with these computations — the node's own (`node.contract` is the same), and the
 * typed contract of each computation for callers: `computeContract(def).computation('order.quote')` types the
 * input as that computation's input and the output as `{ result: <its output> }`. A caller needs only the
 * computations (or the node's definition), not the node.
 *
 * @throws OnexError `CONTRACT` when there is no computation, one was not made by `defineComputation`, two share a
 *   name, or the name or version is invalid.
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { createNodeClient } from '@onex/core';
 * import { computeContract, defineComputation } from '@onex/compute';
 *
 * const add = defineComputation({
 *   name: 'add', input: z.object({ a: z.number(), b: z.number() }), output: z.object({ sum: z.number() }),
 *   compute: ({ a, b }) => ({ sum: a + b }),
 * });
 * const math = computeContract({ name: 'math', version: '1.0.0', computations: [add] });
 * const client = createNodeClient('http://127.0.0.1:4001', math.computation('add'));
 * const r = await client.call({ computation: 'add', input: { a: 1, b: 2 } });
 * if (r.ok) console.log(r.value.result.sum); // 3
 * await client.close();
 * ```
 */
export function computeContract<const TComputations extends readonly AnyComputation[]>(
  definition: ComputeContractDefinition<TComputations>,
): ComputeContract<TComputations> {
  const { name, version } = definition;
  const byName = computationsByName(name, definition.computations);
  const names = [...byName.keys()];
  const envelope = defineContract({
    name,
    kind: NodeKind.Compute,
    version,
    description: definition.description ?? `Pure computations: ${names.join(', ')}.`,
    input: ComputeRequest,
    output: ComputeResponse,
  });
  const built = new Map<string, NodeContract>();
  const computation = (computationName: string): NodeContract => {
    const known = built.get(computationName);
    if (known !== undefined) return known;
    const c = byName.get(computationName);
    if (c === undefined) {
      throw new OnexError(ErrorCode.Contract, `Compute node '${name}' has no computation ${quoteName(String(computationName))}`, {
        context: { computation: String(computationName).slice(0, 128) },
      });
    }
    const contract = defineContract({
      name,
      kind: NodeKind.Compute,
      version,
      description: c.description ?? `Computation '${c.name}' of compute node '${name}'.`,
      input: z.strictObject({ computation: z.literal(c.name), input: c.input }),
      output: z.object({ result: c.output }),
    });
    built.set(computationName, contract);
    return contract;
  };
  return Object.freeze({
    ...envelope,
    computations: Object.freeze(names),
    // `computation(name)` built the contract from the computation called `name`, with that computation's own schemas.
    computation: computation as ComputeContract<TComputations>['computation'],
  });
}
