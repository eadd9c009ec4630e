import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PeerName } from '../domain/peers.js';
import { READY_MARKER, type ReadyAnnouncement } from '../runtime/node-process.js';
import { requestJson } from './http-json.js';

/** The processes of the stack. */
export const ServiceName = {
  Provider: 'payment-provider',
  Pricing: PeerName.Pricing,
  Inventory: PeerName.Inventory,
  Payments: PeerName.Payments,
  Ledger: PeerName.Ledger,
  Orchestrator: 'orchestrator',
} as const;
/** One of the {@link ServiceName} values. */
export type ServiceName = (typeof ServiceName)[keyof typeof ServiceName];

const ENTRY: Readonly<Record<ServiceName, string>> = {
  'payment-provider': 'provider/serve-provider.js',
  pricing: 'nodes/pricing.js',
  inventory: 'nodes/inventory.js',
  payments: 'nodes/payments.js',
  'order-ledger': 'nodes/ledger.js',
  orchestrator: 'nodes/orchestrator.js',
};

/** Options of {@link Stack.start}. */
export interface StackOptions {
  /** Folder of every node's SQLite files and of `logs/`. */
  readonly dataDir: string;
  /** `--set` settings of the payment provider (`latency=2..15`, `decline-rate=0.05`). */
  readonly providerSettings?: Readonly<Record<string, string>>;
  /** Fixed ports (default: every process binds a free port and announces it). */
  readonly ports?: Partial<Record<ServiceName, number>>;
  /** Where the built JavaScript lives (default: this package's `dist`). */
  readonly distDir?: string;
  /** Extra environment of the children (e.g. `ONEX_LOG_LEVEL`). */
  readonly env?: Readonly<Record<string, string>>;
  /** How long a process may take to announce itself, ms. Default 20 000. */
  readonly startTimeoutMs?: number;
}

interface Running {
  readonly name: ServiceName;
  readonly proc: ChildProcess;
  readonly url: string;
  readonly exited: Promise<void>;
}

/** The folder of the built entry points: `dist/` beside this module when built, else the package's `dist/`. */
export function defaultDistDir(): string {
  const here = dirname(dirname(fileURLToPath(import.meta.url)));
  return existsSync(join(here, 'nodes', 'pricing.js')) ? here : join(dirname(here), 'dist');
}

/**
 * The demo stack: the payment provider and the five ONEX nodes, each its own Node.js process on 127.0.0.1.
 * Processes bind free ports and announce their URL on stdout; their logs go to `<dataDir>/logs/<name>.log`.
 * `stop()` sends SIGTERM to every process and SIGKILL to any still alive after a grace period.
 */
export class Stack {
  readonly dataDir: string;
  readonly #options: StackOptions;
  readonly #distDir: string;
  readonly #running = new Map<ServiceName, Running>();
  readonly #logs = new Map<ServiceName, WriteStream>();
  #stopping: Promise<void> | undefined;

  private constructor(options: StackOptions) {
    this.dataDir = options.dataDir;
    this.#options = options;
    this.#distDir = options.distDir ?? defaultDistDir();
  }

  /** Starts every process (dependencies first) and waits until each answers its health check. */
  static async start(options: StackOptions): Promise<Stack> {
    const stack = new Stack(options);
    try {
      const provider = stack.#spawn(ServiceName.Provider, Object.entries(options.providerSettings ?? {}).map(([k, v]) => `--set=${k}=${v}`));
      const [providerUrl] = await Promise.all([
        provider,
        stack.#spawn(ServiceName.Pricing),
        stack.#spawn(ServiceName.Inventory),
        stack.#spawn(ServiceName.Ledger),
      ]);
      await stack.#spawn(ServiceName.Payments, [`--peer=provider=${providerUrl}`]);
      await stack.#spawn(ServiceName.Orchestrator, stack.#orchestratorPeers());
      return stack;
    } catch (error) {
      await stack.stop();
      throw error;
    }
  }

  /** Base URL of a process. */
  url(name: ServiceName): string {
    const running = this.#running.get(name);
    if (running === undefined) throw new Error(`${name} is not running`);
    return running.url;
  }

