import type { EmptyConfig, Schema } from '@onex/core';
import { defineEffectContract, type EffectContractDefinition } from '../contract/effect-contract.js';
import type { AnyEffectOperation } from '../operation/effect-operation.js';
import { checkOperationDefaults, type OperationDefaults } from '../operation/operation-defaults.js';

/**
 * What an effect node is, as a pure value: its identity, its operations, its config schema and the defaults its
 * operations share. Build the node with `new NodeEffect(definition, options)`; build its callers' contract with
 * `defineEffectContract(definition)`.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineOperation, type EffectNodeDefinition } from '@onex/effect';
 * const ping = defineOperation({ name: 'ping', input: z.object({}), output: z.object({ pong: z.boolean() }), run: async () => ({ pong: true }) });
 * const definition: EffectNodeDefinition<[typeof ping]> = {
 *   name: 'pinger', version: '1.0.0', operations: [ping], defaults: { timeoutMs: 1_000 },
 * };
 * ```
 */
export interface EffectNodeDefinition<TOps extends readonly AnyEffectOperation[], TConfig extends Schema = EmptyConfig> extends EffectContractDefinition<TOps, TConfig> {
  /**
   * Settings every operation gets unless it names its own: `timeoutMs`, `retry`, `breaker` (an operation's own
   * value replaces the default's whole value) and `interceptors` (run outside the operation's own).
   */
  readonly defaults?: OperationDefaults;
}

/**
 * Makes an effect node's definition: checks it (operations, names, version, defaults) and freezes it. The answer is a
 * value, not a node: serve it with `new NodeEffect(definition, options)`, test it with different options, share it
 * with the node's callers.
 *
 * @throws OnexError `CONTRACT` for an invalid definition (no operation, duplicate names, a name that is not
 *   kebab-case, a version that is not semantic, an invalid default).
 * @example
 * ```ts
 * import { serveNode } from '@onex/core';
 * import { defineEffectNode, defineOperation, NodeEffect } from '@onex/effect';
 * import { z } from 'zod';
 * const send = defineOperation({
 *   name: 'send', input: z.object({ to: z.string() }), output: z.object({ id: z.string() }),
 *   run: async ({ to }) => ({ id: `msg-${to}` }),
 * });
 * const mailer = defineEffectNode({
 *   name: 'mailer', version: '1.0.0', operations: [send],
 *   defaults: { timeoutMs: 2_000, retry: { maxAttempts: 3, initialDelayMs: 50 } },
 * });
 * const served = await serveNode(new NodeEffect(mailer), { port: 0 });
 * await served.close();
 * ```
 */
export function defineEffectNode<const TOps extends readonly AnyEffectOperation[], TConfig extends Schema = EmptyConfig>(
  definition: EffectNodeDefinition<TOps, TConfig>,
): EffectNodeDefinition<TOps, TConfig> {
  defineEffectContract(definition); // checks name, version and operations
  const { defaults } = definition;
  if (defaults !== undefined) checkOperationDefaults(definition.name, defaults);
  return Object.freeze({
    ...definition,
    operations: Object.freeze([...definition.operations]) as unknown as TOps,
    ...(defaults === undefined
      ? {}
      : { defaults: Object.freeze({ ...defaults, ...(defaults.interceptors === undefined ? {} : { interceptors: Object.freeze([...defaults.interceptors]) }) }) }),
  });
}
