/**
 * `create-onex`: scaffolds ONEX projects and nodes. Run it as `npm create onex <dir>` / `pnpm create onex <dir>`,
 * then `npx create-onex add <kind> <name>` in the project; or call the same functions from code.
 *
 * @example
 * ```ts
 * import { addNode, createProject } from 'create-onex';
 * await createProject({ dir: 'shop', domain: 'acme' });
 * await addNode({ dir: 'shop', kind: 'compute', name: 'price-quote' });
 * ```
 *
 * @packageDocumentation
 */
export { InvalidNameError, nodeNames, toKebabCase, validateDomain, validateProjectName, MAX_NODE_NAME_LENGTH, type NodeNames } from './names/names.js';
export {
  addNode,
  createProject,
  listNodes,
  ScaffoldError,
  type AddNodeOptions,
  type CreateProjectOptions,
  type ScaffoldResult,
} from './scaffold/scaffold.js';
export { FileExistsError, writeFiles, type GeneratedFile, type WriteFilesOptions } from './scaffold/write-files.js';
export { NodeKindName, type PeerNode } from './templates/node-common.js';
export { readOnexVersions, type OnexVersions } from './versions/onex-versions.js';
