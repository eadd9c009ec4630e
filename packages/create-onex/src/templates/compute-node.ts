import type { GeneratedFile } from '../scaffold/write-files.js';
import {
  listenFields,
  mainBlock,
  manifestPathExport,
  manifestTest,
  manifestYaml,
  RESILIENCE_OPTIONS,
  settingsModule,
  type NodeTemplateOptions,
} from './node-common.js';

const DESCRIPTION = 'Summarises a list of numbers: count, sum and mean.';

/**
 * A compute node: one pure computation (`{ values } → { count, sum, mean }`) in a `defineComputeNode` definition,
 * cached by its defaults, served by a `NodeCompute` subclass. Its contract is the caller's view, made by
 * `computeContract(definition).computation(name)` — `{ computation, input }` in, `{ result }` out — which clients
 * and orchestrator peers are built from.
 */
export function computeNodeFiles(options: NodeTemplateOptions): readonly GeneratedFile[] {
  const { kebab, pascal, camel, constant } = options.names;
  const dir = `src/nodes/${kebab}`;

  const contract = `import { computeContract, defineComputation, defineComputeNode } from '@onex/compute';
import { z } from 'zod';

/** The \`${kebab}\` node's name and contract version (manifest.yaml says the same; the node's test checks). */
export const ${constant}_NODE = { name: '${kebab}', version: '${options.version}' } as const;

/** Input of the \`${kebab}\` computation. */
export const ${pascal}Input = z.object({
  values: z.array(z.number()).min(1).max(10_000),
});
/** Input of the \`${kebab}\` computation. */
export type ${pascal}Input = z.input<typeof ${pascal}Input>;

/** Output of the \`${kebab}\` computation. */
export const ${pascal}Output = z.object({
  count: z.int().nonnegative(),
  sum: z.number(),
  mean: z.number(),
});
/** Output of the \`${kebab}\` computation. */
export type ${pascal}Output = z.output<typeof ${pascal}Output>;

/** The \`${kebab}\` computation. Pure — same input, same output, no I/O — so its results are cached. */
export const ${camel}Computation = defineComputation({
  name: ${constant}_NODE.name,
  description: '${DESCRIPTION}',
  input: ${pascal}Input,
  output: ${pascal}Output,
  compute: ({ values }) => {
    const sum = values.reduce((total, value) => total + value, 0);
    return { count: values.length, sum, mean: sum / values.length };
  },
});

/**
 * The \`${kebab}\` node's definition: a pure value — identity, computations, and the defaults they share (add a
 * computation to \`computations\`; one may override a default with its own \`cache\` or \`slowThresholdMs\`).
 */
export const ${camel}Definition = defineComputeNode({
  name: ${constant}_NODE.name,
  version: ${constant}_NODE.version,
  computations: [${camel}Computation],
  defaults: { cache: { maxEntries: 1_000 } },
});

/**
 * \`${kebab}\` as its callers see it: \`{ computation: '${kebab}', input }\` in, \`{ result }\` out, typed by the
 * computation. Build HTTP clients (\`createNodeClient\`) and orchestrator peers (\`peer\`) from it.
 */
export const ${camel}Contract = computeContract(${camel}Definition).computation(${constant}_NODE.name);
`;

  const node = `import { NodeCompute, type NodeComputeOptions } from '@onex/compute';
import { ${camel}Definition } from './contract.js';

/** Options of {@link ${pascal}Node}: its runtime things (logger, clock, limits, interceptors); the definition says the rest. */
export type ${pascal}NodeOptions = NodeComputeOptions;

/**
 * The \`${kebab}\` compute node: \`${camel}Definition\`, served. Override \`execute\` to wrap every run or
 * \`onSlowComputation\` to report slow ones.
 *
 * @example
 * \`\`\`ts
 * const node = new ${pascal}Node();
 * await node.initialize();
 * const r = await node.compute('${kebab}', { values: [1, 2, 3] }); // { ok: true, value: { count: 3, sum: 6, mean: 2 } }
 * \`\`\`
 */
export class ${pascal}Node extends NodeCompute<typeof ${camel}Definition> {
  constructor(options: ${pascal}NodeOptions = {}) {
    super(${camel}Definition, options);
  }
}
`;

  const server = `import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadManifest, serveNode, type ServedNode } from '@onex/core';
import { load${pascal}Settings, type ${pascal}Settings } from './config.js';
import { ${pascal}Node } from './${kebab}-node.js';

${manifestPathExport(options.names)}
/** Serves \`${kebab}\` over HTTP with its manifest's resilience settings. \`close()\` drains, then shuts it down. */
export async function serve${pascal}Node(settings: ${pascal}Settings = load${pascal}Settings()): Promise<ServedNode> {
  const manifest = await loadManifest(${camel}ManifestPath);
  const node = new ${pascal}Node({
${RESILIENCE_OPTIONS}
  });
  return serveNode(node, { port: settings.port, host: settings.host });
}

${mainBlock(options.names)}`;

  const test = `import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNodeClient, createSilentLogger, ErrorCode, loadManifest, serveNode } from '@onex/core';
import { ${camel}Contract } from '../src/nodes/${kebab}/contract.js';
import { ${pascal}Node } from '../src/nodes/${kebab}/${kebab}-node.js';
import { ${camel}ManifestPath } from '../src/nodes/${kebab}/server.js';

describe('${kebab}', () => {
${manifestTest(options.names)}
  it('computes a valid input', async () => {
    const node = new ${pascal}Node({ logger: createSilentLogger() });
    await node.initialize();
    const r = await node.handle({ computation: '${kebab}', input: { values: [1, 2, 3] } });
    assert.deepEqual(r, { ok: true, value: { result: { count: 3, sum: 6, mean: 2 } } });
    await node.shutdown();
  });

  it('rejects an invalid input with VALIDATION, naming the field', async () => {
    const node = new ${pascal}Node({ logger: createSilentLogger() });
    await node.initialize();
    const r = await node.handle({ computation: '${kebab}', input: { values: [] } });
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.error.code, ErrorCode.Validation);
      assert.match(r.error.message, /values/);
    }
    await node.shutdown();
  });

  it('serves over HTTP', async () => {
    const served = await serveNode(new ${pascal}Node({ logger: createSilentLogger() }), { port: 0 });
    const client = createNodeClient(served.url, ${camel}Contract);
    try {
      const r = await client.callOrThrow({ computation: '${kebab}', input: { values: [2, 4] } });
      assert.deepEqual(r.result, { count: 2, sum: 6, mean: 3 });
      const health = await client.health();
      assert.equal(health.status, 'healthy');
    } finally {
      await client.close();
      await served.close();
    }
  });
});
`;

  return [
    { path: `${dir}/contract.ts`, content: contract },
    { path: `${dir}/${kebab}-node.ts`, content: node },
    { path: `${dir}/manifest.yaml`, content: manifestYaml({ ...options, kind: 'compute', description: DESCRIPTION }) },
    { path: `${dir}/config.ts`, content: settingsModule(options.names, listenFields(options.names)) },
    { path: `${dir}/server.ts`, content: server },
    { path: `test/${kebab}.test.ts`, content: test },
  ];
}
