import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';

/** One file the generator writes: a path relative to the project root, and its text. */
export interface GeneratedFile {
  readonly path: string;
  readonly content: string;
}

/** Thrown when generating would overwrite files and `force` was not given; nothing was written. */
export class FileExistsError extends Error {
  /** The files that already exist, relative to the root. */
  readonly paths: readonly string[];

  constructor(paths: readonly string[]) {
    super(`Refusing to overwrite existing files (pass --force to overwrite them):\n${paths.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'FileExistsError';
    this.paths = paths;
  }
}

/** Options of {@link writeFiles}. */
export interface WriteFilesOptions {
  /** Overwrite files that exist. Default false: if any target exists, nothing is written. */
  readonly force?: boolean;
}

/**
 * Writes generated files under `root`, all or nothing: every target is checked before the first is written, so a
 * refused run leaves the project as it was.
 *
 * @throws FileExistsError when a target exists and `force` is not set.
 * @returns the paths written, relative to `root`.
 */
export async function writeFiles(root: string, files: readonly GeneratedFile[], options: WriteFilesOptions = {}): Promise<readonly string[]> {
  const targets = files.map((file) => ({ file, target: resolveInside(root, file.path) }));
  const existing = targets.filter(({ target }) => existsSync(target)).map(({ file }) => file.path);
  if (existing.length > 0 && options.force !== true) throw new FileExistsError(existing);
  for (const { file, target } of targets) {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.content);
  }
  return files.map((file) => file.path);
}

/** `root/path`, refusing a path that would land outside `root` (the templates never make one; this is a guard). */
function resolveInside(root: string, path: string): string {
  const target = resolve(root, path);
  const rel = relative(resolve(root), target);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new Error(`create-onex: generated path '${path}' is outside the project`);
  return target;
}
