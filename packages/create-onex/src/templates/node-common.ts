import type { NodeNames } from '../names/names.js';

/** The four kinds of ONEX node, as `create-onex add <kind>` takes them. */
export const NodeKindName = { Compute: 'compute', Effect: 'effect', Reducer: 'reducer', Orchestrator: 'orchestrator' } as const;
/** One of the {@link NodeKindName} values. */
export type NodeKindName = (typeof NodeKindName)[keyof typeof NodeKindName];

/** A node an orchestrator calls: one of the project's compute, effect or reducer nodes. */
export interface PeerNode {
  readonly names: NodeNames;
  readonly kind: Exclude<NodeKindName, 'orchestrator'>;
}

/** What every node template needs. */
export interface NodeTemplateOptions {
  readonly names: NodeNames;
  /** The project's domain: the `owner` of the manifest. */
  readonly domain: string | undefined;
  /** The version the node's contract starts at. */
  readonly version: string;
}

/** A settings field of a node's `config.ts`: its zod schema and the environment variable it is read from. */
export interface SettingField {
  readonly key: string;
  readonly schema: string;
  readonly env: string;
  readonly doc: string;
}

/** The settings every node process has: where it listens. */
export function listenFields(names: NodeNames): readonly SettingField[] {
  return [
    { key: 'port', schema: 'z.coerce.number().int().min(0).max(65_535).default(0)', env: `${names.constant}_PORT`, doc: 'Port to listen on; 0 picks a free one.' },
    { key: 'host', schema: "z.string().min(1).default('127.0.0.1')", env: `${names.constant}_HOST`, doc: 'Interface to bind (loopback unless you mean it).' },
  ];
}

/** `config.ts`: the process settings of a node, read from the environment and validated by zod. */
export function settingsModule(names: NodeNames, fields: readonly SettingField[], extra = ''): string {
  const { pascal, kebab } = names;
  const shape = fields.map((f) => `  /** ${f.doc} (\`${f.env}\`) */\n  ${f.key}: ${f.schema},`).join('\n');
  const read = fields.map((f) => `    ${f.key}: env['${f.env}'],`).join('\n');
  return `import { ErrorCode, OnexError } from '@onex/core';
import { z } from 'zod';
${extra}
/** Settings of the \`${kebab}\` process: read from the environment, validated when the process starts. */
export const ${pascal}Settings = z.object({
${shape}
});
/** Settings of the \`${kebab}\` process. */
export type ${pascal}Settings = z.output<typeof ${pascal}Settings>;

/**
 * Reads and validates the settings of the \`${kebab}\` process.
 *
 * @throws OnexError \`VALIDATION\` naming the variable that is wrong.
 * @example
 * \`\`\`ts
 * const settings = load${pascal}Settings({ ${fields[0]?.env ?? 'PORT'}: '4001' });
 * \`\`\`
 */
export function load${pascal}Settings(env: Readonly<Record<string, string | undefined>> = process.env): ${pascal}Settings {
  const parsed = ${pascal}Settings.safeParse({
${read}
  });
  if (!parsed.success) {
    throw new OnexError(ErrorCode.Validation, \`Invalid settings of '${kebab}': \${z.prettifyError(parsed.error)}\`);
  }
  return parsed.data;
}
`;
}

/** The manifest of a node. */
export function manifestYaml(options: NodeTemplateOptions & { readonly kind: NodeKindName; readonly description: string; readonly dependencies?: readonly PeerNode[]; readonly extra?: readonly string[] }): string {
  const deps = options.dependencies ?? [];
  const lines = [
    `# The \`${options.names.kebab}\` node's manifest: identity, resilience settings and the peers it calls.`,
    '# Its test checks that name, kind and version agree with contract.ts.',
    `name: ${options.names.kebab}`,
    `kind: ${options.kind}`,
    `version: ${options.version}`,
    `description: ${JSON.stringify(options.description)}`,
    ...(options.domain === undefined ? [] : [`owner: ${options.domain}`]),
    'resilience:',
    '  timeoutMs: 5000        # deadline of a call that brings none',
    '  maxConcurrency: 256    # calls at once before OVERLOADED',
    ...(deps.length === 0 ? [] : ['dependencies:', ...deps.map((d) => `  - { name: ${d.names.kebab}, kind: ${d.kind} }`)]),
    ...(options.extra ?? []),
  ];
  return `${lines.join('\n')}\n`;
}

/** The lines of `server.ts` that run the module as a process: serve until SIGINT or SIGTERM. */
export function mainBlock(names: NodeNames): string {
  return `// \`node dist/src/nodes/${names.kebab}/server.js\`: serve until SIGINT or SIGTERM.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const served = await serve${names.pascal}Node();
  console.log(JSON.stringify({ node: '${names.kebab}', url: served.url }));
  const stop = (): void => {
    served.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
`;
}

/** Options for a node from its manifest's `resilience` section (a spread, so absent settings stay absent). */
export const RESILIENCE_OPTIONS = `    ...(manifest.resilience.timeoutMs === undefined ? {} : { defaultTimeoutMs: manifest.resilience.timeoutMs }),
    ...(manifest.resilience.maxConcurrency === undefined ? {} : { maxConcurrency: manifest.resilience.maxConcurrency }),`;

/**
 * What `npm i` installs for a SQLite store: better-sqlite3 is an optional peer dependency of `@onex/*` (the range
 * its `peerDependencies` declare; a test checks they agree), installed only by projects that keep state in SQLite.
 */
export const SQLITE_DRIVER = 'better-sqlite3@12';

/** Options of {@link sqliteStoreOpener}. */
export interface SqliteStoreOpenerOptions {
  /** The variable naming the store file, for the error message. */
  readonly env: string;
  /** `@onex/reducer/sqlite` or `@onex/orchestrator/sqlite`. */
  readonly subpath: string;
  /** The class it exports. */
  readonly className: string;
  /** The store interface of the main entry, the function's return type. */
  readonly storeType: string;
}

/**
 * A `server.ts` function opening the SQLite store with a dynamic import: the native driver loads only when a store
 * file is set, so a project on the memory store never installs it.
 */
export function sqliteStoreOpener(options: SqliteStoreOpenerOptions): string {
  return `/**
 * The SQLite store in \`path\`. \`${options.subpath}\` needs better-sqlite3, a native module: it is loaded only when
 * \`${options.env}\` is set, so \`npm i ${SQLITE_DRIVER}\` only if you keep state in SQLite.
 */
async function openSqliteStore(path: string): Promise<${options.storeType}> {
  try {
    const { ${options.className} } = await import('${options.subpath}');
    return new ${options.className}({ path });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && String(error).includes('better-sqlite3')) {
      throw new Error('${options.env} needs the SQLite driver: npm i ${SQLITE_DRIVER}', { cause: error });
    }
    throw error;
  }
}
`;
}

/** The manifest-path export of `server.ts` (next to the compiled file: the build copies it). */
export function manifestPathExport(names: NodeNames): string {
  return `/** The node's manifest, next to this module (\`npm run build\` copies it into dist/). */
export const ${names.camel}ManifestPath = fileURLToPath(new URL('./manifest.yaml', import.meta.url));
`;
}

/** The test that keeps a manifest and its contract in agreement. */
export function manifestTest(names: NodeNames): string {
  return `  it('agrees with its manifest', async () => {
    const manifest = await loadManifest(${names.camel}ManifestPath);
    const { name, kind, version } = ${names.camel}Contract;
    assert.deepEqual({ name: manifest.name, kind: manifest.kind, version: manifest.version }, { name, kind, version });
  });
`;
}
