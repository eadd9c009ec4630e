import { dirname, join, relative } from 'node:path';
import { BlockMode, BlockOrigin, type ExampleBlock, type SourcePosition } from './block.js';
import type { Bindings } from './bindings.js';
import { GENERATED_DIR } from './compile.js';
import { blockNames, type BlockNames } from './free-names.js';

/** A source position with its file: where a generated line came from. */
export interface Origin extends SourcePosition {
  readonly file: string;
}

/** The module generated for one block. */
export interface ExampleModule {
  readonly block: ExampleBlock;
  /** Absolute path of the generated `.ts` file. */
  readonly path: string;
  readonly text: string;
  /** For each line of {@link text}, where it came from (header lines: the block's fence). */
  readonly origins: readonly Origin[];
  /** The prelude fixtures the block uses (a TSDoc fragment that uses any is compiled only). */
  readonly fixtures: readonly string[];
  /** Whether the block `declare`s names of its own (`declare const orchestrator: Orchestrator;`): compiled only. */
  readonly ambient: boolean;
  /** Whether the block is run once it compiles. */
  readonly runs: boolean;
}

/** `packages/core/src/x.ts` line 12 → `generated/packages/core/src/x.L12.ts`. */
export function modulePath(block: ExampleBlock): string {
  return join(GENERATED_DIR, `${block.file.replace(/\.(ts|md)$/, '')}.L${block.line}.ts`);
}

/**
 * How a generated module imports a binding's module: a package by name; a prelude by a relative path (it is
 * compiled next to the generated modules, so the path holds in the output too); a built module of a package by
 * its absolute path (it is outside the compiled tree).
 */
function specifierFrom(path: string, from: string): string {
  if (!from.startsWith('/')) return from;
  if (!from.endsWith('.ts')) return from;
  const rel = relative(dirname(path), from).replace(/\.ts$/, '.js');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/** The imports of the names a TSDoc fragment uses without declaring, one line per module. */
function injectedImports(path: string, block: ExampleBlock, names: BlockNames, bindings: Bindings): { readonly lines: readonly string[]; readonly fixtures: readonly string[] } {
  const byModule = new Map<string, string[]>();
  const fixtures: string[] = [];
  for (const name of [...names.referenced].sort()) {
    const binding = bindings.get(name);
    if (binding === undefined || names.declared.has(name)) continue;
    if (binding.fixture) fixtures.push(name);
    const list = byModule.get(binding.from) ?? [];
    list.push(binding.value ? name : `type ${name}`);
    byModule.set(binding.from, list);
  }
  const lines = [...byModule.entries()].map(([from, list]) => `import { ${list.join(', ')} } from '${specifierFrom(path, from)}';`);
  return { lines, fixtures };
}

/**
 * The module of a block. A TSDoc block gets imports for the names it uses from `bindings` (its package's prelude
 * fixtures and exports); a Markdown block is a program as written, after the blocks it continues (`chain`).
 */
export function generateModule(block: ExampleBlock, chain: readonly ExampleBlock[], bindings: Bindings | undefined): ExampleModule {
  const path = modulePath(block);
  const fence: Origin = { file: block.file, line: block.line, column: 0 };
  const lines: string[] = [`// Generated from ${block.id} by @onex/examples: edit the source, not this file.`];
  const origins: Origin[] = [fence];
  let fixtures: readonly string[] = [];
  const names = blockNames(block.code);
  if (block.origin === BlockOrigin.TsDoc && bindings !== undefined) {
    const injected = injectedImports(path, block, names, bindings);
    fixtures = injected.fixtures;
    for (const line of injected.lines) {
      lines.push(line);
      origins.push(fence);
    }
  }
  for (const part of [...chain, block]) {
    part.code.split('\n').forEach((line, k) => {
      lines.push(line);
      origins.push({ file: part.file, ...(part.positions[k] ?? { line: part.line, column: 0 }) });
    });
  }
  lines.push('export {};', '');
  origins.push(fence, fence);
  const ambient = [...chain, block].some((part) => (part === block ? names : blockNames(part.code)).ambient);
  const runs = block.mode === BlockMode.Program && fixtures.length === 0 && !ambient;
  return { block, path, text: lines.join('\n'), origins, fixtures, ambient, runs };
}
