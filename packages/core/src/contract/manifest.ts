import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';
import { z } from 'zod';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError, validationDetails } from '../errors/onex-error.js';
import { NodeKind } from '../node/node-kind.js';

type Yaml = typeof YamlModule;
let yaml: Yaml | undefined;
/**
 * The YAML parser, loaded on the first manifest parsed: most nodes never read a manifest, and loading `yaml` at
 * import costs about 20 ms of every node's cold start.
 */
function yamlParser(): Yaml {
  yaml ??= createRequire(import.meta.url)('yaml') as Yaml;
  return yaml;
}

const kebab = z.string().regex(/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/, 'must be kebab-case');

const retrySchema = z
  .object({
    maxAttempts: z.number().int().min(1).optional(),
    initialDelayMs: z.number().min(0).optional(),
    maxDelayMs: z.number().min(0).optional(),
    multiplier: z.number().min(1).optional(),
  })
  .strict();

const breakerSchema = z
  .object({
    timeoutMs: z.union([z.number().positive(), z.literal(false)]).optional(),
    errorThresholdPercentage: z.number().min(1).max(100).optional(),
    volumeThreshold: z.number().int().min(1).optional(),
    resetTimeoutMs: z.number().positive().optional(),
    halfOpenMaxProbes: z.number().int().min(1).optional(),
  })
  .strict();

/**
 * Schema of a node's YAML manifest (`manifest.yaml`): identity, dependencies on peer nodes, resilience settings
 * and subcontracts (e.g. a reducer's FSM file).
 */
export const NodeManifestSchema = z
  .object({
    name: kebab,
    kind: z.enum([NodeKind.Compute, NodeKind.Effect, NodeKind.Reducer, NodeKind.Orchestrator]),
    version: z.string().regex(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/, 'must be a semantic version'),
    description: z.string().optional(),
    owner: z.string().optional(),
    dependencies: z
      .array(
        z
          .object({
            name: kebab,
            kind: z.enum([NodeKind.Compute, NodeKind.Effect, NodeKind.Reducer, NodeKind.Orchestrator]),
            version: z.string().optional(),
            url: z.url().optional(),
          })
          .strict(),
      )
      .default([]),
    resilience: z
      .object({
        timeoutMs: z.number().positive().optional(),
        maxConcurrency: z.number().int().positive().optional(),
        retry: retrySchema.optional(),
        breaker: breakerSchema.optional(),
      })
      .strict()
      .default({}),
    subcontracts: z.record(z.string(), z.string()).default({}),
    config: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

/** A validated node manifest. */
export type NodeManifest = z.output<typeof NodeManifestSchema>;

function manifestError(source: string, message: string, details?: readonly unknown[]): OnexError {
  return new OnexError(ErrorCode.Contract, `Invalid manifest ${source}: ${message}`, {
    context: { source },
    ...(details === undefined ? {} : { details }),
  });
}

/**
 * Parses and validates a manifest from YAML text. Errors name the offending field, e.g.
 * `Invalid manifest manifest.yaml: resilience.retry.maxAttempts: Too small: expected number to be >=1`.
 *
 * @example
 * ```ts
 * const manifest = parseManifest('name: pricing\nkind: compute\nversion: 1.0.0\n');
 * manifest.kind; // 'compute'
 * ```
 */
export function parseManifest(yamlText: string, source = 'manifest.yaml'): NodeManifest {
  let raw: unknown;
  try {
    raw = yamlParser().parse(yamlText);
  } catch (error) {
    if (error instanceof yamlParser().YAMLParseError) throw manifestError(source, `YAML syntax error: ${error.message}`);
    throw error;
  }
  const parsed = NodeManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const details = validationDetails(parsed.error.issues);
    const first = details[0];
    throw manifestError(source, first === undefined ? 'invalid' : `${first.path}: ${first.message}`, details);
  }
  return parsed.data;
}

/** Reads, parses and validates a manifest file. */
export async function loadManifest(path: string): Promise<NodeManifest> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new OnexError(ErrorCode.NotFound, `Manifest not found: ${path}`, { cause: error, context: { path } });
  }
  return parseManifest(text, path);
}
