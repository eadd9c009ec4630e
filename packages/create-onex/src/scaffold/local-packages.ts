import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ScaffoldError } from './scaffold-error.js';

/** Packed packages in a local folder, by package name: what a project installs instead of the registry's. */
export interface LocalPackages {
  /** The folder, absolute. */
  readonly dir: string;
  /** Package name → absolute path of its `.tgz`. */
  readonly tarballs: ReadonlyMap<string, string>;
}

const BLOCK = 512;

/** A NUL-terminated field of a tar header. */
function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString('utf8');
}

/**
 * The text of one file of a gzipped tar (`npm pack` / `pnpm pack` output), or undefined when it holds none by that
 * path. Reads ustar headers (name, size, prefix); enough for package tarballs, which is all it is for.
 *
 * @example
 * ```ts compile-only
 * import { readFileSync } from 'node:fs';
 * const manifest = readTarEntry(readFileSync('onex-core-0.0.0.tgz'), 'package/package.json');
 * ```
 */
export function readTarEntry(tgz: Buffer, path: string): string | undefined {
  const tar = gunzipSync(tgz);
  for (let offset = 0; offset + BLOCK <= tar.length; ) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return undefined;
    const prefix = field(header, 345, 155);
    const name = prefix === '' ? field(header, 0, 100) : `${prefix}/${field(header, 0, 100)}`;
    const size = Number.parseInt(field(header, 124, 12).trim() || '0', 8);
    const start = offset + BLOCK;
    if (name === path) return tar.subarray(start, start + size).toString('utf8');
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return undefined;
}

/** Whether a folder is a checkout of the ONEX repository (rather than a folder of its packed packages). */
function isOnexCheckout(dir: string): boolean {
  const core = join(dir, 'packages', 'core', 'package.json');
  return existsSync(join(dir, 'pnpm-workspace.yaml')) && existsSync(core) && (JSON.parse(readFileSync(core, 'utf8')) as { name?: unknown }).name === '@onex/core';
}

/**
 * Reads a folder of packed packages (the `.tgz` files `pnpm pack` writes, e.g. by `node scripts/pack-packages.mjs
 * <dir>` in an ONEX checkout): each tarball's package name, from its `package/package.json`.
 *
 * @throws ScaffoldError when the folder does not exist, holds no tarball, holds two of one package, or is an ONEX
 * checkout (which has to be packed first: the message says how).
 * @example
 * ```ts compile-only
 * const local = readLocalPackages('../onex-packs');
 * local.tarballs.get('@onex/core'); // '/home/me/onex-packs/onex-core-0.0.0.tgz'
 * ```
 */
export function readLocalPackages(dir: string): LocalPackages {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new ScaffoldError(`--onex-from ${dir}: no such folder`);
  if (isOnexCheckout(root)) {
    throw new ScaffoldError(
      `--onex-from ${dir} is an ONEX checkout; it takes a folder of packed packages. Pack them first:\n` +
        `  (cd ${dir} && pnpm install && pnpm build && node scripts/pack-packages.mjs ${join(dir, '.packs')})\n` +
        `then pass --onex-from ${join(dir, '.packs')}`,
    );
  }
  const tarballs = new Map<string, string>();
  for (const file of readdirSync(root).filter((f) => f.endsWith('.tgz')).sort()) {
    const path = join(root, file);
    let name: unknown;
    try {
      const manifest = readTarEntry(readFileSync(path), 'package/package.json');
      name = manifest === undefined ? undefined : (JSON.parse(manifest) as { name?: unknown }).name;
    } catch (error) {
      throw new ScaffoldError(`${path} is not a packed package: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (typeof name !== 'string') throw new ScaffoldError(`${path} is not a packed package (no package/package.json with a name)`);
    const other = tarballs.get(name);
    if (other !== undefined) throw new ScaffoldError(`${root} holds two tarballs of ${name}: ${other} and ${path}; keep one`);
    tarballs.set(name, path);
  }
  if (tarballs.size === 0) throw new ScaffoldError(`--onex-from ${dir}: no .tgz files in ${root}`);
  return { dir: root, tarballs };
}

/**
 * The `file:` specifier of each named package, relative to the project (as `npm install <tgz>` writes it), so the
 * project and the folder of tarballs can move together.
 *
 * @throws ScaffoldError naming every package the folder has no tarball of.
 * @example
 * ```ts compile-only
 * localSpecifiers('/work/shop', readLocalPackages('/work/packs'), ['@onex/core']); // { '@onex/core': 'file:../packs/onex-core-0.0.0.tgz' }
 * ```
 */
export function localSpecifiers(projectRoot: string, local: LocalPackages, names: readonly string[]): Readonly<Record<string, string>> {
  const missing = names.filter((name) => !local.tarballs.has(name));
  if (missing.length > 0) {
    throw new ScaffoldError(`${local.dir} has no tarball of ${missing.join(', ')} (it has ${[...local.tarballs.keys()].join(', ')}): pack every package of the checkout`);
  }
  const specifiers: Record<string, string> = {};
  for (const name of names) {
    const path = relative(resolve(projectRoot), local.tarballs.get(name) ?? '');
    specifiers[name] = `file:${path.split(sep).join('/')}`;
  }
  return specifiers;
}
