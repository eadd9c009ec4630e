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
  type NodeTemplateOptions,
} from './node-common.js';

const DESCRIPTION = 'Sends messages through an outbox, at most once per idempotency key.';

/**
 * An effect node: one operation, `send`, whose side effect goes through an injected port (`<Name>Outbox`; an
 * in-memory one by default), in a `defineEffectNode` definition whose defaults give it a timeout and retries, served
 * by a `NodeEffect` subclass (breaker and idempotency keys from `NodeEffect`), with a validated node config. Its
 * contract is the caller's view, made by `defineEffectContract(...).operation('send')` from the operation's name and
 * schemas alone.
 */
export function effectNodeFiles(options: NodeTemplateOptions): readonly GeneratedFile[] {
  const { kebab, pascal, camel, constant } = options.names;
  const dir = `src/nodes/${kebab}`;

  const contract = `import { defineEffectContract, type OperationSignature } from '@onex/effect';
import { z } from 'zod';

/** The \`${kebab}\` node's name and contract version (manifest.yaml says the same; the node's test checks). */
export const ${constant}_NODE = { name: '${kebab}', version: '${options.version}', send: 'send' } as const;

/** Input of \`${kebab}\`'s \`send\` operation. */
export const ${pascal}SendInput = z.object({
  to: z.string().min(1).max(200),
  message: z.string().min(1).max(2_000),
});
/** Input of \`${kebab}\`'s \`send\` operation. */
export type ${pascal}SendInput = z.input<typeof ${pascal}SendInput>;

/** Result of \`${kebab}\`'s \`send\` operation (stored for replays: JSON only). */
export const ${pascal}SendOutput = z.object({
  deliveryId: z.string(),
  from: z.string(),
});
/** Result of \`${kebab}\`'s \`send\` operation. */
export type ${pascal}SendOutput = z.output<typeof ${pascal}SendOutput>;

/** \`${kebab}\`'s \`send\` as the node and its callers both know it: its name and schemas (the node adds the code). */
export const ${pascal}Send = {
  name: ${constant}_NODE.send,
  description: 'Sends one message.',
  input: ${pascal}SendInput,
  output: ${pascal}SendOutput,
} as const satisfies OperationSignature;

/** The \`${kebab}\` node's contract, from its operations' signatures: every operation, one envelope each. */
export const ${camel}NodeContract = defineEffectContract({
  name: ${constant}_NODE.name,
  version: ${constant}_NODE.version,
  description: '${DESCRIPTION}',
  operations: [${pascal}Send],
});

/**
 * \`${kebab}\`'s \`send\` as its callers see it: \`{ operation: 'send', input }\` in, \`{ result }\` out, typed by the
 * operation. Build HTTP clients and orchestrator peers from it; pass an idempotency key so a retried call sends once.
 */
export const ${camel}Contract = ${camel}NodeContract.operation(${constant}_NODE.send);
`;

  const config = settingsModule(
    options.names,
    listenFields(options.names),
    `
/** The \`${kebab}\` node's configuration (its contract's config schema), validated when the node is built. */
export const ${pascal}Config = z.object({
  /** Who messages are from. */
  sender: z.string().min(1).default('${kebab}'),
});
/** The \`${kebab}\` node's configuration, as given (defaults apply). */
export type ${pascal}ConfigInput = z.input<typeof ${pascal}Config>;
`,
  );

  const node = `import { randomUUID } from 'node:crypto';
import { defineEffectNode, defineOperation, NodeEffect, type NodeEffectOptions } from '@onex/effect';
import { ${pascal}Config } from './config.js';
import { ${constant}_NODE, ${pascal}Send } from './contract.js';

/** A message on its way out. */
export interface ${pascal}Message {
  readonly from: string;
  readonly to: string;
  readonly message: string;
  /** The call's idempotency key: hand it on to systems that accept one. */
  readonly idempotencyKey: string | undefined;
}

/** The port \`${kebab}\` delivers through: an HTTP API, a queue, a mailer. Honour the signal. */
export interface ${pascal}Outbox {
  deliver(message: ${pascal}Message, signal: AbortSignal): Promise<{ readonly id: string }>;
}

/** An outbox that keeps what it was given: for tests and local runs. */
export class Memory${pascal}Outbox implements ${pascal}Outbox {
  readonly delivered: ${pascal}Message[] = [];

  async deliver(message: ${pascal}Message, signal: AbortSignal): Promise<{ readonly id: string }> {
    signal.throwIfAborted();
    this.delivered.push(message);
    return { id: randomUUID() };
  }
}

/**
 * The \`${kebab}\` node's definition over its outbox: a value — identity, operations, config schema, and the
 * defaults every operation gets (an operation may name its own \`timeoutMs\`, \`retry\`, \`breaker\`, \`interceptors\`).
 */
export function ${camel}Definition(outbox: ${pascal}Outbox, sender: string) {
  const send = defineOperation({
    ...${pascal}Send,
    // Sending twice is not sending once: retried only when the call carries an idempotency key.
    idempotent: false,
    run: async ({ to, message }, ctx) => {
      const delivery = await outbox.deliver({ from: sender, to, message, idempotencyKey: ctx.idempotencyKey }, ctx.signal);
      return { deliveryId: delivery.id, from: sender };
    },
  });
  return defineEffectNode({
    name: ${constant}_NODE.name,
    version: ${constant}_NODE.version,
    operations: [send],
    config: ${pascal}Config,
    defaults: { timeoutMs: 2_000, retry: { maxAttempts: 3, initialDelayMs: 50 } },
  });
}

/** The operations of {@link ${camel}Definition}. */
export type ${pascal}Operations = ReturnType<typeof ${camel}Definition>['operations'];

/** Options of {@link ${pascal}Node}. */
export interface ${pascal}NodeOptions extends Omit<NodeEffectOptions<typeof ${pascal}Config>, 'transactions'> {
  /** Where messages go. Default: a {@link Memory${pascal}Outbox}. */
  readonly outbox?: ${pascal}Outbox;
}

/**
 * The \`${kebab}\` effect node. Add operations in \`${camel}Definition\`; add \`interceptors\` there (or override
 * \`invokeOperation\`) to wrap every attempt. Give it a \`SqliteIdempotencyStore\` (\`@onex/effect/sqlite\`, after \`npm i ${SQLITE_DRIVER}\`) to keep
 * idempotency keys across restarts.
 *
 * @example
 * \`\`\`ts
 * const node = new ${pascal}Node();
 * await node.initialize();
 * await node.execute('send', { to: 'ada', message: 'hello' }, { idempotencyKey: 'welcome-ada' });
 * \`\`\`
 */
export class ${pascal}Node extends NodeEffect<${pascal}Operations, typeof ${pascal}Config> {
  /** Where the node delivers. */
  readonly outbox: ${pascal}Outbox;

  constructor(options: ${pascal}NodeOptions = {}) {
    const { outbox = new Memory${pascal}Outbox(), ...rest } = options;
    const config = ${pascal}Config.parse(rest.config ?? {});
    super(${camel}Definition(outbox, config.sender), rest);
    this.outbox = outbox;
  }
}
`;

  const server = `import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadManifest, serveNode, type ServedNode } from '@onex/core';
import { load${pascal}Settings, ${pascal}Config, type ${pascal}Settings } from './config.js';
import { ${pascal}Node } from './${kebab}-node.js';

${manifestPathExport(options.names)}
/**
 * Serves \`${kebab}\` over HTTP with its manifest's resilience settings and config. It delivers to the in-memory
 * outbox: pass your own \`outbox\` to \`${pascal}Node\` here. \`close()\` drains, then shuts it down.
 */
export async function serve${pascal}Node(settings: ${pascal}Settings = load${pascal}Settings()): Promise<ServedNode> {
  const manifest = await loadManifest(${camel}ManifestPath);
  const node = new ${pascal}Node({
    config: ${pascal}Config.parse(manifest.config),
${RESILIENCE_OPTIONS}
  });
  return serveNode(node, { port: settings.port, host: settings.host });
}

${mainBlock(options.names)}`;

  const test = `import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNodeClient, createSilentLogger, ErrorCode, loadManifest, serveNode } from '@onex/core';
import { ${camel}Contract } from '../src/nodes/${kebab}/contract.js';
import { Memory${pascal}Outbox, ${pascal}Node } from '../src/nodes/${kebab}/${kebab}-node.js';
import { ${camel}ManifestPath } from '../src/nodes/${kebab}/server.js';

describe('${kebab}', () => {
${manifestTest(options.names)}
  it('sends once per idempotency key', async () => {
    const outbox = new Memory${pascal}Outbox();
    const node = new ${pascal}Node({ outbox, config: { sender: 'tests' }, logger: createSilentLogger() });
    await node.initialize();
    const call = { operation: 'send', input: { to: 'ada', message: 'hello' } };
    const first = await node.handle(call, { idempotencyKey: 'greet-ada' });
    const again = await node.handle(call, { idempotencyKey: 'greet-ada' });
    assert.equal(first.ok, true);
    assert.deepEqual(again, first);
    assert.equal(outbox.delivered.length, 1);
    assert.equal(outbox.delivered[0]?.from, 'tests');
    await node.shutdown();
  });

  it('rejects an invalid input with VALIDATION, naming the field', async () => {
    const node = new ${pascal}Node({ logger: createSilentLogger() });
    await node.initialize();
    const r = await node.handle({ operation: 'send', input: { to: '', message: 'hello' } });
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.error.code, ErrorCode.Validation);
      assert.match(r.error.message, /to/);
    }
    await node.shutdown();
  });

  it('serves over HTTP', async () => {
    const outbox = new Memory${pascal}Outbox();
    const served = await serveNode(new ${pascal}Node({ outbox, logger: createSilentLogger() }), { port: 0 });
    const client = createNodeClient(served.url, ${camel}Contract);
    try {
      const r = await client.callOrThrow({ operation: 'send', input: { to: 'ada', message: 'hi' } }, { idempotencyKey: 'http-1' });
      assert.equal(r.result.from, '${kebab}');
      assert.equal(outbox.delivered[0]?.idempotencyKey, 'http-1');
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
    { path: `${dir}/manifest.yaml`, content: manifestYaml({ ...options, kind: 'effect', description: DESCRIPTION, extra: ['config:', `  sender: ${kebab}`] }) },
    { path: `${dir}/config.ts`, content: config },
    { path: `${dir}/server.ts`, content: server },
    { path: `test/${kebab}.test.ts`, content: test },
  ];
}
