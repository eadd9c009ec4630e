import type { GeneratedFile } from '../scaffold/write-files.js';
import {
  listenFields,
  mainBlock,
  manifestPathExport,
  manifestTest,
  manifestYaml,
  RESILIENCE_OPTIONS,
  settingsModule,
  SQLITE_DRIVER,
  sqliteStoreOpener,
  type NodeTemplateOptions,
} from './node-common.js';

const DESCRIPTION = 'Tallies amounts per aggregate until it is closed.';

/**
 * A reducer node: a finite-state machine (`open` —RECORD→ `open`, `open` —CLOSE→ `closed`) on `NodeReducer`, with
 * state per aggregate in memory, or in SQLite when the process is given a store path.
 */
export function reducerNodeFiles(options: NodeTemplateOptions): readonly GeneratedFile[] {
  const { kebab, pascal, camel, constant } = options.names;
  const dir = `src/nodes/${kebab}`;

  const contract = `import { defineReducerNode, defineStateMachine, reducerContract } from '@onex/reducer';
import { z } from 'zod';

/** The \`${kebab}\` node's name and contract version (manifest.yaml says the same; the node's test checks). */
export const ${constant}_NODE = { name: '${kebab}', version: '${options.version}' } as const;

/**
 * The \`${kebab}\` state machine: the contract of the node's state. Guards, updates and emits are pure; intents are
 * returned to the caller (who forwards them to effect nodes), never performed here.
 */
export const ${camel}Machine = defineStateMachine({
  name: ${constant}_NODE.name,
  description: '${DESCRIPTION}',
  states: ['open', 'closed'],
  initial: 'open',
  terminal: ['closed'],
  context: z.object({
    total: z.number().default(0),
    entries: z.int().nonnegative().default(0),
  }),
  events: {
    RECORD: z.object({ amount: z.number() }),
    CLOSE: z.object({}),
  },
  intents: {
    report: z.object({ total: z.number(), entries: z.int() }),
  },
  transitions: [
    { from: 'open', on: 'RECORD', to: 'open', update: (ctx, p) => ({ total: ctx.total + p.amount, entries: ctx.entries + 1 }) },
    { from: 'open', on: 'CLOSE', to: 'closed', emit: (ctx) => [{ type: 'report', payload: { total: ctx.total, entries: ctx.entries } }] },
  ],
});

/**
 * The \`${kebab}\` node's definition: a pure value — its machine and its contract's identity. \`${pascal}Node\` serves it.
 */
export const ${camel}Definition = defineReducerNode({ machine: ${camel}Machine, version: ${constant}_NODE.version, description: '${DESCRIPTION}' });

/**
 * \`${kebab}\` as its callers see it: \`{ aggregateId, event: { id, type, payload } }\` in, the aggregate's new state
 * out. Build HTTP clients and orchestrator peers from it.
 */
export const ${camel}Contract = reducerContract(${camel}Definition);
`;

  const config = settingsModule(options.names, [
    ...listenFields(options.names),
    {
      key: 'storePath',
      schema: 'z.string().min(1).optional()',
      env: `${constant}_STORE`,
      doc: `SQLite file the aggregates are kept in (\`npm i ${SQLITE_DRIVER}\` first); in memory when unset.`,
    },
  ]);

  const node = `import { NodeReducer, type AppliedEvent, type NodeReducerOptions } from '@onex/reducer';
import { ${camel}Definition, type ${camel}Machine } from './contract.js';

/** Options of {@link ${pascal}Node}: its runtime things (store, logger, clock, interceptors); the definition says the rest. */
export type ${pascal}NodeOptions = NodeReducerOptions<typeof ${camel}Machine>;

/**
 * The \`${kebab}\` reducer node: one aggregate per id, events applied in order, each event id once. Override
 * \`onTransition\` to publish what happened (it runs after each recorded transition, in order per aggregate).
 *
 * @example
 * \`\`\`ts
 * const node = new ${pascal}Node();
 * await node.initialize();
 * await node.apply('a-1', { id: 'e-1', type: 'RECORD', payload: { amount: 5 } });
 * \`\`\`
 */
export class ${pascal}Node extends NodeReducer<typeof ${camel}Definition> {
  constructor(options: ${pascal}NodeOptions = {}) {
    super(${camel}Definition, options);
  }

  protected override onTransition(applied: AppliedEvent<typeof ${camel}Machine>): void {
    if (applied.state === 'closed') {
      this.logger.info({ aggregateId: applied.aggregateId, total: applied.context.total }, '${kebab} closed');
    }
  }
}
`;

  const server = `import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadManifest, serveNode, type ServedNode } from '@onex/core';
import type { ReducerStore } from '@onex/reducer';
import { load${pascal}Settings, type ${pascal}Settings } from './config.js';
import { ${pascal}Node } from './${kebab}-node.js';

${manifestPathExport(options.names)}
${sqliteStoreOpener({ env: `${constant}_STORE`, subpath: '@onex/reducer/sqlite', className: 'SqliteReducerStore', storeType: 'ReducerStore' })}
/**
 * Serves \`${kebab}\` over HTTP with its manifest's resilience settings; aggregates live in SQLite when
 * \`storePath\` is set, in memory otherwise. \`close()\` drains, shuts the node down and closes its store.
 */
export async function serve${pascal}Node(settings: ${pascal}Settings = load${pascal}Settings()): Promise<ServedNode> {
  const manifest = await loadManifest(${camel}ManifestPath);
  const node = new ${pascal}Node({
    ...(settings.storePath === undefined ? {} : { store: await openSqliteStore(settings.storePath) }),
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
  it('applies events to an aggregate, each event id once', async () => {
    const node = new ${pascal}Node({ logger: createSilentLogger() });
    await node.initialize();
    await node.handle({ aggregateId: 'a-1', event: { id: 'e-1', type: 'RECORD', payload: { amount: 5 } } });
    const r = await node.handle({ aggregateId: 'a-1', event: { id: 'e-2', type: 'RECORD', payload: { amount: 2 } } });
    const replay = await node.handle({ aggregateId: 'a-1', event: { id: 'e-2', type: 'RECORD', payload: { amount: 2 } } });
    assert.ok(r.ok && replay.ok);
    assert.deepEqual(r.value.context, { total: 7, entries: 2 });
    assert.equal(replay.value.duplicate, true);
    const closed = await node.apply('a-1', { id: 'e-3', type: 'CLOSE', payload: {} });
    assert.ok(closed.ok);
    assert.deepEqual(closed.value.intents.map((i) => i.type), ['report']);
    await node.shutdown();
  });

  it('rejects an invalid event with VALIDATION and an illegal one with CONFLICT', async () => {
    const node = new ${pascal}Node({ logger: createSilentLogger() });
    await node.initialize();
    const invalid = await node.handle({ aggregateId: 'a-1', event: { id: 'e-1', type: 'RECORD', payload: { amount: 'five' } } });
    assert.equal(invalid.ok ? undefined : invalid.error.code, ErrorCode.Validation);
    await node.apply('a-2', { id: 'e-1', type: 'CLOSE', payload: {} });
    const late = await node.apply('a-2', { id: 'e-2', type: 'RECORD', payload: { amount: 1 } });
    assert.equal(late.ok ? undefined : late.error.code, ErrorCode.Conflict);
    await node.shutdown();
  });

  it('serves over HTTP', async () => {
    const served = await serveNode(new ${pascal}Node({ logger: createSilentLogger() }), { port: 0 });
    const client = createNodeClient(served.url, ${camel}Contract);
    try {
      const r = await client.callOrThrow({ aggregateId: 'http-1', event: { id: 'e-1', type: 'RECORD', payload: { amount: 3 } } });
      assert.equal(r.state, 'open');
      assert.deepEqual(r.context, { total: 3, entries: 1 });
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
    { path: `${dir}/manifest.yaml`, content: manifestYaml({ ...options, kind: 'reducer', description: DESCRIPTION }) },
    { path: `${dir}/config.ts`, content: config },
    { path: `${dir}/server.ts`, content: server },
    { path: `test/${kebab}.test.ts`, content: test },
  ];
}
