#!/usr/bin/env node
// Checks what would be published: packs every public workspace package with `pnpm pack` (as `pnpm release`
// publishes them: `workspace:*` replaced by versions), then on each tarball runs
//   - publint --strict (package.json fields, exports, files that exist),
//   - @arethetypeswrong/cli --profile esm-only (types resolve under node16 ESM and bundlers; the packages are
//     ESM-only, so CommonJS `require` resolutions are not expected to work),
//   - a check of the tarball's own contents (LICENSE, README, entry points, no build caches, no `workspace:`),
//   - its dependency boundaries, read from the packed files: every package an entry point's import graph reaches
//     (JavaScript and declarations) is declared; an optional peer dependency (a store driver: better-sqlite3, pg)
//     is reached only from a subpath, never from the main entry; and the packages whose types cross into users'
//     code (SHARED) are peer dependencies, so a project and the packages share one copy (issue #7: a second zod
//     under @onex/* made the guide's code fail to compile).
// Usage: node scripts/check-packages.mjs [--keep <dir>]   (after `pnpm build`; --keep leaves the tarballs there)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const keepIndex = process.argv.indexOf('--keep');
const keep = keepIndex === -1 ? undefined : resolve(process.argv[keepIndex + 1] ?? '');
const out = keep ?? mkdtempSync(join(tmpdir(), 'onex-check-packages-'));
mkdirSync(out, { recursive: true });
const bin = (name) => join(root, 'node_modules', '.bin', name);
const ts = createRequire(join(root, 'package.json'))('typescript');

/** Packages whose types appear in the public API: a second copy would make them different types. */
const SHARED = ['zod', 'hono'];
const BUILTINS = new Set(builtinModules);

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
const packageOf = (specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

/**
 * The packages an entry file's import graph reaches (static, dynamic and type imports, through relative files;
 * comments ignored): `declarations` maps `./x.js` to `./x.d.ts`.
 */
function reachedPackages(entry, { declarations }) {
  const seen = new Set();
  const reached = new Set();
  const visit = (file) => {
    if (seen.has(file) || !existsSync(file)) return;
    seen.add(file);
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      if (fileName.startsWith('.')) visit(resolve(dirname(file), declarations ? fileName.replace(/\.js$/, '.d.ts') : fileName));
      else if (!fileName.startsWith('node:') && !BUILTINS.has(fileName)) reached.add(packageOf(fileName));
    }
    for (const { fileName } of info.typeReferenceDirectives) if (fileName !== 'node') reached.add(fileName);
  };
  visit(entry);
  return reached;
}

/** What is wrong with the dependency boundaries of an unpacked package (see the top of the file). */
function boundaryProblems(dir, pkg) {
  const problems = [];
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
  const optional = new Set(Object.entries(pkg.peerDependenciesMeta ?? {}).filter(([, meta]) => meta.optional === true).map(([name]) => name));
  // A types import of `x` is served by `x` or by `@types/x`.
  const typesOf = (name) => `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`;
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    if (typeof target !== 'object' || target === null) continue;
    const graphs = [
      ['JavaScript', target.default, false],
      ['declarations', target.types, true],
    ];
    for (const [kind, file, declarations] of graphs) {
      if (typeof file !== 'string') continue;
      for (const name of reachedPackages(join(dir, file), { declarations })) {
        if (name === pkg.name) continue;
        const providers = declarations ? [name, typesOf(name)] : [name];
        if (!providers.some((p) => declared.has(p))) problems.push(`${subpath} (${kind}) imports ${name}, which is not a dependency or peer dependency`);
        if (subpath === '.' && providers.some((p) => optional.has(p))) problems.push(`the main entry (${kind}) reaches the optional peer ${name}: move what needs it to a subpath`);
      }
    }
  }
  for (const name of SHARED) {
    if (pkg.dependencies?.[name] !== undefined) problems.push(`${name} is a dependency: make it a peer dependency with a range (its types cross into users' code)`);
  }
  return problems;
}

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
  const unpacked = join(out, `${tarball}.d`);
  mkdirSync(unpacked, { recursive: true });
  execFileSync('tar', ['-xzf', path, '-C', unpacked]);
  const boundaries = boundaryProblems(join(unpacked, 'package'), packed);
  rmSync(unpacked, { recursive: true, force: true });
  if (boundaries.length > 0) {
    failures.push(`${pkg.name}: dependency boundaries`);
    console.log(`✗ dependency boundaries\n${boundaries.map((p) => `    ${p}`).join('\n')}`);
  } else {
    const subpaths = Object.keys(packed.exports ?? {}).filter((k) => k !== './package.json');
    console.log(`✓ dependency boundaries (${subpaths.join(', ')})`);
  }
  run(`${pkg.name}: publint`, bin('publint'), ['run', path, '--strict']);
  run(`${pkg.name}: attw`, bin('attw'), [path, '--profile', 'esm-only', '--format', 'ascii', '--no-emoji', '--no-color']);
}

if (keep === undefined) rmSync(out, { recursive: true, force: true });
console.log(failures.length === 0 ? `\nAll ${packages.length} packages are publishable.` : `\n${failures.length} check(s) failed: ${failures.join(', ')}`);
process.exit(failures.length === 0 ? 0 : 1);
