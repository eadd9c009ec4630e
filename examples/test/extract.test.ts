// The pieces of the examples check that need no build: finding blocks, their names, their marks, and matching
// known-broken entries.
import { describe, expect, it } from 'vitest';
import { BlockMode, type ExampleBlock } from '../src/block.js';
import { blockNames } from '../src/free-names.js';
import { fingerprint, matchKnownBroken } from '../src/known-broken.js';
import { installedPackages, markdownBlocks, readFences } from '../src/markdown-blocks.js';
import { tsdocBlocks } from '../src/tsdoc-blocks.js';

const FENCE = '```';
const comment = (...lines: string[]): string => ['/**', ...lines.map((l) => ` * ${l}`.trimEnd()), ' */'].join('\n');

describe('tsdocBlocks', () => {
  it('finds each fence of each @example of an export and of its members, at its line and column', () => {
    const source = [
      comment('Adds.', '', '@example', `${FENCE}ts`, 'add(1, 2); // 3', FENCE, '@example Second', `${FENCE}text`, '3', FENCE),
      'export function add(a: number, b: number): number { return a + b; }',
      comment('@example', `${FENCE}ts`, 'new Box().open();', FENCE),
      'export class Box {',
      `  ${comment('@example', `${FENCE}ts`, 'box.open();', FENCE).replace(/\n/g, '\n  ')}`,
      '  open(): void {}',
      '}',
      comment('@example', `${FENCE}ts`, 'hidden();', FENCE),
      'function hidden(): void {}',
    ].join('\n');
    const { blocks, unfenced } = tsdocBlocks('packages/x/src/add.ts', source, 'x');
    expect(unfenced).toEqual([]);
    expect(blocks.map((b) => [b.id, b.lang, b.mode, b.code])).toEqual([
      ['packages/x/src/add.ts:5', 'ts', BlockMode.Program, 'add(1, 2); // 3'],
      ['packages/x/src/add.ts:9', 'text', BlockMode.Text, '3'],
      ['packages/x/src/add.ts:16', 'ts', BlockMode.Program, 'new Box().open();'],
      ['packages/x/src/add.ts:23', 'ts', BlockMode.Program, 'box.open();'],
    ]);
    // `add(1, 2)` is on line 6, after ' * ' (3 columns); the member's after '   * ' (5 columns).
    expect(blocks[0]?.positions).toEqual([{ line: 6, column: 3 }]);
    expect(blocks[3]?.positions).toEqual([{ line: 24, column: 5 }]);
  });

  it('reads an @ inside a fence as code, several tags on one line, and inline code as a one-line block', () => {
    const source = [
      comment('@example', `${FENCE}ts`, '// @example-compile-only: needs a server', '@sealed class X {}', FENCE, '@see other'),
      'export const a = 1;',
      '/** The states, as a union. @example `type S = StateOf<typeof m>;` @see StateOf */',
      'export type S = string;',
      comment('@example this one has no code'),
      'export const b = 2;',
    ].join('\n');
    const { blocks, unfenced } = tsdocBlocks('packages/x/src/a.ts', source, 'x');
    expect(blocks.map((b) => [b.line, b.mode, b.code])).toEqual([
      [3, BlockMode.CompileOnly, '// @example-compile-only: needs a server\n@sealed class X {}'],
      [10, BlockMode.Program, 'type S = StateOf<typeof m>;'],
    ]);
    expect(blocks[1]?.positions).toEqual([{ line: 10, column: '/** The states, as a union. @example `'.length }]);
    expect(unfenced).toEqual(['packages/x/src/a.ts:13']);
  });
});

describe('markdown blocks', () => {
  it('reads fences with their info strings; marks guide files, compile-only and continued blocks', () => {
    const text = ['# x', `${FENCE}ts`, 'a();', FENCE, `${FENCE}ts continued`, 'b();', FENCE, `${FENCE}ts compile-only`, 'c();', FENCE, `${FENCE}ts file=src/x.ts`, 'd();', FENCE, `${FENCE}sh`, 'npm i x', FENCE].join('\n');
    const blocks = markdownBlocks('packages/x/README.md', text, 'x');
    expect(blocks.map((b) => [b.line, b.mode, b.continued, b.positions[0]?.line])).toEqual([
      [2, BlockMode.Program, false, 3],
      [5, BlockMode.Program, true, 6],
      [8, BlockMode.CompileOnly, false, 9],
      [11, BlockMode.Guide, false, 12],
      [14, BlockMode.Text, false, 15],
    ]);
    expect(readFences(['````md', '```ts', 'inner', '```', '````'])).toEqual([{ lang: 'md', info: '', line: 1, body: ['```ts', 'inner', '```'] }]);
  });

  it('finds the packages a README says to install, versions dropped', () => {
    const text = ['```bash', 'npm install @onex/effect zod', 'npm i better-sqlite3@12 @types/better-sqlite3   # for sqlite', 'pnpm add -D @types/pg@8', '```'].join('\n');
    expect([...installedPackages(text)].sort()).toEqual(['@onex/effect', '@types/better-sqlite3', '@types/pg', 'better-sqlite3', 'zod']);
  });
});

describe('blockNames', () => {
  it('tells the names a block uses from those it declares, anywhere in it', () => {
    const names = blockNames('import { a } from "x"; const b = a(node, { key: 1, ctx }); function f(node: T) { return node.x; } b.c;');
    expect([...names.referenced].sort()).toEqual(['T', 'a', 'b', 'ctx', 'node']);
    expect([...names.declared].sort()).toEqual(['a', 'b', 'f', 'node']);
    expect(names.ambient).toBe(false);
    expect(blockNames('declare const orchestrator: Orchestrator; orchestrator.stats();').ambient).toBe(true);
  });
});

describe('matchKnownBroken', () => {
  const at = (line: number, code: string): ExampleBlock => ({
    id: `f.ts:${line}`,
    file: 'f.ts',
    line,
    origin: 'tsdoc',
    pkg: 'x',
    lang: 'ts',
    info: '',
    mode: BlockMode.Program,
    continued: false,
    code,
    positions: [],
  });

  it('finds a block that moved by its fingerprint, one edited in place by its line, and reports entries that match neither', () => {
    const blocks = [at(20, 'moved();'), at(30, 'edited();'), at(40, 'other();')];
    const entries = [
      { file: 'f.ts', line: 10, fingerprint: fingerprint('moved();  '), reason: 'r1' },
      { file: 'f.ts', line: 30, fingerprint: fingerprint('before the edit'), reason: 'r2' },
      { file: 'f.ts', line: 50, fingerprint: fingerprint('gone();'), reason: 'r3' },
    ];
    const match = matchKnownBroken(entries, blocks);
    expect([...match.byBlock.entries()].map(([id, e]) => [id, e.reason])).toEqual([
      ['f.ts:20', 'r1'],
      ['f.ts:30', 'r2'],
    ]);
    expect(match.moved).toEqual([{ entry: entries[0], line: 20 }]);
    expect(match.stale).toEqual([entries[2]]);
  });
});
