// Runs the chaos fixtures, and the packages they use, from TypeScript source in a plain Node 20 child process:
// `node --conditions=@onex/source --import <this file> fixture.ts`. The `@onex/source` condition points every
// @onex/* package at its src/ (as vitest does), a resolve hook maps the `./x.js` specifiers of that source to
// `./x.ts`, and a load hook strips the types with TypeScript's transpileModule (the repo compiles with
// isolatedModules and verbatimModuleSyntax, so a file-by-file transpile is exact). Transpiled files are cached by
// content in the OS temp folder, so the orchestrators the chaos test restarts again and again start in ~0.2 s.
// Plain JS on purpose: it is the one file Node must run before any TypeScript can be loaded.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';

// Bump when the transpile options change: it invalidates the cache.
const LOADER_VERSION = 'onex-chaos-ts-loader/1';

if (isMainThread) register(import.meta.url);

const cacheDir = join(tmpdir(), `onex-chaos-ts-cache-${userInfo().uid}`);
let typescript;

function transpile(path, source) {
  if (typescript === undefined) typescript = createRequire(import.meta.url)('typescript');
  const ts = typescript;
  return ts.transpileModule(source, {
    fileName: path,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      useDefineForClassFields: true,
      inlineSourceMap: true,
      inlineSources: true,
    },
  }).outputText;
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const relative = specifier.startsWith('./') || specifier.startsWith('../');
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !relative || !specifier.endsWith('.js') || context.parentURL?.endsWith('.ts') !== true) throw error;
    return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const source = readFileSync(path, 'utf8');
  const hash = createHash('sha256').update(LOADER_VERSION).update('\0').update(path).update('\0').update(source).digest('hex');
  const cached = join(cacheDir, `${hash}.mjs`);
  let output;
  try {
    output = readFileSync(cached, 'utf8');
  } catch {
    output = transpile(path, source);
    try {
      mkdirSync(cacheDir, { recursive: true });
      // Written aside then renamed: processes starting at once never read a half-written file.
      const aside = `${cached}.${process.pid}.tmp`;
      writeFileSync(aside, output);
      renameSync(aside, cached);
    } catch {
      // A cache that cannot be written only costs time.
    }
  }
  return { format: 'module', source: output, shortCircuit: true };
}
