import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How a run of a compiled example ended. */
export interface RunOutcome {
  readonly ok: boolean;
  /** Why it failed: the exit code or signal, or that it did not finish or did not exit. */
  readonly reason?: string;
  /** What it printed (stdout and stderr interleaved), the last 4 000 characters. */
  readonly output: string;
}

/** Options of {@link runModule} and {@link runModules}. */
export interface RunOptions {
  /** The example must finish its top level within this. */
  readonly timeoutMs: number;
  /** After its top level finished, the process must exit within this (else it left a handle open). */
  readonly exitGraceMs: number;
}

// Imports the example, then reports on the IPC channel (unref'ed: it must not keep the process alive) that its
// top level finished, so a process that then stays up is known to hold a handle open rather than to be slow.
const RUNNER = `process.channel?.unref();
const { pathToFileURL } = await import('node:url');
await import(pathToFileURL(process.argv[1]).href);
process.send?.('finished');`;

// Imports examples one after the other in one process, each in a fresh working directory, and reports each that
// finished without an error and without leaving a new resource behind (a server, a ref'ed timer, a socket) as
// passed. Anything else (an error, a leftover resource, an uncaught error while it or the one after it ran) is
// reported as a suspect, to be run alone for the verdict. Loading zod and the packages once instead of once per
// example is what makes this worth it.
const BATCH_RUNNER = `const { pathToFileURL } = await import('node:url');
const { mkdtempSync } = await import('node:fs');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const files = JSON.parse(process.argv[1]);
let current, previous;
const suspect = (why) => { for (const file of [current, previous]) if (file) process.send({ file, suspect: why }); };
process.on('uncaughtException', (e) => suspect('uncaught ' + String(e)));
process.on('unhandledRejection', (e) => suspect('unhandled rejection ' + String(e)));
for (const file of files) {
  previous = current;
  current = file;
  process.chdir(mkdtempSync(join(tmpdir(), 'onex-example-')));
  const before = process.getActiveResourcesInfo().length;
  try {
    await import(pathToFileURL(file).href);
    await new Promise((resolve) => setImmediate(resolve));
    const after = process.getActiveResourcesInfo().length;
    process.send(after > before ? { file, suspect: 'left a resource open' } : { file, passed: true });
  } catch (error) {
    process.send({ file, suspect: String(error) });
  }
}
process.send({ done: true }, () => process.exit(0));`;

/** The environment of a run: this process's, without what vitest and package managers add. */
function runEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|pnpm_|VITEST|NODE_OPTIONS$|NODE_ENV$|TEST$)/i.test(key)));
}

/**
 * Runs a compiled example alone (`node --enable-source-maps`) in a fresh temporary working directory, so files it
 * writes (`./orders.db`) land there and are removed after. It passes when it exits 0.
 */
export function runModule(file: string, options: RunOptions): Promise<RunOutcome> {
  const cwd = mkdtempSync(join(tmpdir(), 'onex-example-'));
  return new Promise<RunOutcome>((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', RUNNER, file], {
      cwd,
      env: runEnv(),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output = `${output}${chunk.toString()}`.slice(-4_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    let failure: string | undefined;
    const kill = (reason: string): void => {
      failure ??= reason;
      child.kill('SIGKILL');
    };
    let timer = setTimeout(() => kill(`did not finish within ${options.timeoutMs} ms`), options.timeoutMs);
    child.on('message', () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => kill(`finished, but did not exit within ${options.exitGraceMs} ms: it leaves something open (a server, a timer, a connection); close it`),
        options.exitGraceMs,
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      rmSync(cwd, { recursive: true, force: true });
      const reason = failure ?? (code === 0 ? undefined : `exited with ${code === null ? `signal ${String(signal)}` : `code ${code}`}`);
      resolve({ ok: reason === undefined, ...(reason === undefined ? {} : { reason }), output: output.trim() });
    });
  });
}

interface BatchMessage {
  readonly file?: string;
  readonly passed?: boolean;
  readonly suspect?: string;
  readonly done?: boolean;
}

/** Runs examples in one process ({@link BATCH_RUNNER}); resolves with the files that passed there. */
function runBatch(files: readonly string[], options: RunOptions): Promise<ReadonlySet<string>> {
  const home = mkdtempSync(join(tmpdir(), 'onex-examples-'));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', BATCH_RUNNER, JSON.stringify(files)], {
      cwd: home,
      env: { ...runEnv(), TMPDIR: home },
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    const passed = new Set<string>();
    const suspects = new Set<string>();
    // Each example must report within the timeout; one that hangs ends the batch (it and the rest run alone).
    let timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('message', (message: BatchMessage) => {
      clearTimeout(timer);
      timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
      if (message.file === undefined) return;
      if (message.suspect !== undefined) suspects.add(message.file);
      else if (message.passed === true) passed.add(message.file);
    });
    child.on('close', () => {
      clearTimeout(timer);
      rmSync(home, { recursive: true, force: true });
      resolve(new Set([...passed].filter((f) => !suspects.has(f))));
    });
  });
}

/**
 * Runs compiled examples: first `concurrency` batches sharing one process each, then, each alone in its own
 * process ({@link runModule}), every example a batch did not pass — so a failure is always judged, and reported,
 * from a run of its own.
 */
export async function runModules(files: readonly string[], options: RunOptions & { readonly concurrency: number }): Promise<ReadonlyMap<string, RunOutcome>> {
  const groups = Array.from({ length: Math.max(1, Math.min(options.concurrency, files.length)) }, (_, g) => files.filter((_, i) => i % options.concurrency === g));
  const batches = await Promise.all(groups.map((group) => runBatch(group, options)));
  const passed = new Set(batches.flatMap((b) => [...b]));
  const outcomes = new Map<string, RunOutcome>();
  for (const file of passed) outcomes.set(file, { ok: true, output: '' });
  const alone = files.filter((f) => !passed.has(f));
  const results = await mapConcurrently(alone, options.concurrency, (file) => runModule(file, options));
  alone.forEach((file, i) => {
    const outcome = results[i];
    if (outcome !== undefined) outcomes.set(file, outcome);
  });
  return outcomes;
}

/** Runs `task` over `items`, at most `concurrency` at a time, keeping the order of the results. */
export async function mapConcurrently<T, R>(items: readonly T[], concurrency: number, task: (item: T) => Promise<R>): Promise<readonly R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return results;
}
