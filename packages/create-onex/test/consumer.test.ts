// The consumer test: what a downstream repository gets from the published packages. It packs every public
// package of the workspace (`pnpm pack`, as `pnpm release` publishes them), creates a project outside the
// workspace with the built generator, installs the tarballs with plain npm, scaffolds one node of each kind, follows
// the guide docs/guides/write-your-own-node.md (its commands and files, verbatim), compiles with declarations and
// against the published types, runs every generated test, and runs workflows across the nodes, each node in a
// process of its own. Anything a downstream repo needs that is missing from the published files or types fails it.
//
// The project pins zod to the lowest version the packages' peer range admits — not the workspace's — and must end
// up with one copy of it (issue #7: a second zod under @onex/* broke the guide's types). It installs no native
// module until the guide asks for the SQLite driver (`npm i better-sqlite3@12`): that install is the registry's
// package and its own install script, whose prebuild-install finds the binary of the workspace's build of the same
// version in a local prebuilds folder (`npm_config_better_sqlite3_local_prebuilds`, prebuild-install's offline
// mirror) instead of GitHub, which CI cannot reach — seconds instead of a ~2 minute compile. Should the versions
// ever differ, prebuild-install finds no file and compiles from source: slower, still right.
//
// About a minute. ONEX_SKIP_CONSUMER_TEST=1 skips it. Needs `pnpm build` first (the root `pnpm test` builds).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { readGuideSteps } from './guide-steps.js';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const CLI = join(REPO, 'packages', 'create-onex', 'dist', 'cli.js');
const GUIDE = join(REPO, 'docs', 'guides', 'write-your-own-node.md');
const MINUTE = 60_000;

const skip = process.env['ONEX_SKIP_CONSUMER_TEST'] === '1';
const work = skip ? '' : mkdtempSync(join(tmpdir(), 'onex-consumer-'));
const packs = join(work, 'packs');
const prebuilds = join(work, 'prebuilds');
const project = join(work, 'shop');

/**
 * The environment of the commands: this process's, without what pnpm and vitest add (npm must not see them), and
 * with prebuild-install's local mirror for better-sqlite3 (see the top of the file).
 */
const ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|pnpm_|PNPM_|VITEST|NODE_OPTIONS$|NODE_ENV$|INIT_CWD$|TEST$)/i.test(key))),
  npm_config_better_sqlite3_local_prebuilds: prebuilds,
};

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
interface Manifest {
  readonly version: string;
  readonly description?: string;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
}

/** The lowest zod the packages' peer range admits (`^4.0.16` → `4.0.16`), and the version the workspace resolved. */
const coreManifest = readJson<Manifest>(join(REPO, 'packages', 'core', 'package.json'));
const ZOD_FLOOR = /^\^(\d+\.\d+\.\d+)$/.exec(coreManifest.peerDependencies?.['zod'] ?? '')?.[1];
const WORKSPACE_ZOD = readJson<Manifest>(createRequire(join(REPO, 'packages', 'core', 'package.json')).resolve('zod/package.json')).version;

/**
 * Writes prebuild-install's file for the workspace's better-sqlite3 (`better-sqlite3-v<version>-node-v<abi>-<platform>-
 * <arch>.tar.gz`, holding `build/Release/better_sqlite3.node`) into `dir`; returns the version.
 */
function writeSqlitePrebuild(dir: string): string {
  const manifest = createRequire(join(REPO, 'packages', 'reducer', 'package.json')).resolve('better-sqlite3/package.json');
  const { version } = readJson<Manifest>(manifest);
  const file = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-czf', join(dir, file), '-C', dirname(manifest), join('build', 'Release', 'better_sqlite3.node')]);
  return version;
}

/** Every installed copy of a package in a project (`node_modules/**\/<name>/package.json`), by version. */
function installedCopies(root: string, name: string): readonly string[] {
  const copies: string[] = [];
  const visit = (modules: string): void => {
    if (!existsSync(modules)) return;
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const dirs = entry.name.startsWith('@') ? readdirSync(join(modules, entry.name)).map((d) => join(entry.name, d)) : [entry.name];
      for (const dir of dirs) {
        const manifest = join(modules, dir, 'package.json');
        if (dir === name && existsSync(manifest)) copies.push(readJson<Manifest>(manifest).version);
        visit(join(modules, dir, 'node_modules'));
      }
    }
  };
  visit(join(root, 'node_modules'));
  return copies.sort();
}

