import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { BlockMode, BlockOrigin, type ExampleBlock } from './block.js';
import { bindingsFor, builtModuleOf, entrySpecifiers, preludePath, probeExports } from './bindings.js';
import { createExamplesProgram, EXAMPLES_DIR, examplesCompilerOptions, fileDiagnostics, formatDiagnostic, GENERATED_DIR, globalDiagnostics } from './compile.js';
import { discoverBlocks, packageFolders } from './discover.js';
import { runModules, type RunOptions } from './execute.js';
import { generateModule, type ExampleModule } from './generate.js';
import { installedPackages } from './markdown-blocks.js';

/** What happened to one block. */
export interface BlockResult {
  readonly block: ExampleBlock;
  /** The generated module, for TypeScript blocks checked here (not `text` or `guide` ones). */
  readonly module: ExampleModule | undefined;
  /** Whether it was run (a program that compiled). */
  readonly ran: boolean;
  /** What is wrong with it, each message starting at its place in the source; empty when it passed. */
  readonly problems: readonly string[];
}

/** What happened to a prelude: it must compile and run. */
export interface PreludeResult {
  readonly pkg: string;
  readonly path: string;
  readonly problems: readonly string[];
}

/** The numbers of a check. */
export interface ExampleCounts {
  /** Every `@example` block and TypeScript Markdown block found. */
  readonly found: number;
  readonly compiled: number;
  readonly executed: number;
  /** Compiled but not run: marked so, or a TSDoc fragment using prelude fixtures. */
  readonly compileOnly: number;
  readonly compileOnlyMarked: number;
  readonly fragments: number;
  /** `@example` blocks in another language (```text): output, not compiled. */
  readonly text: number;
  /** Guide files (`file=`), tested by the create-onex consumer test. */
  readonly guide: number;
  /** Markdown blocks of shell, JSON, …: prose. */
  readonly markdownOther: number;
  readonly failed: number;
}

/** The result of {@link checkExamples}. */
export interface CheckReport {
  readonly blocks: readonly BlockResult[];
  readonly preludes: readonly PreludeResult[];
  /** Problems of the setup, not of one block (a package not a dependency of this one, a bad tsconfig). */
  readonly problems: readonly string[];
  readonly counts: ExampleCounts;
  /** Where the time went, in ms. */
  readonly durations: { readonly probeMs: number; readonly compileMs: number; readonly runMs: number };
}

/** Options of {@link checkExamples}. */
export interface CheckOptions extends RunOptions {
  /** The repository root. */
  readonly root: string;
  /** How many examples run at once. */
  readonly concurrency: number;
}

const describeBlock = (block: ExampleBlock): string => `${block.id} (${block.origin === BlockOrigin.TsDoc ? 'TSDoc @example' : 'Markdown block'})`;
const indent = (text: string): string => text.replace(/^/gm, '    ');

/** The blocks a `continued` Markdown block follows, oldest first. */
function chainOf(block: ExampleBlock, previous: readonly ExampleBlock[]): readonly ExampleBlock[] {
  if (!block.continued) return [];
  const before = previous.filter((b) => b.file === block.file && b.line < block.line && (b.mode === BlockMode.Program || b.mode === BlockMode.CompileOnly));
  const chain: ExampleBlock[] = [];
  for (let i = before.length - 1; i >= 0; i--) {
    const b = before[i];
    if (b === undefined) break;
    chain.unshift(b);
    if (!b.continued) break;
  }
  return chain;
}

/** Packages a block imports (bare specifiers, Node built-ins aside). */
function importedPackages(code: string): readonly string[] {
  return ts
    .preProcessFile(code, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !s.startsWith('/'))
    .map((s) => s.split('/').slice(0, s.startsWith('@') ? 2 : 1).join('/'));
}

