import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localSpecifiers, readLocalPackages, readTarEntry } from './local-packages.js';
import { createProject } from './scaffold.js';
import { ScaffoldError } from './scaffold-error.js';

const versions = { '@onex/core': '1.2.3', '@onex/compute': '1.2.3', '@onex/testing': '1.2.3', zod: '4.6.7', typescript: '5.9.3', '@types/node': '20.19.43' };
let base: string;
let packs: string;

/** Packs a package the way `pnpm pack` lays it out (`package/package.json`), with the system's tar. */
function pack(dir: string, name: string, file = `${name.replace(/^@/, '').replace('/', '-')}-1.2.3.tgz`): string {
  const staging = mkdtempSync(join(base, 'staging-'));
  mkdirSync(join(staging, 'package'));
  writeFileSync(join(staging, 'package', 'package.json'), JSON.stringify({ name, version: '1.2.3' }));
  writeFileSync(join(staging, 'package', 'README.md'), `# ${name}\n`);
  execFileSync('tar', ['-czf', join(dir, file), '-C', staging, 'package']);
  return join(dir, file);
}

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'create-onex-local-'));
  packs = join(base, 'packs');
  mkdirSync(packs);
  for (const name of ['@onex/core', '@onex/compute', '@onex/testing', 'create-onex']) pack(packs, name);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('readLocalPackages', () => {
  it('reads each tarball’s package name from its package.json, not from the file name', () => {
    pack(packs, '@onex/reducer', 'renamed.tgz');
    const local = readLocalPackages(packs);
    expect(local.dir).toBe(packs);
    expect([...local.tarballs.keys()].sort()).toEqual(['@onex/compute', '@onex/core', '@onex/reducer', '@onex/testing', 'create-onex']);
    expect(local.tarballs.get('@onex/reducer')).toBe(join(packs, 'renamed.tgz'));
    expect(readTarEntry(readFileSync(join(packs, 'onex-core-1.2.3.tgz')), 'package/README.md')).toBe('# @onex/core\n');
    expect(readTarEntry(readFileSync(join(packs, 'onex-core-1.2.3.tgz')), 'package/missing.json')).toBeUndefined();
  });

  it('says what is wrong with the folder', () => {
    expect(() => readLocalPackages(join(base, 'nope'))).toThrow(/no such folder/);
    const empty = join(base, 'empty');
    mkdirSync(empty);
    expect(() => readLocalPackages(empty)).toThrow(/no \.tgz files/);
    pack(packs, '@onex/core', 'core-again.tgz');
    expect(() => readLocalPackages(packs)).toThrow(/two tarballs of @onex\/core/);
    const junk = join(base, 'junk');
    mkdirSync(junk);
    writeFileSync(join(junk, 'x.tgz'), 'not gzip');
    expect(() => readLocalPackages(junk)).toThrow(ScaffoldError);
    expect(() => readLocalPackages(junk)).toThrow(/x\.tgz is not a packed package/);
  });

  it('refuses an ONEX checkout and says how to pack it', () => {
    const checkout = join(base, 'onex');
    mkdirSync(join(checkout, 'packages', 'core'), { recursive: true });
    writeFileSync(join(checkout, 'pnpm-workspace.yaml'), 'packages:\n  - packages/*\n');
    writeFileSync(join(checkout, 'packages', 'core', 'package.json'), JSON.stringify({ name: '@onex/core' }));
    expect(() => readLocalPackages(checkout)).toThrow(/is an ONEX checkout[\s\S]*node scripts\/pack-packages\.mjs/);
  });
});

describe('localSpecifiers', () => {
  it('names each package by a file: path relative to the project, and every package it lacks', () => {
    const local = readLocalPackages(packs);
    expect(localSpecifiers(join(base, 'shop'), local, ['@onex/core', 'create-onex'])).toEqual({
      '@onex/core': 'file:../packs/onex-core-1.2.3.tgz',
      'create-onex': 'file:../packs/create-onex-1.2.3.tgz',
    });
    expect(() => localSpecifiers(join(base, 'shop'), local, ['@onex/core', '@onex/effect', '@onex/orchestrator'])).toThrow(
      /has no tarball of @onex\/effect, @onex\/orchestrator/,
    );
  });
});

describe('createProject with onexFrom', () => {
  it('depends on the tarballs with file: specifiers, zod and the compiler still from the registry', async () => {
    const dir = join(base, 'apps', 'shop');
    await createProject({ dir, domain: 'acme', versions, onexFrom: packs });
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    expect(pkg['dependencies']).toEqual({
      '@onex/compute': 'file:../../packs/onex-compute-1.2.3.tgz',
      '@onex/core': 'file:../../packs/onex-core-1.2.3.tgz',
      zod: '^4.6.7',
    });
    expect(pkg['devDependencies']).toEqual({
      '@onex/testing': 'file:../../packs/onex-testing-1.2.3.tgz',
      '@types/node': '^20.19.43',
      'create-onex': 'file:../../packs/create-onex-1.2.3.tgz',
      typescript: '~5.9.3',
    });
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain(`come from the packed packages in \`${packs}\``);
  });

  it('writes nothing when the folder lacks a package the project depends on', async () => {
    rmSync(join(packs, 'create-onex-1.2.3.tgz'));
    const dir = join(base, 'shop');
    await expect(createProject({ dir, versions, onexFrom: packs })).rejects.toThrow(/has no tarball of create-onex/);
    expect(() => readFileSync(join(dir, 'package.json'))).toThrow(/ENOENT/);
  });
});
