import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, OnexError, RetryPolicy, sleep } from '@onex/core';
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
  /**
   * When a process has had long enough to announce itself: the returned promise resolves at that moment, and the
   * process is killed (`TIMEOUT`) unless it announced first. `signal` aborts once the process announced or exited;
   * release any timer then. Default: `startTimeoutMs` after the spawn. Tests pass one that depends on an event, not
   * on how fast a loaded machine starts processes.
   */
  readonly startDeadline?: (name: ServiceName, signal: AbortSignal) => Promise<void>;
}

/** A process of the stack from the moment it is spawned, ready or not. */
interface Child {
  readonly name: ServiceName;
  readonly proc: ChildProcess;
  /** Settles once the process is gone and its stdout/stderr are drained: nothing reaches its log after that. */
  readonly gone: Promise<void>;
}

/** A process that announced its URL. */
interface Running {
  readonly child: Child;
  readonly url: string;
}

/**
 * Health polls while a process finishes starting: within 50 ms at first, then at most 500 ms apart. The deadline of
 * {@link waitForHealth} is the bound; `maxAttempts` is only a backstop.
 */
const HEALTH_RETRY = new RetryPolicy({ maxAttempts: 200, initialDelayMs: 50, maxDelayMs: 500 });

/** The folder of the built entry points: `dist/` beside this module when built, else the package's `dist/`. */
export function defaultDistDir(): string {
  const here = dirname(dirname(fileURLToPath(import.meta.url)));
  return existsSync(join(here, 'nodes', 'pricing.js')) ? here : join(dirname(here), 'dist');
}

/**
 * The demo stack: the payment provider and the five ONEX nodes, each its own Node.js process on 127.0.0.1.
 * Processes bind free ports and announce their URL on stdout; their logs go to `<dataDir>/logs/<name>.log`.
 * `stop()` sends SIGTERM to every process, started or still starting, and SIGKILL to any still alive after a
 * grace period.
 */
export class Stack {
  readonly dataDir: string;
  readonly #options: StackOptions;
  readonly #distDir: string;
  /** Every process spawned and not yet gone, ready or still starting: what `stop()` kills. */
  readonly #children = new Set<Child>();
  /** The processes that announced their URL, by name. */
  readonly #running = new Map<ServiceName, Running>();
  readonly #logs = new Map<ServiceName, WriteStream>();
  /** Aborted when `stop()` begins: health polls of processes still starting give up at once. */
  readonly #stopSignal = new AbortController();
  #stopping: Promise<void> | undefined;

  private constructor(options: StackOptions) {
    this.dataDir = options.dataDir;
    this.#options = options;
    this.#distDir = options.distDir ?? defaultDistDir();
  }

