#!/usr/bin/env node
// The release flow up to the publish step, without touching this checkout (see RELEASING.md):
//   1. `changeset version` on a copy of the workspace's manifests and changesets: every pending changeset is
//      consumed, the fixed @onex/* group moves to one version, CHANGELOG.md files are written;
//   2. `pnpm -r publish --dry-run --no-git-checks` here: every public package packs and reaches the publish step
//      (what `changeset publish` runs for each unpublished version), after `pnpm build`.
// Usage: node scripts/release-dry-run.mjs
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const changesetBin = join(root, 'node_modules', '@changesets', 'cli', 'bin.js');
const failures = [];
const check = (ok, message) => {
  console.log(`${ok ? '✓' : '✗'} ${message}`);
  if (!ok) failures.push(message);
};
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

// 1. `changeset version` on a copy: the files it reads and writes, nothing else.
const copy = mkdtempSync(join(tmpdir(), 'onex-release-'));
try {
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => /(^|\/)(package\.json|CHANGELOG\.md|pnpm-workspace\.yaml)$/.test(f) || f.startsWith('.changeset/'))
    .filter((f) => existsSync(join(root, f)));
  for (const file of files) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(root, file), join(copy, file));
  }
  const pending = readdirSync(join(copy, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md');
  const config = readJson(join(copy, '.changeset', 'config.json'));
  const manifests = () =>
    readdirSync(join(copy, 'packages'))
      .filter((d) => existsSync(join(copy, 'packages', d, 'package.json')))
      .map((d) => ({ dir: d, pkg: readJson(join(copy, 'packages', d, 'package.json')) }))
      .filter(({ pkg }) => pkg.private !== true);
  const before = new Map(manifests().map(({ pkg }) => [pkg.name, pkg.version]));

  const version = spawnSync(process.execPath, [changesetBin, 'version'], { cwd: copy, encoding: 'utf8' });
  check(version.status === 0, `changeset version (${pending.length} pending changesets)${version.status === 0 ? '' : `\n${version.stdout}${version.stderr}`}`);
  const left = readdirSync(join(copy, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md');
  check(left.length === 0, `every changeset consumed${left.length === 0 ? '' : `: ${left.join(', ')} left`}`);

  const after = manifests();
  for (const { dir, pkg } of after) {
    const changed = before.get(pkg.name) !== pkg.version;
    const changelog = existsSync(join(copy, 'packages', dir, 'CHANGELOG.md'));
    console.log(`  ${pkg.name}: ${before.get(pkg.name)} → ${pkg.version}${changelog ? ', CHANGELOG.md' : ''}`);
    if (changed) check(changelog, `${pkg.name} has a CHANGELOG.md entry for ${pkg.version}`);
  }
  for (const group of config.fixed ?? []) {
    const patterns = group.map((g) => new RegExp(`^${g.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`));
    const members = after.filter(({ pkg }) => patterns.some((p) => p.test(pkg.name)));
    const versions = new Set(members.map(({ pkg }) => pkg.version));
    check(versions.size <= 1, `fixed group ${group.join(', ')} shares one version (${[...versions].join(', ')})`);
  }
} finally {
  rmSync(copy, { recursive: true, force: true });
}

// 2. Publish, dry run, from this checkout (built).
const publish = spawnSync('pnpm', ['-r', 'publish', '--dry-run', '--no-git-checks'], { cwd: root, encoding: 'utf8' });
const output = `${publish.stdout}${publish.stderr}`;
const reached = [...output.matchAll(/^\+ (\S+)$/gm)].map((m) => m[1]);
check(publish.status === 0 && reached.length > 0, `pnpm -r publish --dry-run reached the publish step for: ${reached.join(', ') || 'nothing'}`);
if (publish.status !== 0) console.log(output);

console.log(failures.length === 0 ? '\nThe release flow works up to the publish step.' : `\n${failures.length} release check(s) failed.`);
process.exit(failures.length === 0 ? 0 : 1);
