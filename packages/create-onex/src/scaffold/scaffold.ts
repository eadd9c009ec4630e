import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { nodeNames, validateDomain, validateProjectName, type NodeNames } from '../names/names.js';
import { computeNodeFiles } from '../templates/compute-node.js';
import { effectNodeFiles } from '../templates/effect-node.js';
import { NodeKindName, type PeerNode } from '../templates/node-common.js';
import { orchestratorNodeFiles } from '../templates/orchestrator-node.js';
import { GENERATOR_PACKAGE, onexPackages, PROJECT_SETTINGS_KEY, projectFiles } from '../templates/project-files.js';
import { reducerNodeFiles } from '../templates/reducer-node.js';
import { readGeneratorVersion, readOnexVersions, type OnexVersions } from '../versions/onex-versions.js';
import { localSpecifiers, readLocalPackages } from './local-packages.js';
import { ScaffoldError } from './scaffold-error.js';
import { writeFiles, type GeneratedFile } from './write-files.js';

export { ScaffoldError };

/** Options of {@link createProject}. */
export interface CreateProjectOptions {
  /** Folder of the new project; its last segment is the project's name. */
  readonly dir: string;
  /** The npm scope of the project's package and the `owner` of its manifests. */
  readonly domain?: string;
  /** Overwrite files that exist. Default false (nothing is written if any exists). */
  readonly force?: boolean;
  /** Versions to depend on. Default: those the generator was built with. */
  readonly versions?: OnexVersions;
  /**
   * A folder of packed `@onex/*` and `create-onex` packages (`.tgz`, as `pnpm pack` writes them) to depend on
   * instead of the registry's releases: `file:` specifiers relative to the project. For trying a checkout before
   * a release. Default: the registry.
   */
  readonly onexFrom?: string;
}

/** What a scaffold step wrote. */
export interface ScaffoldResult {
  /** The project's folder, absolute. */
  readonly root: string;
  /** Files written, relative to the root. */
  readonly files: readonly string[];
}

/**
 * Creates a new ONEX project: package.json (every `@onex/*` package), a strict tsconfig, a README and a test of
 * its manifests. Nodes are added with {@link addNode}. With `onexFrom`, the project depends on the packed packages
 * of that folder instead of the registry's.
 *
 * @throws InvalidNameError for a bad project name or domain; FileExistsError when files exist and `force` is not set;
 * ScaffoldError when `onexFrom` is not a folder of packed packages or lacks one the project needs.
 * @example
 * ```ts
 * await createProject({ dir: 'shop', domain: 'acme' });
 * ```
 */
export async function createProject(options: CreateProjectOptions): Promise<ScaffoldResult> {
  const root = resolve(options.dir);
  const name = validateProjectName(basename(root));
  const domain = options.domain === undefined ? undefined : validateDomain(options.domain);
  if (existsSync(root) && !statSync(root).isDirectory()) throw new ScaffoldError(`${root} exists and is not a folder`);
  const versions = options.versions ?? readOnexVersions();
  const local = options.onexFrom === undefined ? undefined : readLocalPackages(options.onexFrom);
  const specifiers = local === undefined ? undefined : localSpecifiers(root, local, [...onexPackages(versions), GENERATOR_PACKAGE]);
  const files = projectFiles({
    name,
    domain,
    versions,
    generatorVersion: readGeneratorVersion(),
    ...(local === undefined || specifiers === undefined ? {} : { local: { dir: local.dir, specifiers } }),
  });
  return { root, files: await writeFiles(root, files, { force: options.force ?? false }) };
}

/** Options of {@link addNode}. */
export interface AddNodeOptions {
  /** The project's folder. Default: the current folder. */
  readonly dir?: string;
  /** `compute`, `effect`, `reducer` or `orchestrator`. */
  readonly kind: string;
  /** The node's name, kebab-case. */
  readonly name: string;
  /** For an orchestrator: the nodes its workflow calls, in order. Default: every compute, effect and reducer node. */
  readonly peers?: readonly string[];
  /** Overwrite files that exist. Default false (nothing is written if any exists). */
  readonly force?: boolean;
}

const KINDS: readonly string[] = Object.values(NodeKindName);

function isKind(kind: string): kind is NodeKindName {
  return KINDS.includes(kind);
}

