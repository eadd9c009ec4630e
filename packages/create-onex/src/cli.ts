#!/usr/bin/env node
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidNameError } from './names/names.js';
import { addNode, createProject, ScaffoldError } from './scaffold/scaffold.js';
import { FileExistsError } from './scaffold/write-files.js';
import { readGeneratorVersion } from './versions/onex-versions.js';

const USAGE = `Usage:
  create-onex <dir> [--domain <domain>] [--onex-from <packs>] [--force]
      Creates an ONEX project in <dir> (its name is the folder's name, kebab-case).
  create-onex add <kind> <name> [--dir <project>] [--peers a,b] [--force]
      Adds a node: <kind> is compute, effect, reducer or orchestrator; <name> is kebab-case.
      An orchestrator's workflow calls --peers (default: every compute, effect and reducer node).

Options:
  --domain     npm scope of the project's package and owner of its nodes (kebab-case)
  --onex-from  a folder of packed @onex/* and create-onex packages (.tgz) to depend on instead of the
               registry (file: specifiers): try an ONEX checkout before a release
  --dir        the project's folder (default: the current folder)
  --force      overwrite existing files (without it, nothing is written if any exists)
  -h, --help, -v, --version

Examples:
  npm create onex@latest shop -- --domain acme
  npx create-onex add compute price-quote
  node scripts/pack-packages.mjs ../packs && node packages/create-onex/dist/cli.js ../shop --onex-from ../packs`;

async function main(argv: readonly string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      domain: { type: 'string' },
      'onex-from': { type: 'string' },
      dir: { type: 'string' },
      peers: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      version: { type: 'boolean', short: 'v', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.version) {
    console.log(readGeneratorVersion());
    return;
  }
  const [command, ...rest] = positionals;
  if (command === undefined) throw new ScaffoldError(`Missing the project folder.\n\n${USAGE}`);

  if (command === 'add') {
    const [kind, name, ...extra] = rest;
    if (kind === undefined || name === undefined || extra.length > 0) throw new ScaffoldError(`Expected: create-onex add <kind> <name>\n\n${USAGE}`);
    if (values.domain !== undefined) throw new ScaffoldError('--domain is set when the project is created (package.json "onex.domain")');
    if (values['onex-from'] !== undefined) throw new ScaffoldError('--onex-from is set when the project is created (its package.json names the packages)');
    const peers = values.peers?.split(',').map((p) => p.trim()).filter((p) => p !== '');
    const result = await addNode({
      kind,
      name,
      force: values.force,
      ...(values.dir === undefined ? {} : { dir: values.dir }),
      ...(peers === undefined ? {} : { peers }),
    });
    console.log(`Added ${kind} node '${name}':\n${result.files.map((f) => `  ${f}`).join('\n')}\n\nNext: npm test`);
    return;
  }

  if (rest.length > 0) throw new ScaffoldError(`Unexpected arguments: ${rest.join(' ')}\n\n${USAGE}`);
  if (values.dir !== undefined || values.peers !== undefined) throw new ScaffoldError('--dir and --peers belong to `create-onex add`');
  const onexFrom = values['onex-from'];
  const result = await createProject({
    dir: command,
    force: values.force,
    ...(values.domain === undefined ? {} : { domain: values.domain }),
    ...(onexFrom === undefined ? {} : { onexFrom }),
  });
  const cd = relative(process.cwd(), result.root) || '.';
  console.log(`Created ${result.root}:\n${result.files.map((f) => `  ${f}`).join('\n')}

Next:
  cd ${cd}
  npm install
  npx create-onex add compute price-quote
  npm test`);
}

function isUsageError(error: unknown): error is Error {
  return error instanceof ScaffoldError || error instanceof InvalidNameError || error instanceof FileExistsError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (isUsageError(error)) console.error(`create-onex: ${error.message}`);
  else console.error(error);
  process.exitCode = 1;
});