  /** Process ids, by name (for tests that check nothing is left behind). */
  pids(): Readonly<Record<string, number>> {
    return Object.fromEntries([...this.#running.values()].map((r) => [r.name, r.proc.pid ?? -1]));
  }

  /** Kills the orchestrator with SIGKILL (no shutdown, no flush) and waits for it to be gone. */
  async killOrchestrator(): Promise<void> {
    const running = this.#running.get(ServiceName.Orchestrator);
    if (running === undefined) return;
    running.proc.kill('SIGKILL');
    await running.exited;
    this.#running.delete(ServiceName.Orchestrator);
  }

  /** Starts the orchestrator again, on the port it had: it resumes its unfinished workflows. */
  async restartOrchestrator(port: number): Promise<void> {
    await this.#spawn(ServiceName.Orchestrator, this.#orchestratorPeers(), port);
  }

  /** Stops every process: SIGTERM (orchestrator first), SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs = 5_000): Promise<void> {
    this.#stopping ??= this.#stopAll(graceMs);
    return this.#stopping;
  }

  async #stopAll(graceMs: number): Promise<void> {
    const stopOne = async (running: Running): Promise<void> => {
      if (running.proc.exitCode === null && running.proc.signalCode === null) running.proc.kill('SIGTERM');
      const timer = setTimeout(() => running.proc.kill('SIGKILL'), graceMs);
      await running.exited;
      clearTimeout(timer);
    };
    const orchestrator = this.#running.get(ServiceName.Orchestrator);
    if (orchestrator !== undefined) await stopOne(orchestrator);
    await Promise.all([...this.#running.values()].filter((r) => r.name !== ServiceName.Orchestrator).map(stopOne));
    this.#running.clear();
    await Promise.all([...this.#logs.values()].map((log) => new Promise<void>((resolve) => log.end(resolve))));
    this.#logs.clear();
  }

  #orchestratorPeers(): string[] {
    return Object.values(PeerName).map((name) => `--peer=${name}=${this.url(name)}`);
  }

  #log(name: ServiceName): WriteStream {
    let log = this.#logs.get(name);
    if (log === undefined) {
      const dir = join(this.dataDir, 'logs');
      mkdirSync(dir, { recursive: true });
      log = createWriteStream(join(dir, `${name}.log`), { flags: 'a' });
      this.#logs.set(name, log);
    }
    return log;
  }

  /** Spawns one process and resolves with its URL once it announced itself and answers `GET /health`. */
  async #spawn(name: ServiceName, extraArgs: readonly string[] = [], port?: number): Promise<string> {
    if (this.#stopping !== undefined) throw new Error('stack is stopping');
    const file = join(this.#distDir, ENTRY[name]);
    if (!existsSync(file)) throw new Error(`${file} is missing: build the demo first (pnpm --filter @onex/demo... build)`);
    const chosenPort = port ?? this.#options.ports?.[name] ?? 0;
    const args = [file, `--port=${chosenPort}`, `--data-dir=${this.dataDir}`, ...extraArgs];
    // stdin stays open as a lifeline: a child exits when it closes, i.e. when this process dies in any way.
    const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...this.#options.env } });
    const log = this.#log(name);
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.stderr?.pipe(log, { end: false });
    const url = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      let announced = false;
      let stderrTail = '';
      proc.stderr?.on('data', (chunk: Buffer) => {
        stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2_000);
      });
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`${name} did not start within ${this.#options.startTimeoutMs ?? 20_000} ms`));
      }, this.#options.startTimeoutMs ?? 20_000);
      proc.stdout?.on('data', (chunk: Buffer) => {
        log.write(chunk);
        if (announced) return;
        buffered += chunk.toString('utf8');
        for (const line of buffered.split('\n')) {
          if (!line.startsWith(READY_MARKER)) continue;
          announced = true;
          clearTimeout(timer);
          buffered = '';
          resolve((JSON.parse(line.slice(READY_MARKER.length)) as ReadyAnnouncement).url);
          return;
        }
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!announced) reject(new Error(`${name} exited before it was ready (${signal ?? String(code)}): ${stderrTail.trim()}`));
      });
      proc.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    this.#running.set(name, { name, proc, url, exited });
    await waitForHealth(url, name);
    return url;
  }
}

/** Polls `GET <url>/health` until it answers 200. */
export async function waitForHealth(url: string, name: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await requestJson(`${url}/health`, { timeoutMs: 2_000 });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${name} at ${url} is not healthy`, { cause: error });
      await sleep(50);
    }
  }
}
