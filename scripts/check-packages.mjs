#!/usr/bin/env node
// Checks what would be published: packs every public workspace package with `pnpm pack` (as `pnpm release`
// publishes them: `workspace:*` replaced by versions), then on each tarball runs
//   - publint --strict (package.json fields, exports, files that exist),
//   - @arethetypeswrong/cli --profile esm-only (types resolve under node16 ESM and bundlers; the packages are
//     ESM-only, so CommonJS `require` resolutions are not expected to work),
//   - a check of the tarball's own contents (LICENSE, README, entry points, no build caches, no `workspace:`).
// Usage: node scripts/check-packages.mjs [--keep <dir>]   (after `pnpm build`; --keep leaves the tarballs there)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const keepIndex = process.argv.indexOf('--keep');
const keep = keepIndex === -1 ? undefined : resolve(process.argv[keepIndex + 1] ?? '');
const out = keep ?? mkdtempSync(join(tmpdir(), 'onex-check-packages-'));
mkdirSync(out, { recursive: true });
const bin = (name) => join(root, 'node_modules', '.bin', name);

const packages = readdirSync(join(root, 'packages'))
  .map((dir) => join(root, 'packages', dir))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => pkg.private !== true)
  .sort((a, b) => a.pkg.name.localeCompare(b.pkg.name));

const failures = [];
function run(label, command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  if (result.status !== 0) {
    failures.push(label);
    console.log(`✗ ${label}\n${output.replace(/^/gm, '    ')}`);
  } else {
    console.log(`✓ ${label}`);
  }
  return output;
}

for (const { dir, pkg } of packages) {
  const before = new Set(readdirSync(out));
  execFileSync('pnpm', ['pack', '--pack-destination', out], { cwd: dir, stdio: 'pipe' });
  const tarball = readdirSync(out).find((f) => f.endsWith('.tgz') && !before.has(f) && f.includes(pkg.version));
  if (tarball === undefined) {
    failures.push(`${pkg.name}: pack`);
    console.log(`✗ ${pkg.name}: pnpm pack produced no tarball`);
    continue;
  }
  const path = join(out, tarball);
  console.log(`\n${pkg.name}@${pkg.version} (${tarball})`);

  const listing = execFileSync('tar', ['-tzf', path], { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  const packed = JSON.parse(execFileSync('tar', ['-xzOf', path, 'package/package.json'], { encoding: 'utf8' }));
  const problems = [];
  for (const required of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']) {
    if (!listing.includes(required)) problems.push(`missing ${required}`);
  }
  for (const file of listing) {
    if (file.endsWith('.tsbuildinfo') || /\.test(-d)?\.ts$/.test(file)) problems.push(`should not ship ${file}`);
  }
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [name, spec] of Object.entries(packed[field] ?? {})) {
      if (String(spec).startsWith('workspace:')) problems.push(`${field}.${name} is '${spec}'`);
    }
  }
  for (const target of Object.values(packed.bin ?? {})) {
    if (!listing.includes(String(target).replace(/^\.\//, ''))) problems.push(`bin ${target} is not in the tarball`);
  }
  if (problems.length > 0) {
    failures.push(`${pkg.name}: contents`);
    console.log(`✗ contents\n${problems.map((p) => `    ${p}`).join('\n')}`);
  } else {
    console.log(`✓ contents (${listing.length} files)`);
  }
  run(`${pkg.name}: publint`, bin('publint'), ['run', path, '--strict']);
  run(`${pkg.name}: attw`, bin('attw'), [path, '--profile', 'esm-only', '--format', 'ascii', '--no-emoji', '--no-color']);
}

if (keep === undefined) rmSync(out, { recursive: true, force: true });
console.log(failures.length === 0 ? `\nAll ${packages.length} packages are publishable.` : `\n${failures.length} check(s) failed: ${failures.join(', ')}`);
process.exit(failures.length === 0 ? 0 : 1);
