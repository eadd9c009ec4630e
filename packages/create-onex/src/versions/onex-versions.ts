import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The public `@onex/*` packages and their versions, as generated projects depend on them. */
export type OnexVersions = Readonly<Record<string, string>>;

// Built: dist/versions/onex-versions.js → dist/onex-versions.json. From source (tests): src/versions → dist/.
const CANDIDATES = ['../onex-versions.json', '../../dist/onex-versions.json'];

/**
 * The versions of the `@onex/*` packages this generator was built with (written by its build), so a generated
 * project depends on the release that matches its templates.
 *
 * @throws Error when the generator was not built (no `onex-versions.json`).
 * @example
 * ```ts
 * readOnexVersions()['@onex/core']; // '0.1.0'
 * ```
 */
export function readOnexVersions(): OnexVersions {
  for (const candidate of CANDIDATES) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (!existsSync(path)) continue;
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) break;
    const versions: Record<string, string> = {};
    for (const [name, version] of Object.entries(parsed)) {
      if (typeof version === 'string') versions[name] = version;
    }
    return versions;
  }
  throw new Error('create-onex: onex-versions.json is missing; build the generator first (`pnpm --filter create-onex build`)');
}

/** The generator's own version (a generated project pins it as a devDependency, for `npx create-onex add`). */
export function readGeneratorVersion(): string {
  // Both src/versions and dist/versions are two levels below the package root.
  const path = fileURLToPath(new URL('../../package.json', import.meta.url));
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown };
  if (typeof parsed.version !== 'string') throw new Error(`create-onex: no version in ${path}`);
  return parsed.version;
}
