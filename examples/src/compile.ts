import { join } from 'node:path';
import ts from 'typescript';
import type { SourcePosition } from './block.js';

/** The folder of this package (`examples/`). */
export const EXAMPLES_DIR = join(import.meta.dirname, '..');

/** Where generated modules are written, and (under `.out/`) compiled to. */
export const GENERATED_DIR = join(EXAMPLES_DIR, 'generated');

/** The compiler options examples are compiled with: `tsconfig.examples.json`, the repo's strict base. */
export function examplesCompilerOptions(): ts.CompilerOptions {
  const path = join(EXAMPLES_DIR, 'tsconfig.examples.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(path, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(`${path}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`);
    },
  });
  if (parsed === undefined) throw new Error(`${path} could not be read`);
  const errors = parsed.errors.filter((e) => e.code !== 18002); // "files list is empty": the files are given here
  if (errors.length > 0) throw new Error(`${path}: ${errors.map((e) => ts.flattenDiagnosticMessageText(e.messageText, '\n')).join('\n')}`);
  return parsed.options;
}

/** A TypeScript program over the given files with {@link examplesCompilerOptions}. */
export function createExamplesProgram(rootNames: readonly string[], options: ts.CompilerOptions, oldProgram?: ts.Program): ts.Program {
  return ts.createProgram({ rootNames, options, ...(oldProgram === undefined ? {} : { oldProgram }) });
}

/** A compiler message of a file, placed where it belongs in the example's source. */
export interface PlacedDiagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly code: number;
  readonly message: string;
}

/** `file:line:column TS1234 message`. */
export function formatDiagnostic(d: PlacedDiagnostic): string {
  return `${d.file}:${d.line}:${d.column} TS${d.code} ${d.message}`;
}

/**
 * The syntactic and semantic errors of one file of a program, each placed in the source it was generated from by
 * `place` (generated line, 0-based → source position), or in the file itself.
 */
export function fileDiagnostics(
  program: ts.Program,
  fileName: string,
  place: (line: number) => (SourcePosition & { readonly file: string }) | undefined,
): readonly PlacedDiagnostic[] {
  const source = program.getSourceFile(fileName);
  if (source === undefined) return [{ file: fileName, line: 1, column: 1, code: 0, message: 'not part of the program' }];
  const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  return diagnostics.map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
    const at = d.start === undefined ? { line: 0, character: 0 } : source.getLineAndCharacterOfPosition(d.start);
    const placed = place(at.line);
    if (placed === undefined) return { file: fileName, line: at.line + 1, column: at.character + 1, code: d.code, message };
    return { file: placed.file, line: placed.line, column: placed.column + at.character + 1, code: d.code, message };
  });
}

/** The options-level errors of a program (a bad tsconfig, a missing `types` package): they fail every block. */
export function globalDiagnostics(program: ts.Program): readonly string[] {
  return [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n  '));
}
