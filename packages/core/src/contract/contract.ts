import { z } from 'zod';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import { NodeKind } from '../node/node-kind.js';

/** Any zod schema. */
export type Schema = z.ZodType;

/** The empty config schema used when a contract declares none. */
export const EmptyConfig = z.object({}).strict();
/** Type of {@link EmptyConfig}. */
export type EmptyConfig = typeof EmptyConfig;

/** What {@link defineContract} takes. */
export interface ContractDefinition<TInput extends Schema, TOutput extends Schema, TConfig extends Schema> {
  /** Node name, kebab-case (`pricing`, `order-fulfilment`). */
  readonly name: string;
  /** Which kind of node implements it. */
  readonly kind: NodeKind;
  /** Semantic version of the contract. */
  readonly version: string;
  /** One sentence for people. */
  readonly description?: string;
  /** Schema of the input. */
  readonly input: TInput;
  /** Schema of the output. */
  readonly output: TOutput;
  /** Schema of the node's configuration. */
  readonly config?: TConfig;
}

/** JSON Schemas of a contract's input, output and config, as served at `GET /contract`. */
export interface ContractDocument {
  readonly name: string;
  readonly kind: NodeKind;
  readonly version: string;
  readonly description?: string;
  readonly input: Record<string, unknown>;
  readonly output: Record<string, unknown>;
  readonly config: Record<string, unknown>;
}

/** A node's typed contract: its identity and the zod schemas of its boundary. */
export interface NodeContract<TInput extends Schema = Schema, TOutput extends Schema = Schema, TConfig extends Schema = Schema> {
  readonly name: string;
  readonly kind: NodeKind;
  readonly version: string;
  readonly description: string | undefined;
  readonly input: TInput;
  readonly output: TOutput;
  readonly config: TConfig;
  /** JSON Schema of input (as accepted), output (as produced) and config. */
  toDocument(): ContractDocument;
}

/** The input type a contract accepts (after parsing). */
export type ContractInput<C extends NodeContract> = z.output<C['input']>;
/** The output type a contract produces. */
export type ContractOutput<C extends NodeContract> = z.output<C['output']>;
/** The config type of a contract (after defaults). */
export type ContractConfig<C extends NodeContract> = z.output<C['config']>;

const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const KINDS = new Set<string>(Object.values(NodeKind));

function contractError(field: string, message: string): OnexError {
  return new OnexError(ErrorCode.Contract, `Invalid contract: ${field} ${message}`, { context: { field } });
}

/**
 * Defines a node's contract. The zod schemas are the source of truth: types are inferred from them and the
 * JSON Schema served at `GET /contract` is generated from them.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineContract, NodeKind } from '@onex/core';
 * export const greeter = defineContract({
 *   name: 'greeter', kind: NodeKind.Compute, version: '1.0.0',
 *   input: z.object({ name: z.string() }), output: z.object({ greeting: z.string() }),
 * });
 * ```
 */
export function defineContract<TInput extends Schema, TOutput extends Schema, TConfig extends Schema = EmptyConfig>(
  definition: ContractDefinition<TInput, TOutput, TConfig>,
): NodeContract<TInput, TOutput, TConfig> {
  if (!NAME.test(definition.name)) throw contractError('name', `'${definition.name}' must be kebab-case`);
  if (!KINDS.has(definition.kind)) throw contractError('kind', `'${String(definition.kind)}' is not a node kind`);
  if (!SEMVER.test(definition.version)) throw contractError('version', `'${definition.version}' is not a semantic version`);
  const config = (definition.config ?? EmptyConfig) as TConfig;
  let document: ContractDocument | undefined;
  return Object.freeze({
    name: definition.name,
    kind: definition.kind,
    version: definition.version,
    description: definition.description,
    input: definition.input,
    output: definition.output,
    config,
    toDocument(): ContractDocument {
      document ??= {
        name: definition.name,
        kind: definition.kind,
        version: definition.version,
        ...(definition.description === undefined ? {} : { description: definition.description }),
        input: toJsonSchema(definition.input, 'input'),
        output: toJsonSchema(definition.output, 'output'),
        config: toJsonSchema(config, 'input'),
      };
      return document;
    },
  });
}

/** JSON Schema (draft 2020-12) of a zod schema; parts JSON Schema cannot express become `{}`. */
export function toJsonSchema(schema: Schema, io: 'input' | 'output'): Record<string, unknown> {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any' });
}
