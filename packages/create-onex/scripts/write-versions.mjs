// Writes dist/onex-versions.json: the version of every public @onex/* package of this workspace (and of zod,
// typescript and @types/node), read at build time. Generated projects depend on these, so a published create-onex
// scaffolds projects against the @onex/* release it was built with (the release script builds before it publishes).
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const packagesDir = join(import.meta.dirname, '..', '..');
const versions = {};
for (const entry of readdirSync(packagesDir).sort()) {
  const manifest = join(packagesDir, entry, 'package.json');
  if (!existsSync(manifest)) continue;
  const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
  if (typeof pkg.name === 'string' && pkg.name.startsWith('@onex/') && pkg.private !== true) versions[pkg.name] = pkg.version;
}
if (Object.keys(versions).length === 0) throw new Error(`No @onex/* packages found under ${packagesDir}`);
// What generated code imports besides @onex/*, at the versions the packages are built and tested with. zod is a
// peer dependency of @onex/* (one copy, the project's); the version core resolves is the one they are tested with.
const root = JSON.parse(readFileSync(join(packagesDir, '..', 'package.json'), 'utf8'));
versions.zod = JSON.parse(readFileSync(createRequire(join(packagesDir, 'core', 'package.json')).resolve('zod/package.json'), 'utf8')).version;
versions.typescript = root.devDependencies.typescript;
versions['@types/node'] = root.devDependencies['@types/node'];
for (const [name, version] of Object.entries(versions)) {
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+/.test(version)) throw new Error(`No exact version for ${name}: ${version}`);
}
writeFileSync(join(import.meta.dirname, '..', 'dist', 'onex-versions.json'), `${JSON.stringify(versions, null, 2)}\n`);
