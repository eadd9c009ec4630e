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
  type PeerNode,
} from './node-common.js';

const DESCRIPTION = 'Runs a durable workflow over its peer nodes.';

/** What the orchestrator template needs besides the node's names: the sibling nodes its workflow calls. */
export interface OrchestratorTemplateOptions extends NodeTemplateOptions {
  /** At least one compute, effect or reducer node of the project, in step order. */
  readonly peers: readonly PeerNode[];
}

/** The step that calls one peer, written against the template of the peer's kind. */
function stepCode(peer: PeerNode, constant: string, amount: Amount): string {
  const { kebab, camel } = peer.names;
  const target = `${constant}_PEERS['${kebab}']`;
  switch (peer.kind) {
    case 'compute':
      return `  .step('${camel}', {
    target: ${target},
    input: ({ input }) => ({ computation: '${kebab}', input: { values: input.values } }),
  })`;
    case 'effect':
      return `  .step('${camel}', {
    target: ${target},${amount.dependsOn}
    // The orchestrator sends the idempotency key \`<workflowId>:${camel}\`: a retried step sends once.
    input: ({ input${amount.uses} }) => ({ operation: 'send', input: { to: input.id, message: \`total: \${${amount.expression}}\` } }),
  })`;
    case 'reducer':
      return `  .step('${camel}', {
    target: ${target},${amount.dependsOn}
    // One event per workflow: its id is the workflow's, so a retried step is applied once.
    input: ({ workflowId, input${amount.uses} }) => ({
      aggregateId: input.id,
      event: { id: workflowId, type: 'RECORD', payload: { amount: ${amount.expression} } },
    }),
  })`;
  }
}

/** Where the later steps get their amount: the first compute step's sum, or the input's. */
interface Amount {
  readonly dependsOn: string;
  readonly uses: string;
  readonly expression: string;
  readonly result: string;
}

function amountOf(peers: readonly PeerNode[]): Amount {
  const compute = peers.find((p) => p.kind === 'compute');
  if (compute === undefined) {
    const sum = 'input.values.reduce((total, value) => total + value, 0)';
    return { dependsOn: '', uses: '', expression: sum, result: sum };
  }
  const step = compute.names.camel;
  return {
    dependsOn: `\n    dependsOn: ['${step}'],`,
    uses: ', steps',
    expression: `steps.${step}.result.sum`,
    result: `steps.${step}.result.sum`,
  };
}

/**
 * An orchestrator node: a durable workflow whose steps call the project's other nodes through their contracts —
 * compute steps first, then effect and reducer steps fed by the first compute step's result.
 */