/** Public packages of the workspace that `@onex/examples` does not depend on (their examples could not resolve). */
function missingDependencies(root: string): readonly string[] {
  const own = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return packageFolders(root)
    .map((pkg) => JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8')) as { name: string; private?: boolean })
    .filter((m) => m.private !== true && own.dependencies?.[m.name] === undefined)
    .map((m) => m.name);
}

/**
 * Finds every example, writes each as a module under `examples/generated/`, compiles them all in one program under
 * the repo's strict settings against the built packages, runs the programs among them, and says what is wrong with
 * each, at its source line. Needs the packages built (`pnpm build`).
 */
export async function checkExamples(options: CheckOptions): Promise<CheckReport> {
  const { root } = options;
  const problems: string[] = [];
  for (const name of missingDependencies(root)) problems.push(`${name} is not a dependency of @onex/examples: add "${name}": "workspace:*" to examples/package.json`);
  const discovery = discoverBlocks(root);
  for (const at of discovery.unfenced) problems.push(`${at}: an @example with no code: put it in a \`\`\`ts fence (or \`\`\`text for output)`);

  rmSync(GENERATED_DIR, { recursive: true, force: true });
  const started = Date.now();
  const compilerOptions = examplesCompilerOptions();
  const pkgs = packageFolders(root);
  const preludes = pkgs.map((pkg) => ({ pkg, path: preludePath(pkg) })).filter((p) => existsSync(p.path));
  const checked = discovery.blocks.filter((b) => b.mode === BlockMode.Program || b.mode === BlockMode.CompileOnly);
  const ownModules = [...new Set(checked.filter((b) => b.origin === BlockOrigin.TsDoc).map((b) => builtModuleOf(root, b.file)))].filter((m) => m !== undefined);
  const entries = pkgs.flatMap((pkg) => entrySpecifiers(root, pkg));
  const probe = probeExports([...entries, ...ownModules], preludes.map((p) => p.path), compilerOptions);
  for (const specifier of probe.unresolved.filter((s) => entries.includes(s))) {
    problems.push(`${specifier} does not resolve from examples/: is it built (pnpm build) and a dependency of @onex/examples?`);
  }

  const probed = Date.now();
  const modules = checked.map((block) => {
    const bindings = block.pkg === undefined || block.origin !== BlockOrigin.TsDoc ? undefined : bindingsFor(root, block.pkg, probe, builtModuleOf(root, block.file));
    return generateModule(block, chainOf(block, checked), bindings);
  });
  for (const module of modules) {
    mkdirSync(dirname(module.path), { recursive: true });
    writeFileSync(module.path, module.text);
  }

  const program = createExamplesProgram([...modules.map((m) => m.path), ...preludes.map((p) => p.path)], compilerOptions, probe.program);
  problems.push(...globalDiagnostics(program).map((d) => `tsconfig.examples.json: ${d}`));
  const emitted = program.emit();
  problems.push(...emitted.diagnostics.filter((d) => d.file === undefined).map((d) => `emit: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`));
  const outDir = compilerOptions.outDir ?? GENERATED_DIR;
  const rootDir = compilerOptions.rootDir ?? EXAMPLES_DIR;
  const jsOf = (path: string): string => join(outDir, relative(rootDir, path)).replace(/\.ts$/, '.js');

  const readmeInstalls = new Map<string, ReadonlySet<string>>();
  const installsOf = (file: string): ReadonlySet<string> => {
    let names = readmeInstalls.get(file);
    if (names === undefined) {
      names = installedPackages(readFileSync(join(root, file), 'utf8'));
      readmeInstalls.set(file, names);
    }
    return names;
  };

  const compileProblems = modules.map((module) => {
    const list: string[] = [];
    const diagnostics = fileDiagnostics(program, module.path, (line) => module.origins[line]);
    if (diagnostics.length > 0) list.push(`${describeBlock(module.block)} does not compile:\n${indent(diagnostics.map(formatDiagnostic).join('\n'))}`);
    // A published README's reader installs what its examples import: each import is on an install line.
    if (module.block.origin === BlockOrigin.Markdown && /^packages\/[^/]+\/README\.md$/.test(module.block.file)) {
      for (const name of importedPackages(module.block.code)) {
        if (!installsOf(module.block.file).has(name)) list.push(`${describeBlock(module.block)} imports ${name}, which ${module.block.file} never says to install (add it to an \`npm install\` line)`);
      }
    }
    return list;
  });

  const compiled = Date.now();
  const toRun = modules.map((m, i) => ({ m, i })).filter(({ m, i }) => m.runs && compileProblems[i]?.length === 0);
  const preludeProblems = preludes.map((p) => fileDiagnostics(program, p.path, () => undefined).map(formatDiagnostic));
  const preludesToRun = preludes.filter((_, i) => preludeProblems[i]?.length === 0);
  const outcomes = await runModules([...toRun.map(({ m }) => jsOf(m.path)), ...preludesToRun.map((p) => jsOf(p.path))], options);
  const runProblems = new Map<number, string>();
  toRun.forEach(({ m, i }) => {
    const outcome = outcomes.get(jsOf(m.path));
    if (outcome !== undefined && !outcome.ok) {
      const generated = relative(root, m.path);
      runProblems.set(i, `${describeBlock(m.block)} fails when run: ${outcome.reason ?? ''} (${generated})${outcome.output === '' ? '' : `\n${indent(outcome.output)}`}`);
    }
  });

  const byBlock = new Map(modules.map((m, i) => [m.block.id, { m, i }]));
  const ran = new Set(toRun.map(({ i }) => i));
  const blocks: BlockResult[] = discovery.blocks.map((block) => {
    const entry = byBlock.get(block.id);
    if (entry === undefined) return { block, module: undefined, ran: false, problems: [] };
    const list = [...(compileProblems[entry.i] ?? [])];
    const run = runProblems.get(entry.i);
    if (run !== undefined) list.push(run);
    return { block, module: entry.m, ran: ran.has(entry.i), problems: list };
  });
  const preludeResults: PreludeResult[] = preludes.map((p, i) => {
    const list = [...(preludeProblems[i] ?? [])];
    const outcome = outcomes.get(jsOf(p.path));
    if (outcome !== undefined && !outcome.ok) list.push(`${relative(root, p.path)} fails when run: ${outcome.reason ?? ''}\n${indent(outcome.output)}`);
    return { ...p, problems: list };
  });
  const durations = { probeMs: probed - started, compileMs: compiled - probed, runMs: Date.now() - compiled };
  return { blocks, preludes: preludeResults, problems, counts: countsOf(blocks, discovery.markdownOther), durations };
}

function countsOf(blocks: readonly BlockResult[], markdownOther: number): ExampleCounts {
  const compiled = blocks.filter((r) => r.module !== undefined);
  const notRun = compiled.filter((r) => !r.module?.runs);
  const marked = notRun.filter((r) => r.block.mode === BlockMode.CompileOnly).length;
  return {
    found: blocks.length,
    compiled: compiled.length,
    executed: blocks.filter((r) => r.ran).length,
    compileOnly: notRun.length,
    compileOnlyMarked: marked,
    fragments: notRun.length - marked,
    text: blocks.filter((r) => r.block.mode === BlockMode.Text).length,
    guide: blocks.filter((r) => r.block.mode === BlockMode.Guide).length,
    markdownOther,
    failed: blocks.filter((r) => r.problems.length > 0).length,
  };
}

/** One line of counts, for the test's output. */
export function formatCounts(c: ExampleCounts): string {
  return (
    `examples: ${c.found} found, ${c.compiled} compiled, ${c.executed} executed, ${c.compileOnly} compile-only ` +
    `(${c.compileOnlyMarked} marked, ${c.fragments} fragments: prelude fixtures or declare), ${c.text} text, ` +
    `${c.guide} guide files (consumer test); ${c.failed} failing; ${c.markdownOther} shell/other Markdown blocks not counted`
  );
}
