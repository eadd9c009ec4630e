import type { GeneratedFile } from '../scaffold/write-files.js';
import type { OnexVersions } from '../versions/onex-versions.js';
import { SQLITE_DRIVER } from './node-common.js';

/** What the project templates need. */
export interface ProjectTemplateOptions {
  /** The project's name (its folder's name, kebab-case). */
  readonly name: string;
  /** The npm scope and manifest owner, when given. */
  readonly domain: string | undefined;
  /** Versions of `@onex/*`, zod, typescript and @types/node. */
  readonly versions: OnexVersions;
  /** The generator's version (a devDependency, for `npx create-onex add`). */
  readonly generatorVersion: string;
  /**
   * Packed packages to depend on instead of the registry's: the folder they are in, and a specifier (`file:…`)
   * for each `@onex/*` package and `create-onex`. Default: the registry, at `^<version>`.
   */
  readonly local?: { readonly dir: string; readonly specifiers: Readonly<Record<string, string>> };
}

/** The key under which a generated `package.json` records the generator's settings. */
export const PROJECT_SETTINGS_KEY = 'onex';

/** The generator's own package, a devDependency of every project (for `npx create-onex add`). */
export const GENERATOR_PACKAGE = 'create-onex';

/** `@onex/*` packages a project uses in its tests only: devDependencies. */
const DEV_PACKAGES: ReadonlySet<string> = new Set(['@onex/testing']);

/** The `@onex/*` packages of a versions list, sorted. */
export function onexPackages(versions: OnexVersions): readonly string[] {
  return Object.keys(versions)
    .filter((name) => name.startsWith('@onex/'))
    .sort();
}

function required(versions: OnexVersions, name: string): string {
  const version = versions[name];
  if (version === undefined) throw new Error(`create-onex: no version known for ${name}`);
  return version;
}

/** `package.json` of a new project: every `@onex/*` package, zod, and a compiler; tests on `node:test`. */
export function projectPackageJson(options: ProjectTemplateOptions): string {
  const specifier = (name: string, version: string): string => options.local?.specifiers[name] ?? `^${version}`;
  const dependencies: Record<string, string> = {};
  const onexDev: Record<string, string> = {};
  for (const name of onexPackages(options.versions)) {
    (DEV_PACKAGES.has(name) ? onexDev : dependencies)[name] = specifier(name, required(options.versions, name));
  }
  dependencies['zod'] = `^${required(options.versions, 'zod')}`;
  const pkg = {
    name: options.domain === undefined ? options.name : `@${options.domain}/${options.name}`,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '>=20.18' },
    scripts: {
      build: 'tsc -p . && node scripts/copy-assets.mjs',
      typecheck: 'tsc -p . --noEmit',
      test: 'npm run build && node --test dist/test/',
      'add-node': 'create-onex add',
    },
    [PROJECT_SETTINGS_KEY]: options.domain === undefined ? {} : { domain: options.domain },
    dependencies,
    devDependencies: {
      ...onexDev,
      '@types/node': `^${required(options.versions, '@types/node')}`,
      [GENERATOR_PACKAGE]: specifier(GENERATOR_PACKAGE, options.generatorVersion),
      typescript: `~${required(options.versions, 'typescript')}`,
    },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/** The project's strict compiler settings: the same as the `@onex/*` packages are built with. */
export function projectTsconfig(): string {
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2023'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      noImplicitOverride: true,
      noFallthroughCasesInSwitch: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      skipLibCheck: true,
      declaration: true,
      sourceMap: true,
      types: ['node'],
      rootDir: '.',
      outDir: 'dist',
    },
    include: ['src', 'test'],
  };
  return `${JSON.stringify(tsconfig, null, 2)}\n`;
}

const COPY_ASSETS = `// Copies the YAML next to the sources (node manifests, FSM subcontracts) into dist/, where the compiled nodes
// read them: \`tsc\` only emits JavaScript.
import { cpSync, existsSync } from 'node:fs';

if (existsSync('src')) {
  cpSync('src', 'dist/src', {
    recursive: true,
    filter: (source) => !/\\.[cm]?tsx?$/.test(source),
  });
}
`;

const MANIFESTS_TEST = `import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { loadManifest } from '@onex/core';

// Every node folder carries a valid manifest named after the folder (the build copies them to dist/).
test('every node has a valid manifest named after its folder', async () => {
  const nodes = fileURLToPath(new URL('../src/nodes/', import.meta.url));
  const folders = existsSync(nodes) ? readdirSync(nodes, { withFileTypes: true }).filter((e) => e.isDirectory()) : [];
  for (const folder of folders) {
    const manifest = await loadManifest(\`\${nodes}\${folder.name}/manifest.yaml\`);
    assert.equal(manifest.name, folder.name);
  }
});
`;

function projectReadme(options: ProjectTemplateOptions): string {
  const source =
    options.local === undefined
      ? ''
      : `
The \`@onex/*\` packages and \`create-onex\` come from the packed packages in \`${options.local.dir}\`, not from
the registry: \`package.json\` names them with \`file:\` specifiers, and \`npm install\` installs those tarballs
(re-pack and run \`npm install\` again to pick up changes). Once they are released, replace each \`file:\`
specifier with \`^<version>\`.
`;
  return `# ${options.name}

ONEX nodes${options.domain === undefined ? '' : ` of the \`${options.domain}\` domain`}, on \`@onex/*\` ${required(options.versions, '@onex/core')}.
${source}
\`\`\`sh
npm install
npx create-onex add compute price-quote       # also: effect, reducer, orchestrator (--peers a,b,c)
npm test                                      # tsc, then node --test on the compiled tests
node dist/src/nodes/price-quote/server.js     # serve it: PRICE_QUOTE_PORT, PRICE_QUOTE_HOST
\`\`\`

Each node lives in \`src/nodes/<name>/\`:

| file | what |
| --- | --- |
| \`contract.ts\` | the zod schemas of its boundary and its contract as callers see it |
| \`<name>-node.ts\` | the node class, extending the \`@onex/*\` base class of its kind |
| \`manifest.yaml\` | identity, resilience settings and peers; its test checks it agrees with the contract |
| \`config.ts\` | the process settings, from the environment, validated |
| \`server.ts\` | serves the node over HTTP (\`POST /v1/process\`, \`GET /health\`, \`/metrics\`, \`/contract\`) |

and its tests in \`test/<name>.test.ts\`. \`npx create-onex add --help\` lists the options.

Reducer and orchestrator nodes keep their state in memory unless \`<NODE>_STORE\` names a SQLite file (e.g.
\`ORDERS_STORE=orders.db\`). SQLite needs its driver, a native module the \`@onex/*\` packages leave out until you
ask for it: \`npm i ${SQLITE_DRIVER}\`.
`;
}

/** Every file of a new project. */
export function projectFiles(options: ProjectTemplateOptions): readonly GeneratedFile[] {
  return [
    { path: 'package.json', content: projectPackageJson(options) },
    { path: 'tsconfig.json', content: projectTsconfig() },
    { path: 'README.md', content: projectReadme(options) },
    { path: '.gitignore', content: 'node_modules/\ndist/\n*.db\n*.db-shm\n*.db-wal\n' },
    { path: 'scripts/copy-assets.mjs', content: COPY_ASSETS },
    { path: 'test/manifests.test.ts', content: MANIFESTS_TEST },
  ];
}
