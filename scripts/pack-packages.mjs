#!/usr/bin/env node
// Packs every public package of the workspace into one folder, as `pnpm release` would publish them (`pnpm pack`:
// `workspace:*` replaced by versions): the `.tgz` files a project made with
// `create-onex <dir> --onex-from <folder>` installs, to try a checkout before a release.
// Usage: node scripts/pack-packages.mjs <folder>   (after `pnpm build`; the folder is created, old tarballs replaced)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const target = process.argv[2];
if (target === undefined || target.startsWith('-')) {
  console.error('Usage: node scripts/pack-packages.mjs <folder>');
  process.exit(2);
}
const out = resolve(target);
mkdirSync(out, { recursive: true });
for (const file of readdirSync(out)) if (file.endsWith('.tgz')) rmSync(join(out, file));

const packages = readdirSync(join(root, 'packages'))
  .map((dir) => join(root, 'packages', dir))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => pkg.private !== true);
const unbuilt = packages.filter(({ dir }) => !existsSync(join(dir, 'dist', 'index.js'))).map(({ pkg }) => pkg.name);
if (unbuilt.length > 0) {
  console.error(`Not built: ${unbuilt.join(', ')}. Run \`pnpm build\` first.`);
  process.exit(1);
}
for (const { dir, pkg } of packages) {
  execFileSync('pnpm', ['pack', '--pack-destination', out], { cwd: dir, stdio: 'pipe' });
  console.log(`packed ${pkg.name}@${pkg.version}`);
}
console.log(`\n${packages.length} packages in ${out}. Then:\n  node ${join('packages', 'create-onex', 'dist', 'cli.js')} <project> --onex-from ${out}`);
