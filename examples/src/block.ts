/** Where an example block was found: a TSDoc `@example` of an export, or a fenced block of a Markdown file. */
export const BlockOrigin = { TsDoc: 'tsdoc', Markdown: 'markdown' } as const;
/** One of the {@link BlockOrigin} values. */
export type BlockOrigin = (typeof BlockOrigin)[keyof typeof BlockOrigin];

/**
 * What is done with a block, as its source marks it (see the README of this package):
 * - `program`: compiled and run. A TSDoc block runs only when it is self-contained (uses no prelude fixture);
 *   otherwise it is compiled only.
 * - `compile-only`: compiled, not run (`// @example-compile-only` as its first line, optionally followed by why,
 *   or `compile-only` in a Markdown block's info string).
 * - `text`: output or shell, neither compiled nor run (a fence whose language is not `ts`, e.g. ```text).
 * - `guide`: a file of a guide (`file=<path>` in the info string), written and tested by the create-onex consumer
 *   test, not here.
 */
export const BlockMode = { Program: 'program', CompileOnly: 'compile-only', Text: 'text', Guide: 'guide' } as const;
/** One of the {@link BlockMode} values. */
export type BlockMode = (typeof BlockMode)[keyof typeof BlockMode];

/** Where a line of a block's code is in its source file: 1-based line, and the column its code starts at. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/** One example block as found in a source file. */
export interface ExampleBlock {
  /** `<file>:<line>`, unique. */
  readonly id: string;
  /** The source file, relative to the repository root, with `/` separators. */
  readonly file: string;
  /** The line of the block's opening fence, 1-based. */
  readonly line: number;
  readonly origin: BlockOrigin;
  /** The folder name of the package the file belongs to (`core` for `packages/core/...`), if any. */
  readonly pkg: string | undefined;
  /** The fence's language (`ts`, `text`, ``, …), lowercased. */
  readonly lang: string;
  /** The rest of the fence's info string (`continued`, `compile-only`, `file=src/x.ts`). */
  readonly info: string;
  readonly mode: BlockMode;
  /** Markdown only: the block continues the previous `ts` block of the file (`continued` in its info string). */
  readonly continued: boolean;
  /** The code, with the comment's ` * ` prefixes removed for TSDoc blocks. */
  readonly code: string;
  /** Where each line of {@link code} is in the source file. */
  readonly positions: readonly SourcePosition[];
}

/** Whether a fence language is TypeScript, which is compiled. */
export function isTypeScript(lang: string): boolean {
  return lang === 'ts' || lang === 'typescript' || lang === 'mts';
}

/** The first line of a block that asks to be compiled only. */
export const COMPILE_ONLY_MARKER = '// @example-compile-only';

/** The mode a block's fence and first line ask for. */
export function modeOf(lang: string, info: string, code: string): BlockMode {
  if (!isTypeScript(lang)) return BlockMode.Text;
  const words = info.split(/\s+/).filter((w) => w !== '');
  if (words.some((w) => w.startsWith('file='))) return BlockMode.Guide;
  const first = code.split('\n').find((l) => l.trim() !== '');
  if (words.includes('compile-only') || first?.trim().startsWith(COMPILE_ONLY_MARKER) === true) return BlockMode.CompileOnly;
  return BlockMode.Program;
}
