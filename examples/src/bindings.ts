import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { createExamplesProgram, EXAMPLES_DIR, GENERATED_DIR } from './compile.js';

/** Where a name a fragment uses without declaring it comes from. */
export interface Binding {
  readonly name: string;
  /** A module specifier (`@onex/core`), or the absolute path of a prelude file. */
  readonly from: string;
  /** A fixture of a prelude (then the block is compiled only), or an export of a package. */
  readonly fixture: boolean;
  /** A value (imported as such), or a type only (`import type`). */
  readonly value: boolean;
}

/** The names fragments of one package may use, by name. */
export type Bindings = ReadonlyMap<string, Binding>;

/** The prelude of a package folder: `examples/preludes/<pkg>.ts`. */
export function preludePath(pkg: string): string {
  return join(EXAMPLES_DIR, 'preludes', `${pkg}.ts`);
}

/** The module specifiers of a package's entry points (`@onex/effect`, `@onex/effect/sqlite`, …), main entry first. */
export function entrySpecifiers(root: string, pkg: string): readonly string[] {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8')) as { name: string; exports?: Record<string, unknown> };
  const subpaths = Object.keys(manifest.exports ?? { '.': null }).filter((s) => s !== './package.json' && !s.includes('*'));
  return subpaths.sort((a, b) => (a === '.' ? -1 : b === '.' ? 1 : a.localeCompare(b))).map((s) => (s === '.' ? manifest.name : `${manifest.name}/${s.slice(2)}`));
}

/**
 * The built module a source file of a package compiles to (`packages/core/src/x/y.ts` → the absolute path of
 * `packages/core/dist/x/y.js`), when it was built: TSDoc fragments see the exports of the module they document,
 * public or not.
 */
export function builtModuleOf(root: string, file: string): string | undefined {
  const match = /^packages\/([^/]+)\/src\/(.+)\.ts$/.exec(file);
  if (match === null) return undefined;
  const built = join(root, 'packages', match[1] ?? '', 'dist', `${match[2] ?? ''}.js`);
  return existsSync(built.replace(/\.js$/, '.d.ts')) ? built : undefined;
}

/** What the probe learnt: the exports of every entry and prelude, and the program, for reuse. */
export interface Probe {
  readonly program: ts.Program;
  /** Exports by module specifier or prelude path: name → whether it is a value. */
  readonly exports: ReadonlyMap<string, ReadonlyMap<string, boolean>>;
  /** Modules the probe could not resolve (a package not built, not a dependency of `@onex/examples`). */
  readonly unresolved: readonly string[];
}

function exportsOf(checker: ts.TypeChecker, module: ts.Symbol): ReadonlyMap<string, boolean> {
  const names = new Map<string, boolean>();
  for (const symbol of checker.getExportsOfModule(module)) {
    const target = (symbol.flags & ts.SymbolFlags.Alias) !== 0 ? checker.getAliasedSymbol(symbol) : symbol;
    names.set(symbol.name, (target.flags & ts.SymbolFlags.Value) !== 0);
  }
  return names;
}

/**
 * Reads the exports of the given entry points and preludes with the type checker, against the built packages
 * (value or type only: a type is imported with `import type` under `verbatimModuleSyntax`).
 */
export function probeExports(specifiers: readonly string[], preludes: readonly string[], options: ts.CompilerOptions): Probe {
  mkdirSync(GENERATED_DIR, { recursive: true });
  const probe = join(GENERATED_DIR, 'probe.ts');
  const written = (s: string): string => (s.startsWith('/') ? relative(dirname(probe), s) : s);
  writeFileSync(probe, `${specifiers.map((s, i) => `import type * as m${i} from '${written(s)}';`).join('\n')}\nexport {};\n`);
  const existing = preludes.filter((p) => existsSync(p));
  const program = createExamplesProgram([probe, ...existing], options);
  const checker = program.getTypeChecker();
  const exports = new Map<string, ReadonlyMap<string, boolean>>();
  const unresolved: string[] = [];
  const probeFile = program.getSourceFile(probe);
  const statements: readonly ts.Statement[] = probeFile?.statements ?? [];
  const imports = statements.filter((s): s is ts.ImportDeclaration => ts.isImportDeclaration(s));
  imports.forEach((statement, i) => {
    const specifier = specifiers[i] ?? '';
    const module = checker.getSymbolAtLocation(statement.moduleSpecifier);
    if (module === undefined) unresolved.push(specifier);
    else exports.set(specifier, exportsOf(checker, module));
  });
  for (const path of existing) {
    const file = program.getSourceFile(path);
    const module = file === undefined ? undefined : checker.getSymbolAtLocation(file);
    exports.set(path, module === undefined ? new Map() : exportsOf(checker, module));
  }
  return { program, exports, unresolved };
}

/**
 * The names a TSDoc fragment of `pkg` may use without importing them, first match wins: the fixtures of its
 * prelude, then the exports of the module it documents (`ownModule`, built), then those of its package's entry
 * points, then those of `@onex/core` (which every package builds on), then zod's `z`.
 */
export function bindingsFor(root: string, pkg: string, probe: Probe, ownModule?: string): Bindings {
  const bindings = new Map<string, Binding>();
  const add = (from: string, fixture: boolean): void => {
    for (const [name, value] of probe.exports.get(from) ?? []) {
      if (!bindings.has(name)) bindings.set(name, { name, from, fixture, value });
    }
  };
  add(preludePath(pkg), true);
  if (ownModule !== undefined) add(ownModule, false);
  for (const specifier of entrySpecifiers(root, pkg)) add(specifier, false);
  if (pkg !== 'core') for (const specifier of entrySpecifiers(root, 'core')) add(specifier, false);
  if (!bindings.has('z')) bindings.set('z', { name: 'z', from: 'zod', fixture: false, value: true });
  return bindings;
}