interface RunOptions {
  readonly cwd: string;
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs a command; on failure, throws with the command, its exit and everything it printed. */
function run(command: string, args: readonly string[], options: RunOptions): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: { ...ENV, ...options.env }, timeout: options.timeoutMs, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error === null) {
          resolvePromise(stdout);
          return;
        }
        const how = error.killed ? `killed after ${options.timeoutMs} ms` : `exit ${String(error.code)}`;
        reject(new Error(`\`${[command, ...args].join(' ')}\` in ${options.cwd} failed (${how}):\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
      },
    );
  });
}

/** A node process started from its generated `server.ts`. */
interface NodeProcess {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: () => string;
}

const processes: NodeProcess[] = [];

/** Starts `node dist/src/nodes/<name>/server.js` and waits for the line announcing its URL. */
function startNode(project: string, name: string, env: NodeJS.ProcessEnv): Promise<NodeProcess> {
  const child = spawn(process.execPath, [join('dist', 'src', 'nodes', name, 'server.js')], { cwd: project, env: { ...ENV, ...env }, stdio: 'pipe' });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => fail(new Error('no URL within 15 s')), 15_000);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`node ${name} did not start: ${error.message}\n${output}`));
    };
    child.once('exit', (code) => fail(new Error(`exited with ${String(code)}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      output += `${line}\n`;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        return;
      }
      const url = (parsed as { url?: unknown; node?: unknown }).url;
      if ((parsed as { node?: unknown }).node !== name || typeof url !== 'string') return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const started = { name, url, child, output: () => output };
      processes.push(started);
      resolvePromise(started);
    });
  });
}

/** SIGTERM: each node drains and exits 0 (the generated `server.ts` shutdown path). */
async function stopAll(): Promise<readonly { name: string; code: number | null; output: string }[]> {
  const stopping = processes.splice(0).map(
    (p) =>
      new Promise<{ name: string; code: number | null; output: string }>((resolvePromise) => {
        if (p.child.exitCode !== null) {
          resolvePromise({ name: p.name, code: p.child.exitCode, output: p.output() });
          return;
        }
        const kill = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
        p.child.once('exit', (code) => {
          clearTimeout(kill);
          resolvePromise({ name: p.name, code, output: p.output() });
        });
        p.child.kill('SIGTERM');
      }),
  );
  return Promise.all(stopping);
}