  /**
   * Starts every process (dependencies first) and waits until each answers its health check. When one fails,
   * the others are let settle, every process spawned is stopped, and the first failure is thrown.
   */
  static async start(options: StackOptions): Promise<Stack> {
    const stack = new Stack(options);
    try {
      const provider = stack.#spawn(ServiceName.Provider, Object.entries(options.providerSettings ?? {}).map(([k, v]) => `--set=${k}=${v}`));
      await settleAll([provider, stack.#spawn(ServiceName.Pricing), stack.#spawn(ServiceName.Inventory), stack.#spawn(ServiceName.Ledger)]);
      const providerUrl = await provider;
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
    return Object.fromEntries([...this.#running.entries()].map(([name, r]) => [name, r.child.proc.pid ?? -1]));
  }

  /** Kills the orchestrator with SIGKILL (no shutdown, no flush) and waits for it to be gone. */
  async killOrchestrator(): Promise<void> {
    const running = this.#running.get(ServiceName.Orchestrator);
    if (running === undefined) return;
    running.child.proc.kill('SIGKILL');
    await running.child.gone;
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
    this.#stopSignal.abort();
    const stopOne = async ({ proc, gone }: Child): Promise<void> => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    };
    // No process is spawned once stopping is set, so this snapshot holds every one, started or still starting.
    const children = [...this.#children];
    await Promise.all(children.filter((c) => c.name === ServiceName.Orchestrator).map(stopOne));
    await Promise.all(children.filter((c) => c.name !== ServiceName.Orchestrator).map(stopOne));
    this.#running.clear();
    // Every process is gone and its output drained (`gone`), so nothing writes to a log after this.
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
    if (this.#stopping !== undefined) throw stoppingError(name);
    const file = join(this.#distDir, ENTRY[name]);
    if (!existsSync(file)) throw new Error(`${file} is missing: build the demo first (pnpm --filter @onex/demo... build)`);
    const chosenPort = port ?? this.#options.ports?.[name] ?? 0;
    const args = [file, `--port=${chosenPort}`, `--data-dir=${this.dataDir}`, ...extraArgs];
    // stdin stays open as a lifeline: a child exits when it closes, i.e. when this process dies in any way.
    const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...this.#options.env } });
    const child = this.#track(name, proc);
    const url = await this.#announcement(child);
    // stop() began while this process was starting: it is being stopped with the rest; do not report it ready.
    if (this.#stopping !== undefined) {
      proc.kill();
      throw stoppingError(name);
    }
    this.#running.set(name, { child, url });
    await waitForHealth(url, name, { signal: this.#stopSignal.signal });
    return url;
  }

  /** Registers a process the moment it is spawned, so that `stop()` kills it even before it is ready. */
  #track(name: ServiceName, proc: ChildProcess): Child {
    const log = this.#log(name);
    // A closed log is never written again (a write after end() emits an error that would crash the launcher).
    const write = (chunk: Buffer): void => {
      if (!log.writableEnded) log.write(chunk);
    };
    proc.stdout?.on('data', write);
    proc.stderr?.on('data', write);
    const gone = new Promise<void>((resolve) => {
      proc.once('close', () => resolve());
      // A process that could not be spawned at all has no pid and emits no 'close'.
      proc.on('error', () => {
        if (proc.pid === undefined) resolve();
      });
    });
    const child: Child = { name, proc, gone };
    this.#children.add(child);
    void gone.then(() => this.#children.delete(child));
    return child;
  }

  /** Resolves with the URL the process announces on stdout; rejects if it exits, fails or misses its start deadline first. */
  #announcement({ name, proc }: Child): Promise<string> {
    const timeoutMs = this.#options.startTimeoutMs ?? 20_000;
    return new Promise<string>((resolve, reject) => {
      let buffered = '';
      let stderrTail = '';
      // Aborted once the process announced, exited or failed: the deadline no longer matters.
      const settled = new AbortController();
      proc.stderr?.on('data', (chunk: Buffer) => {
        stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2_000);
      });
      const deadline = this.#options.startDeadline?.(name, settled.signal) ?? sleep(timeoutMs, settled.signal);
      deadline.then(
        () => {
          if (settled.signal.aborted) return;
          settled.abort();
          proc.kill('SIGKILL');
          const within = this.#options.startDeadline === undefined ? `within ${timeoutMs} ms` : 'before its start deadline';
          reject(new OnexError(ErrorCode.Timeout, `${name} did not start ${within}`, { context: { name } }));
        },
        () => undefined, // aborted: the process announced or exited first
      );
      proc.stdout?.on('data', (chunk: Buffer) => {
        if (settled.signal.aborted) return;
        buffered += chunk.toString('utf8');
        for (const line of buffered.split('\n')) {
          if (!line.startsWith(READY_MARKER)) continue;
          settled.abort();
          buffered = '';
          resolve((JSON.parse(line.slice(READY_MARKER.length)) as ReadyAnnouncement).url);
          return;
        }
      });
      proc.once('exit', (code, signal) => {
        if (settled.signal.aborted) return;
        settled.abort();
        const detail = stderrTail.trim();
        reject(new OnexError(ErrorCode.Unavailable, `${name} exited before it was ready (${signal ?? String(code)})${detail === '' ? '' : `: ${detail}`}`, { context: { name } }));
      });
      proc.once('error', (error) => {
        settled.abort();
        reject(error);
      });
    });
  }
}

function stoppingError(name: ServiceName): OnexError {
  return new OnexError(ErrorCode.Cancelled, `${name} not started: the stack is stopping`, { context: { name } });
}

/**
 * Waits for every promise; rejects only once all settled (with the first failure, in order): when one
 * process fails to start, its siblings still starting are not left racing with `stop()`.
 */
async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason as unknown;
}

/** Options of {@link waitForHealth}. */
export interface WaitForHealthOptions {
  /** Give up after this long, ms. Default 10 000. */
  readonly timeoutMs?: number;
  /** Aborting stops the polling at once (the stack stopping). */
  readonly signal?: AbortSignal;
}

/** Polls `GET <url>/health` until it answers 200; throws `UNAVAILABLE` (the last failure as its cause) after the timeout. */
export async function waitForHealth(url: string, name: string, options: WaitForHealthOptions = {}): Promise<void> {
  const { signal } = options;
  // The node announced its URL, so it listens: a 503 (not ready yet), a refused connection or a slow answer are
  // retryable and polled again; a non-retryable answer (a 500 INTERNAL) will not get better and fails at once.
  try {
    await HEALTH_RETRY.execute(() => requestJson(`${url}/health`, { timeoutMs: 2_000, ...(signal === undefined ? {} : { signal }) }), {
      deadlineAt: Date.now() + (options.timeoutMs ?? 10_000),
      ...(signal === undefined ? {} : { signal }),
    });
  } catch (error) {
    if (signal?.aborted === true) throw new OnexError(ErrorCode.Cancelled, `${name} at ${url}: stopped while waiting for health`, { cause: error, context: { name, url } });
    throw new OnexError(ErrorCode.Unavailable, `${name} at ${url} is not healthy`, { cause: error, context: { name, url } });
  }
}