export function orchestratorNodeFiles(options: OrchestratorTemplateOptions): readonly GeneratedFile[] {
  const { kebab, pascal, camel, constant } = options.names;
  const dir = `src/nodes/${kebab}`;
  if (options.peers.length === 0) throw new Error('create-onex: an orchestrator needs at least one peer');
  const peers = [...options.peers].sort((a, b) => (a.kind === 'compute' ? 0 : 1) - (b.kind === 'compute' ? 0 : 1));
  const amount = amountOf(peers);

  const contract = `import { defineContract, NodeKind } from '@onex/core';
import { defineWorkflow, peer, WorkflowOutcomeSchema } from '@onex/orchestrator';
import { z } from 'zod';
${peers.map((p) => `import { ${p.names.camel}Contract } from '../${p.names.kebab}/contract.js';`).join('\n')}

/** The \`${kebab}\` node's name and contract version (manifest.yaml says the same; the node's test checks). */
export const ${constant}_NODE = { name: '${kebab}', version: '${options.version}' } as const;

/** Input of the \`${kebab}\` workflow. \`id\` names the run's subject (it is the reducers' aggregate id). */
export const ${pascal}Input = z.object({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _ . - (64 at most)'),
  values: z.array(z.number()).min(1).max(10_000),
});
/** Input of the \`${kebab}\` workflow. */
export type ${pascal}Input = z.input<typeof ${pascal}Input>;

/** Output of the \`${kebab}\` workflow. */
export const ${pascal}Output = z.object({
  id: z.string(),
  total: z.number(),
  completed: z.array(z.string()),
});
/** Output of the \`${kebab}\` workflow. */
export type ${pascal}Output = z.output<typeof ${pascal}Output>;

/**
 * The peers the workflow calls, by the names the orchestrator knows them by (manifest.yaml's \`dependencies\`).
 * Each carries its node's contract, so every step's input and output is typed — change a peer's contract and
 * \`tsc\` shows the steps to adapt.
 */
export const ${constant}_PEERS = {
${peers.map((p) => `  '${p.names.kebab}': peer('${p.names.kebab}', ${p.names.camel}Contract),`).join('\n')}
} as const;

/**
 * The \`${kebab}\` workflow: a DAG — steps whose dependencies are done run in parallel, each with retries and a
 * deadline; every state change is written to the store before it is acted on, so a restarted orchestrator resumes
 * it. What the steps share goes once in \`defaults\`; a step sets its own \`timeoutMs\` or \`retry\` where it differs.
 * Add \`compensate\` to a step to undo it when a later one fails for good.
 */
export const ${camel}Workflow = defineWorkflow({
  type: ${constant}_NODE.name,
  version: ${constant}_NODE.version,
  input: ${pascal}Input,
  output: ${pascal}Output,
  timeoutMs: 30_000,
  defaults: { timeoutMs: 5_000, retry: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 2_000 } },
})
${peers.map((p) => stepCode(p, constant, amount)).join('\n')}
  // Every step is there once the workflow completes (only a step with \`when\` or \`continueOnError\` may be absent).
  .returns(({ input, steps }) => ({
    id: input.id,
    total: ${amount.result},
    completed: Object.keys(steps).sort(),
  }));

/**
 * \`${kebab}\` as its callers see it: \`{ type: '${kebab}', input }\` in (\`POST /v1/process\` runs the workflow to
 * its end), the outcome out, with the workflow's typed output when it completed.
 */
export const ${camel}Contract = defineContract({
  name: ${constant}_NODE.name,
  kind: NodeKind.Orchestrator,
  version: ${constant}_NODE.version,
  description: '${DESCRIPTION}',
  input: z.object({
    type: z.literal(${constant}_NODE.name),
    input: ${pascal}Input,
    idempotencyKey: z.string().min(1).max(256).optional(),
  }),
  output: WorkflowOutcomeSchema.extend({ output: ${pascal}Output.optional() }),
});
`;

  const config = settingsModule(options.names, [
    ...listenFields(options.names),
    {
      key: 'storePath',
      schema: 'z.string().min(1).optional()',
      env: `${constant}_STORE`,
      doc: `SQLite file the workflows are kept in, so they survive a restart (\`npm i ${SQLITE_DRIVER}\` first); in memory when unset.`,
    },
    ...peers.map((p) => ({
      key: `${p.names.camel}Url`,
      schema: 'z.url()',
      env: `${p.names.constant}_URL`,
      doc: `Base URL of the \`${p.names.kebab}\` node.`,
    })),
  ]);

  const node = `import { createNodeClient, type NodeClient, type NodeClientOptions } from '@onex/core';
import { defineOrchestrator, Orchestrator, type OrchestratorOptions } from '@onex/orchestrator';
import { ${constant}_NODE, ${constant}_PEERS, ${camel}Workflow } from './contract.js';

type Peers = typeof ${constant}_PEERS;

/**
 * What the \`${kebab}\` node runs, as a value: its name, version and workflows. {@link ${pascal}Node} serves it; a
 * test may run it with other options (\`new Orchestrator(${camel}Definition, { peers, store })\`).
 */
export const ${camel}Definition = defineOrchestrator({
  name: ${constant}_NODE.name,
  version: ${constant}_NODE.version,
  description: '${DESCRIPTION}',
  workflows: [${camel}Workflow],
});

/** A client per peer, each typed by its peer's contract. */
export type ${pascal}PeerClients = { readonly [K in keyof Peers]: NodeClient<Peers[K]['contract']> };

/**
 * Options of {@link ${pascal}Node}: the peers' clients, and everything \`Orchestrator\` takes — \`store\` (default: in
 * memory, nothing survives a restart), limits, logger, clock.
 */
export interface ${pascal}NodeOptions extends Omit<OrchestratorOptions, 'peers'> {
  /** How to reach the peers: HTTP clients ({@link connect${pascal}Peers}) or in-process ones. */
  readonly peers: ${pascal}PeerClients;
}

/**
 * The \`${kebab}\` orchestrator node: runs the \`${kebab}\` workflow over its peers. Register more workflows with
 * \`register\`; start one with \`start\` and await it with \`result\`, or call the node (\`{ type, input }\`).
 *
 * @example
 * \`\`\`ts
 * const node = new ${pascal}Node({ peers: connect${pascal}Peers({ ${peers.map((p) => `'${p.names.kebab}': 'http://127.0.0.1:4001'`).join(', ')} }) });
 * await node.initialize();
 * const outcome = await node.result(await node.start(${camel}Workflow, { id: 'run-1', values: [1, 2, 3] }));
 * if (outcome.status === 'completed') console.log(outcome.output.total);
 * \`\`\`
 */
export class ${pascal}Node extends Orchestrator {
  constructor(options: ${pascal}NodeOptions) {
    super(${camel}Definition, { instanceId: ${constant}_NODE.name, ...options });
  }
}

/** HTTP clients of the peers, from their base URLs. \`close()\` them when done. */
export function connect${pascal}Peers(urls: { readonly [K in keyof Peers]: string }, options: NodeClientOptions = {}): ${pascal}PeerClients {
  return {
${peers.map((p) => `    '${p.names.kebab}': createNodeClient(urls['${p.names.kebab}'], ${constant}_PEERS['${p.names.kebab}'].contract, options),`).join('\n')}
  };
}
`;

  const server = `import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadManifest, type ServedNode } from '@onex/core';
import { MemoryWorkflowStore, serveOrchestrator, type WorkflowStore } from '@onex/orchestrator';
import { load${pascal}Settings, type ${pascal}Settings } from './config.js';
import { connect${pascal}Peers, ${pascal}Node } from './${kebab}-node.js';

${manifestPathExport(options.names)}
${sqliteStoreOpener({ env: `${constant}_STORE`, subpath: '@onex/orchestrator/sqlite', className: 'SqliteWorkflowStore', storeType: 'WorkflowStore' })}
/**
 * Serves \`${kebab}\` over HTTP (\`POST /v1/process\`, \`/v1/workflows\`…) with its manifest's resilience settings,
 * calling its peers at the URLs of the settings. \`close()\` drains, shuts the node down and closes the clients.
 */
export async function serve${pascal}Node(settings: ${pascal}Settings = load${pascal}Settings()): Promise<ServedNode> {
  const manifest = await loadManifest(${camel}ManifestPath);
  const peers = connect${pascal}Peers({
${peers.map((p) => `    '${p.names.kebab}': settings.${p.names.camel}Url,`).join('\n')}
  });
  const node = new ${pascal}Node({
    peers,
    store: settings.storePath === undefined ? new MemoryWorkflowStore() : await openSqliteStore(settings.storePath),
${RESILIENCE_OPTIONS}
  });
  const served = await serveOrchestrator(node, { port: settings.port, host: settings.host });
  return {
    ...served,
    close: async () => {
      await served.close();
      await Promise.all(Object.values(peers).map((client) => client.close()));
    },
  };
}

${mainBlock(options.names)}`;

  const test = `import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNodeClient, createSilentLogger, ErrorCode, loadManifest, serveNode, type ServedNode } from '@onex/core';
import { serveOrchestrator } from '@onex/orchestrator';
${peers.map((p) => `import { ${p.names.pascal}Node } from '../src/nodes/${p.names.kebab}/${p.names.kebab}-node.js';`).join('\n')}
import { ${camel}Contract } from '../src/nodes/${kebab}/contract.js';
import { connect${pascal}Peers, ${pascal}Node } from '../src/nodes/${kebab}/${kebab}-node.js';
import { ${camel}ManifestPath } from '../src/nodes/${kebab}/server.js';

/** Serves every peer over HTTP and builds the orchestrator over them. */
async function withPeers(run: (node: ${pascal}Node) => Promise<void>): Promise<void> {
  const logger = createSilentLogger();
  const served: ServedNode[] = [];
  try {
${peers.map((p) => `    const ${p.names.camel}Served = await serveNode(new ${p.names.pascal}Node({ logger }), { port: 0 });\n    served.push(${p.names.camel}Served);`).join('\n')}
    const peers = connect${pascal}Peers({ ${peers.map((p) => `'${p.names.kebab}': ${p.names.camel}Served.url`).join(', ')} });
    try {
      await run(new ${pascal}Node({ peers, logger }));
    } finally {
      await Promise.all(Object.values(peers).map((client) => client.close()));
    }
  } finally {
    await Promise.all(served.map((s) => s.close()));
  }
}

describe('${kebab}', () => {
${manifestTest(options.names)}
  it('runs its workflow over its peers', async () => {
    await withPeers(async (node) => {
      await node.initialize();
      const r = await node.handle({ type: '${kebab}', input: { id: 'run-1', values: [1, 2, 3] } });
      assert.ok(r.ok, r.ok ? '' : r.error.message);
      assert.equal(r.value.status, 'completed');
      assert.deepEqual(r.value.output, { id: 'run-1', total: 6, completed: [${peers.map((p) => `'${p.names.camel}'`).sort().join(', ')}] });
      await node.shutdown();
    });
  });

  it('rejects an invalid input with VALIDATION', async () => {
    await withPeers(async (node) => {
      await node.initialize();
      const r = await node.handle({ type: '${kebab}', input: { id: 'run-2', values: [] } });
      assert.equal(r.ok ? undefined : r.error.code, ErrorCode.Validation);
      await node.shutdown();
    });
  });

  it('serves over HTTP', async () => {
    await withPeers(async (node) => {
      const served = await serveOrchestrator(node, { port: 0 });
      const client = createNodeClient(served.url, ${camel}Contract);
      try {
        const outcome = await client.callOrThrow({ type: '${kebab}', input: { id: 'run-3', values: [4] } });
        assert.equal(outcome.status, 'completed');
        assert.equal(outcome.output?.total, 4);
      } finally {
        await client.close();
        await served.close();
      }
    });
  });
});
`;

  return [
    { path: `${dir}/contract.ts`, content: contract },
    { path: `${dir}/${kebab}-node.ts`, content: node },
    { path: `${dir}/manifest.yaml`, content: manifestYaml({ ...options, kind: 'orchestrator', description: DESCRIPTION, dependencies: peers }) },
    { path: `${dir}/config.ts`, content: config },
    { path: `${dir}/server.ts`, content: server },
    { path: `test/${kebab}.test.ts`, content: test },
  ];
}
