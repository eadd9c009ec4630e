import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { BlockMode, type ExampleBlock } from './block.js';
import { markdownBlocks } from './markdown-blocks.js';
import { tsdocBlocks } from './tsdoc-blocks.js';

/** Every example block of the repository, and the `@example` tags that hold no fenced block. */
export interface Discovery {
  readonly blocks: readonly ExampleBlock[];
  readonly unfenced: readonly string[];
  /** Markdown blocks in other languages than TypeScript (shell, JSON, …): prose, counted, not compiled. */
  readonly markdownOther: number;
}

const toPosix = (path: string): string => path.split(sep).join('/');

function filesUnder(dir: string, accept: (path: string) => boolean): readonly string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map(toPosix)
    .filter((path) => !path.split('/').includes('node_modules') && accept(path))
    .sort()
    .map((path) => join(dir, path));
}

/** The folder names of `packages/*` (each a package). */
export function packageFolders(root: string): readonly string[] {
  const dir = join(root, 'packages');
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'package.json')))
    .map((entry) => entry.name)
    .sort();
}

const isSource = (path: string): boolean => path.endsWith('.ts') && !/\.(test|test-d|d)\.ts$/.test(path);

/**
 * Finds the example blocks: TSDoc `@example`s of exports in `packages/*\/src/**\/*.ts` (tests excluded), and fenced
 * blocks of `README.md`, `packages/*\/README.md` and `docs/**\/*.md`.
 *
 * @example
 * ```ts
 * const { blocks } = discoverBlocks('/work/main');
 * ```
 */
export function discoverBlocks(root: string): Discovery {
  const blocks: ExampleBlock[] = [];
  const unfenced: string[] = [];
  let markdownOther = 0;
  const addMarkdown = (path: string, pkg: string | undefined): void => {
    if (!existsSync(path)) return;
    for (const block of markdownBlocks(toPosix(relative(root, path)), readFileSync(path, 'utf8'), pkg)) {
      if (block.mode === BlockMode.Text) markdownOther++;
      else blocks.push(block);
    }
  };
  addMarkdown(join(root, 'README.md'), undefined);
  for (const path of filesUnder(join(root, 'docs'), (p) => p.endsWith('.md'))) addMarkdown(path, undefined);
  for (const pkg of packageFolders(root)) {
    addMarkdown(join(root, 'packages', pkg, 'README.md'), pkg);
    for (const path of filesUnder(join(root, 'packages', pkg, 'src'), isSource)) {
      const scan = tsdocBlocks(toPosix(relative(root, path)), readFileSync(path, 'utf8'), pkg);
      blocks.push(...scan.blocks);
      unfenced.push(...scan.unfenced);
    }
  }
  return { blocks, unfenced, markdownOther };
}
