import type { EmptyConfig, Schema } from '@onex/core';
import type { AnyEffectOperation } from '../operation/effect-operation.js';
import { NodeEffect, type EffectNodeDefinition, type NodeEffectOptions } from './node-effect.js';

/**
 * What {@link defineEffectNode} takes: the node's definition and its options in one object. The config schema is
 * `configSchema` (`config` is the configuration value, as for every node).
 *
 * @example
 * ```ts
 * const spec: DefineEffectNodeOptions<[typeof send]> = { name: 'mailer', version: '1.0.0', operations: [send] };
 * ```
 */
export type DefineEffectNodeOptions<TOps extends readonly AnyEffectOperation[], TConfig extends Schema = EmptyConfig> = Omit<
  EffectNodeDefinition<TOps, TConfig>,
  'config'
> &
  NodeEffectOptions<TConfig> & {
    /** Schema of the node's configuration. */
    readonly configSchema?: TConfig;
  };

/** The concrete class behind {@link defineEffectNode}: a {@link NodeEffect} with nothing added. */
class DefinedEffectNode<const TOps extends readonly AnyEffectOperation[], TConfig extends Schema> extends NodeEffect<TOps, TConfig> {}

/**
 * Makes an effect node from its operations, without writing a class: the common case. The result is a
 * {@link NodeEffect} (serve it with `serveNode`, call it with `execute`).
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { serveNode } from '@onex/core';
 * import { defineEffectNode } from '@onex/effect';
 * import { SqliteIdempotencyStore, SqliteTransactionManager } from '@onex/effect/sqlite';
 * const db = new Database('ledger.db');
 * const transactions = new SqliteTransactionManager({ database: db });
 * const node = defineEffectNode({
 *   name: 'ledger', version: '1.0.0', operations: [credit],
 *   transactions, idempotencyStore: new SqliteIdempotencyStore({ transactions }),
 * });
 * const served = await serveNode(node, { port: 8080 });
 * ```
 */
export function defineEffectNode<const TOps extends readonly AnyEffectOperation[], TConfig extends Schema = EmptyConfig>(
  options: DefineEffectNodeOptions<TOps, TConfig>,
): NodeEffect<TOps, TConfig> {
  const { name, version, description, operations, configSchema, ...nodeOptions } = options;
  const definition: EffectNodeDefinition<TOps, TConfig> = {
    name,
    version,
    operations,
    ...(description === undefined ? {} : { description }),
    ...(configSchema === undefined ? {} : { config: configSchema }),
  };
  return new DefinedEffectNode<TOps, TConfig>(definition, nodeOptions);
}