/**
 * Adds a node to a project: `src/nodes/<name>/{<name>-node.ts, contract.ts, manifest.yaml, config.ts, server.ts}`
 * and `test/<name>.test.ts`.
 *
 * @throws ScaffoldError for an unknown kind, a folder that is not a project, or an orchestrator without peers;
 * InvalidNameError for a bad name; FileExistsError when files exist and `force` is not set.
 * @example
 * ```ts
 * await createProject({ dir: 'shop' });
 * await addNode({ dir: 'shop', kind: 'compute', name: 'price-quote' });
 * ```
 */
export async function addNode(options: AddNodeOptions): Promise<ScaffoldResult> {
  const root = resolve(options.dir ?? '.');
  if (!isKind(options.kind)) {
    throw new ScaffoldError(`Unknown node kind '${options.kind}': use one of ${KINDS.join(', ')}`);
  }
  const names = nodeNames(options.name);
  const project = readProject(root);
  const base = { names, domain: project.domain, version: '0.1.0' };
  let files: readonly GeneratedFile[];
  switch (options.kind) {
    case NodeKindName.Compute:
      files = computeNodeFiles(base);
      break;
    case NodeKindName.Effect:
      files = effectNodeFiles(base);
      break;
    case NodeKindName.Reducer:
      files = reducerNodeFiles(base);
      break;
    case NodeKindName.Orchestrator:
      files = orchestratorNodeFiles({ ...base, peers: resolvePeers(root, names, options.peers) });
      break;
  }
  return { root, files: await writeFiles(root, files, { force: options.force ?? false }) };
}

interface ProjectInfo {
  readonly domain: string | undefined;
}

function readProject(root: string): ProjectInfo {
  const path = join(root, 'package.json');
  if (!existsSync(path)) {
    throw new ScaffoldError(`${root} has no package.json: create a project first (\`npm create onex <dir>\`) or pass --dir`);
  }
  let pkg: unknown;
  try {
    pkg = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ScaffoldError(`${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const settings = typeof pkg === 'object' && pkg !== null ? (pkg as Record<string, unknown>)[PROJECT_SETTINGS_KEY] : undefined;
  const domain = typeof settings === 'object' && settings !== null ? (settings as Record<string, unknown>)['domain'] : undefined;
  return { domain: typeof domain === 'string' ? validateDomain(domain) : undefined };
}

/** The project's nodes, from their manifests' `name` and `kind` lines. */
export function listNodes(root: string): readonly { readonly name: string; readonly kind: string }[] {
  const dir = join(root, 'src', 'nodes');
  if (!existsSync(dir)) return [];
  const nodes: { name: string; kind: string }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const manifest = join(dir, entry.name, 'manifest.yaml');
    if (!entry.isDirectory() || !existsSync(manifest)) continue;
    const kind = /^kind:\s*([a-z]+)\s*(?:#.*)?$/m.exec(readFileSync(manifest, 'utf8'))?.[1];
    if (kind !== undefined) nodes.push({ name: entry.name, kind });
  }
  return nodes.sort((a, b) => a.name.localeCompare(b.name));
}

function resolvePeers(root: string, self: NodeNames, requested: readonly string[] | undefined): readonly PeerNode[] {
  const nodes = new Map(listNodes(root).map((n) => [n.name, n.kind]));
  const names = requested ?? [...nodes.entries()].filter(([name, kind]) => kind !== NodeKindName.Orchestrator && name !== self.kebab).map(([name]) => name);
  if (names.length === 0) {
    throw new ScaffoldError(
      'An orchestrator calls other nodes, and this project has none yet: add a compute, effect or reducer node first, or name them with --peers a,b',
    );
  }
  const seen = new Set<string>();
  return names.map((name) => {
    const peerNames = nodeNames(name);
    if (seen.has(name)) throw new ScaffoldError(`Peer '${name}' is named twice`);
    seen.add(name);
    if (name === self.kebab) throw new ScaffoldError(`An orchestrator cannot be its own peer ('${name}')`);
    const kind = nodes.get(name);
    if (kind === undefined) throw new ScaffoldError(`No node '${name}' in ${join(root, 'src', 'nodes')}: add it before the orchestrator that calls it`);
    if (kind !== NodeKindName.Compute && kind !== NodeKindName.Effect && kind !== NodeKindName.Reducer) {
      throw new ScaffoldError(`Peer '${name}' is a ${kind} node: an orchestrator's steps call compute, effect or reducer nodes (run other workflows as sub-workflows)`);
    }
    return { names: peerNames, kind };
  });
}
