import { BlockOrigin, modeOf, type ExampleBlock, type SourcePosition } from './block.js';

/** A fenced block of a Markdown text: its language, the rest of its info string, its body and their lines. */
export interface Fence {
  readonly lang: string;
  readonly info: string;
  /** Line of the opening fence, 1-based, counted from the first line given. */
  readonly line: number;
  readonly body: readonly string[];
}

const OPEN = /^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/;

/**
 * The fenced code blocks of Markdown lines (CommonMark fences of ``` or ~~~, closed by a fence of the same
 * character at least as long). An unclosed fence runs to the end, as CommonMark has it.
 *
 * @example
 * ```ts
 * readFences(['text', '```ts continued', 'const a = 1;', '```']);
 * // [{ lang: 'ts', info: 'continued', line: 2, body: ['const a = 1;'] }]
 * ```
 */
export function readFences(lines: readonly string[], firstLine = 1): readonly Fence[] {
  const fences: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = OPEN.exec(lines[i] ?? '');
    if (open === null) continue;
    const marker = open[2] ?? '```';
    const indent = open[1]?.length ?? 0;
    const close = new RegExp(`^ {0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}\\s*$`);
    const body: string[] = [];
    let end = i + 1;
    for (; end < lines.length && !close.test(lines[end] ?? ''); end++) {
      const text = lines[end] ?? '';
      body.push(text.slice(Math.min(indent, text.length - text.trimStart().length)));
    }
    fences.push({ lang: (open[3] ?? '').toLowerCase(), info: (open[4] ?? '').trim(), line: firstLine + i, body });
    i = end;
  }
  return fences;
}

/** The example blocks of a Markdown file (`file` is relative to the repository root). */
export function markdownBlocks(file: string, text: string, pkg: string | undefined): readonly ExampleBlock[] {
  return readFences(text.split(/\r?\n/)).map((fence) => {
    const code = fence.body.join('\n');
    const positions: SourcePosition[] = fence.body.map((_, k) => ({ line: fence.line + 1 + k, column: 0 }));
    const words = fence.info.split(/\s+/);
    return {
      id: `${file}:${fence.line}`,
      file,
      line: fence.line,
      origin: BlockOrigin.Markdown,
      pkg,
      lang: fence.lang,
      info: fence.info,
      mode: modeOf(fence.lang, fence.info, code),
      continued: words.includes('continued'),
      code,
      positions,
    };
  });
}

const INSTALL = /\b(?:npm\s+(?:i|install|add)|pnpm\s+(?:add|i|install)|yarn\s+add)\s+([^#&|;\n]*)/g;

/**
 * The packages a Markdown text tells its reader to install: every name on an `npm i|install`, `pnpm add` or `yarn
 * add` command line of its fenced blocks, versions (`@12`) dropped.
 *
 * @example
 * ```ts
 * installedPackages('```sh\nnpm install better-sqlite3@12 @types/better-sqlite3\n```\n'); // Set { 'better-sqlite3', '@types/better-sqlite3' }
 * ```
 */
export function installedPackages(text: string): ReadonlySet<string> {
  const names = new Set<string>();
  for (const fence of readFences(text.split(/\r?\n/))) {
    for (const line of fence.body) {
      for (const match of line.matchAll(INSTALL)) {
        for (const word of (match[1] ?? '').split(/\s+/)) {
          if (word === '' || word.startsWith('-')) continue;
          names.add(word.replace(/^(@?[^@]+)@.*$/, '$1'));
        }
      }
    }
  }
  return names;
}