async function postJson(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

let reached = 0;

/** Each phase needs the ones before it; a failed phase fails the rest at once rather than with confusing errors. */
function phase(n: number): void {
  if (reached !== n - 1) throw new Error(`phase ${n - 1} did not complete`);
}

afterAll(async () => {
  await stopAll();
  if (!skip) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skip)('a downstream project on the packed packages', () => {
  it('packs every public package', { timeout: 2 * MINUTE }, async () => {
    const dirs = readdirSync(join(REPO, 'packages'))
      .map((d) => join(REPO, 'packages', d))
      .filter((d) => existsSync(join(d, 'package.json')) && (JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { private?: boolean }).private !== true);
    for (const dir of dirs) {
      if (!existsSync(join(dir, 'dist', 'index.js'))) throw new Error(`${dir} is not built: run \`pnpm build\` first`);
    }
    mkdirSync(packs);
    for (const dir of dirs) await run('pnpm', ['pack', '--pack-destination', packs], { cwd: dir, timeoutMs: MINUTE });
    const tarballs = readdirSync(packs).filter((f) => f.endsWith('.tgz'));
    expect(tarballs.length).toBe(dirs.length);
    expect(tarballs).toContain(tarballs.find((t) => t.startsWith('create-onex-')));
    reached = 1;
  });

  it('creates a project on another zod outside the workspace and installs the tarballs with npm', { timeout: 4 * MINUTE }, async () => {
    phase(2);
    expect(ZOD_FLOOR, 'zod is a peer dependency of @onex/core with a ^x.y.z range').toMatch(/^\d+\.\d+\.\d+$/);
    expect(ZOD_FLOOR).not.toBe(WORKSPACE_ZOD);
    await run(process.execPath, [CLI, project, '--domain', 'acme'], { cwd: work, timeoutMs: MINUTE });
    // A project that already pins its own zod, as the one of issue #7 did (4.6.6 there; the range's floor here).
    await run('npm', ['pkg', 'set', `dependencies.zod=${ZOD_FLOOR ?? ''}`], { cwd: project, timeoutMs: MINUTE });
    const tarballs = readdirSync(packs).map((f) => join(packs, f));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], { cwd: project, timeoutMs: 4 * MINUTE });
    // The @onex/* packages are the tarballs, not anything of the same name on a registry.
    expect(readJson<Manifest>(join(project, 'node_modules', '@onex', 'core', 'package.json')).description).toBe(coreManifest.description);
    // One zod and one hono, the project's: the packages' types and the project's are the same types.
    expect(installedCopies(project, 'zod')).toEqual([ZOD_FLOOR]);
    expect(installedCopies(project, 'hono')).toHaveLength(1);
    // No store driver until the project asks for one, and every main entry loads without them.
    expect(installedCopies(project, 'better-sqlite3')).toEqual([]);
    expect(installedCopies(project, 'pg')).toEqual([]);
    const entries = ['@onex/core', '@onex/compute', '@onex/effect', '@onex/reducer', '@onex/orchestrator'];
    const script = `for (const m of ${JSON.stringify(entries)}) await import(m);`;
    await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project, timeoutMs: MINUTE });
    reached = 2;
  });

  it('scaffolds one node of each kind, then follows the guide', { timeout: 6 * MINUTE }, async () => {
    phase(3);
    const sqliteVersion = writeSqlitePrebuild(prebuilds);
    for (const [kind, name] of [['compute', 'stats'], ['effect', 'notify'], ['reducer', 'tally']] as const) {
      await run('npx', ['create-onex', 'add', kind, name], { cwd: project, timeoutMs: MINUTE });
    }
    await run('npx', ['create-onex', 'add', 'orchestrator', 'pipeline', '--peers', 'stats,notify,tally'], { cwd: project, timeoutMs: MINUTE });
    // A second add of the same node writes nothing and says why.
    await expect(run('npx', ['create-onex', 'add', 'compute', 'stats'], { cwd: project, timeoutMs: MINUTE })).rejects.toThrow(/Refusing to overwrite/);

    const steps = readGuideSteps(readFileSync(GUIDE, 'utf8'));
    expect(steps.filter((s) => s.kind === 'run').length).toBeGreaterThanOrEqual(5);
    for (const step of steps) {
      if (step.kind === 'file') {
        mkdirSync(dirname(join(project, step.path)), { recursive: true });
        writeFileSync(join(project, step.path), step.content);
      } else if (step.command !== 'npm test') {
        // `npm test` is run below, split into its build and test halves. An install may compile (see the top).
        const timeoutMs = /^npm (i|install)\b/.test(step.command) ? 4 * MINUTE : MINUTE;
        await run('sh', ['-c', step.command], { cwd: project, timeoutMs }).catch((error: unknown) => {
          throw new Error(`guide line ${step.line}: ${error instanceof Error ? error.message : String(error)}`);
        });
      }
    }
    // The guide installed the SQLite driver, and left zod alone.
    const sqlite = installedCopies(project, 'better-sqlite3');
    expect(sqlite).toHaveLength(1);
    if (sqlite[0] !== sqliteVersion) console.warn(`better-sqlite3 ${String(sqlite[0])} is not the workspace's ${sqliteVersion}: it was compiled from source`);
    expect(installedCopies(project, 'zod')).toEqual([ZOD_FLOOR]);
    reached = 3;
  });

  it('compiles with declarations, and against the published types with skipLibCheck off', { timeout: 2 * MINUTE }, async () => {
    phase(4);
    const tsconfig = JSON.parse(readFileSync(join(project, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
    expect(tsconfig.compilerOptions).toMatchObject({ declaration: true, strict: true, exactOptionalPropertyTypes: true, module: 'NodeNext' });
    await run('npm', ['run', 'build'], { cwd: project, timeoutMs: 2 * MINUTE });
    expect(existsSync(join(project, 'dist', 'src', 'nodes', 'pipeline', 'pipeline-node.d.ts'))).toBe(true);
    expect(existsSync(join(project, 'dist', 'src', 'nodes', 'checkout', 'manifest.yaml'))).toBe(true);
    // Every .d.ts of every @onex/* package the project reaches resolves what it imports, against the project's zod.
    await run('npx', ['tsc', '-p', '.', '--noEmit', '--skipLibCheck', 'false'], { cwd: project, timeoutMs: 2 * MINUTE });
    reached = 4;
  });

  it('passes the generated tests and the guide’s', { timeout: 2 * MINUTE }, async () => {
    phase(5);
    const tap = await run(process.execPath, ['--test', '--test-reporter=tap', 'dist/test/'], { cwd: project, timeoutMs: 2 * MINUTE });
    const count = (label: string): number => Number(new RegExp(`^# ${label} (\\d+)$`, 'm').exec(tap)?.[1] ?? Number.NaN);
    expect(count('fail')).toBe(0);
    expect(count('pass')).toBe(count('tests'));
    // The manifests' test, 4 for each template node and 3 for each of the guide's.
    expect(count('pass')).toBe(1 + 4 * 4 + 4 * 3);
    reached = 5;
  });

  it('runs a workflow across the generated nodes, each in its own process', { timeout: MINUTE }, async () => {
    phase(6);
    const store = (name: string) => join(work, `${name}.db`);
    const stats = await startNode(project, 'stats', { STATS_PORT: '0' });
    const notify = await startNode(project, 'notify', { NOTIFY_PORT: '0' });
    const tally = await startNode(project, 'tally', { TALLY_PORT: '0', TALLY_STORE: store('tally') });
    const pipeline = await startNode(project, 'pipeline', {
      PIPELINE_STORE: store('pipeline'),
      STATS_URL: stats.url,
      NOTIFY_URL: notify.url,
      TALLY_URL: tally.url,
    });
    const r = await postJson(`${pipeline.url}/v1/process`, { type: 'pipeline', input: { id: 'consumer-1', values: [1, 2, 3, 4] } });
    expect(r).toMatchObject({ status: 200, body: { status: 'completed', output: { id: 'consumer-1', total: 10, completed: ['notify', 'stats', 'tally'] } } });
    const tallied = await postJson(`${tally.url}/v1/process`, { aggregateId: 'consumer-1', event: { id: 'close', type: 'CLOSE', payload: {} } });
    expect(tallied.body).toMatchObject({ state: 'closed', context: { total: 10, entries: 1 } });
    const stopped = await stopAll();
    expect(stopped.map((s) => [s.name, s.code])).toEqual([['stats', 0], ['notify', 0], ['tally', 0], ['pipeline', 0]]);
    reached = 6;
  });

  it('runs the guide’s checkout across its nodes, each in its own process', { timeout: MINUTE }, async () => {
    phase(7);
    const quote = await startNode(project, 'price-quote', { PRICE_QUOTE_PORT: '0' });
    const orders = await startNode(project, 'orders', { ORDERS_PORT: '0', ORDERS_STORE: join(work, 'orders.db') });
    const receipts = await startNode(project, 'receipts', { RECEIPTS_PORT: '0' });
    const checkout = await startNode(project, 'checkout', {
      CHECKOUT_PORT: '0',
      CHECKOUT_STORE: join(work, 'workflows.db'),
      PRICE_QUOTE_URL: quote.url,
      ORDERS_URL: orders.url,
      RECEIPTS_URL: receipts.url,
    });
    // The order of the guide's curl (`-d @order.json`), as the guide wrote it into the project.
    const order: unknown = JSON.parse(readFileSync(join(project, 'order.json'), 'utf8'));
    const r = await postJson(`${checkout.url}/v1/process`, order);
    expect(r).toMatchObject({ status: 200, body: { status: 'completed', output: { orderId: 'o-42', totalCents: 4_050 } } });
    const workflow = await fetch(`${checkout.url}/v1/workflows/${String(r.body['id'])}`);
    expect(await workflow.json()).toMatchObject({ status: 'completed' });
    const stopped = await stopAll();
    expect(stopped.every((s) => s.code === 0)).toBe(true);
    reached = 7;
  });
});
