import ts from 'typescript';
import { BlockOrigin, modeOf, type ExampleBlock, type SourcePosition } from './block.js';
import { readFences } from './markdown-blocks.js';

/** What {@link tsdocBlocks} found in one file. */
export interface TsDocScan {
  readonly blocks: readonly ExampleBlock[];
  /** `@example` tags of exports holding no code at all (`<file>:<line>`): reported, never skipped. */
  readonly unfenced: readonly string[];
}

/** A piece of comment text and where it starts in the file. */
interface CommentText extends SourcePosition {
  readonly text: string;
}

function isExported(node: ts.Node): boolean {
  if (ts.isExportDeclaration(node) || ts.isExportAssignment(node)) return true;
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

/** The declarations whose TSDoc documents the public surface: exported statements and their members. */
function documentedNodes(file: ts.SourceFile): readonly ts.Node[] {
  const nodes: ts.Node[] = [];
  for (const statement of file.statements) {
    if (!isExported(statement)) continue;
    nodes.push(statement);
    if (ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement)) nodes.push(...statement.members);
    if (ts.isModuleDeclaration(statement) && statement.body !== undefined && ts.isModuleBlock(statement.body)) nodes.push(...statement.body.statements);
  }
  return nodes;
}

/** The lines of a `/** … *\/` comment without its decoration (`/**`, leading `*`, `*\/`), with their positions. */
function commentLines(source: ts.SourceFile, doc: ts.JSDoc): readonly CommentText[] {
  const start = source.getLineAndCharacterOfPosition(doc.pos);
  return source.text
    .slice(doc.pos, doc.end)
    .split(/\r?\n/)
    .map((raw, k) => {
      let text = raw;
      let column = k === 0 ? start.character : 0;
      const open = k === 0 ? /^\/\*\*\s?/.exec(text) : /^\s*\*(?!\/) ?/.exec(text);
      if (open !== null) {
        text = text.slice(open[0].length);
        column += open[0].length;
      }
      const close = text.lastIndexOf('*/');
      if (close !== -1 && text.slice(close + 2).trim() === '') text = text.slice(0, close);
      return { text, line: start.line + 1 + k, column };
    });
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const TAG = /(^|\s)@([\w-]+)/g;

/**
 * The `@example` tags of a comment, each as the lines of its text, its first line being the rest of the tag's line.
 * Tags are found outside code fences only (`@` then a name, after whitespace), so an `@` in an example's code (a
 * decorator, `// @example-compile-only`) is code.
 */
function exampleTags(lines: readonly CommentText[]): readonly (readonly CommentText[])[] {
  const tags: { name: string; lines: CommentText[] }[] = [];
  let fence: string | undefined;
  for (const line of lines) {
    const current = tags.at(-1);
    if (fence !== undefined) {
      if (new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).test(line.text)) fence = undefined;
      current?.lines.push(line);
      continue;
    }
    const open = FENCE.exec(line.text);
    if (open !== null) {
      fence = open[1];
      current?.lines.push(line);
      continue;
    }
    const starts = [...line.text.matchAll(TAG)].map((m) => ({ at: m.index + (m[1]?.length ?? 0), name: m[2] ?? '' }));
    const first = starts[0];
    if (first === undefined) {
      current?.lines.push(line);
      continue;
    }
    if (first.at > 0) current?.lines.push({ ...line, text: line.text.slice(0, first.at) });
    starts.forEach(({ at, name }, i) => {
      const from = at + 1 + name.length;
      const to = starts[i + 1]?.at ?? line.text.length;
      tags.push({ name, lines: [{ ...line, text: line.text.slice(from, to), column: line.column + from }] });
    });
  }
  return tags.filter((t) => t.name === 'example').map((t) => t.lines);
}

function block(file: string, pkg: string | undefined, at: SourcePosition, lang: string, info: string, lines: readonly CommentText[]): ExampleBlock {
  const code = lines.map((l) => l.text).join('\n');
  return {
    id: `${file}:${at.line}`,
    file,
    line: at.line,
    origin: BlockOrigin.TsDoc,
    pkg,
    lang,
    info,
    mode: modeOf(lang, info, code),
    continued: false,
    code,
    positions: lines.map((l) => ({ line: l.line, column: l.column })),
  };
}

/**
 * A fence-less `@example` whose code is one inline code span (`` @example `type S = StateOf<typeof m>;` ``): one line
 * of TypeScript, compiled like a fenced block.
 */
function inlineBlock(file: string, pkg: string | undefined, tag: readonly CommentText[]): ExampleBlock | undefined {
  for (const line of tag) {
    const span = /`([^`]+)`/.exec(line.text);
    if (span?.[1] === undefined) continue;
    const at = { line: line.line, column: line.column + span.index + 1 };
    return block(file, pkg, at, 'ts', 'inline', [{ ...at, text: span[1] }]);
  }
  return undefined;
}

/**
 * The `@example` blocks of the TSDoc of a TypeScript file's exports (and of their members): one block per fence, in
 * source order, with the line and column of every code line in the file.
 *
 * @example
 * ```ts
 * const source = ['/**', ' * @example', ' * ```ts', ' * f();', ' * ```', ' *' + '/', 'export const f = () => 1;'].join('\n');
 * tsdocBlocks('packages/core/src/f.ts', source, 'core').blocks[0]?.code; // 'f();'
 * ```
 */
export function tsdocBlocks(file: string, text: string, pkg: string | undefined): TsDocScan {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const blocks: ExampleBlock[] = [];
  const unfenced: string[] = [];
  const seen = new Set<number>();
  for (const node of documentedNodes(source)) {
    for (const doc of ts.getJSDocCommentsAndTags(node)) {
      if (!ts.isJSDoc(doc) || seen.has(doc.pos)) continue;
      seen.add(doc.pos);
      for (const tag of exampleTags(commentLines(source, doc))) {
        // The first line is the rest of the `@example` line (a title); fences start on the lines below.
        const fences = readFences(tag.slice(1).map((l) => l.text));
        if (fences.length === 0) {
          const inline = inlineBlock(file, pkg, tag);
          if (inline === undefined) unfenced.push(`${file}:${tag[0]?.line ?? 0}`);
          else blocks.push(inline);
        }
        for (const fence of fences) {
          // fence.line counts from 1 at tag[1].
          const at = tag[fence.line] ?? tag[0];
          if (at === undefined) continue;
          const body = fence.body.map((text, k) => {
            const l = tag[fence.line + 1 + k];
            return { text, line: l?.line ?? at.line, column: l?.column ?? 0 };
          });
          blocks.push(block(file, pkg, at, fence.lang, fence.info, body));
        }
      }
    }
  }
  blocks.sort((a, b) => a.line - b.line);
  return { blocks, unfenced };
}
