import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, OnexError, RetryPolicy, sleep, type ClientAuthOptions } from '@onex/core';
import { createDemoAuth, type DemoAuth } from '../runtime/demo-auth.js';
import { PeerName } from '../domain/peers.js';
import { ORCHESTRATOR_INSTANCE_ID, READY_MARKER, type ReadyAnnouncement } from '../runtime/node-process.js';
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
  /** Folder of every node's SQLite files, of `logs/` and of the orchestrators' `ownership/` journals. */
  readonly dataDir: string;
  /** `--set` settings of the payment provider (`latency=2..15`, `decline-rate=0.05`). */
  readonly providerSettings?: Readonly<Record<string, string>>;
  /**
   * Processes per service (default 1 each). Replicas of a node share its store — a PostgreSQL schema, so give more
   * than one only with `--store postgres` — and are named `<service>-<n>` (logs, `pids()`); the orchestrators spread
   * their calls over a peer's replicas, and each orchestrator replica gets its own instance id.
   */
  readonly replicas?: Partial<Record<ServiceName, number>>;
  /** The orchestrators' lease on the workflows they hold, ms (default: the node's, 10 000). */
  readonly orchestratorLeaseMs?: number;
  /** Fixed ports of the first replica of a service (default: every process binds a free port and announces it). */
  readonly ports?: Partial<Record<ServiceName, number>>;
  /** Where the built JavaScript lives (default: this package's `dist`). */
  readonly distDir?: string;
  /** Extra environment of the children (e.g. `ONEX_LOG_LEVEL`, the store's). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Run the ONEX nodes with authentication (default true): fresh random keys for the run, handed to every node in
   * `ONEX_AUTH_KEYS`; the orchestrator signs its peer calls, the launcher signs with the operator's key
   * ({@link Stack.authOption}). The payment provider stands for a third party and takes no ONEX keys.
   */
  readonly auth?: boolean;
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
  /** `name`, or `<name>-<n>` when the service has replicas. */
  readonly process: string;
  readonly proc: ChildProcess;
  /** Settles once the process is gone and its stdout/stderr are drained: nothing reaches its log after that. */
  readonly gone: Promise<void>;
}

/** A process that announced its URL. */
interface Running {
  readonly child: Child;
  readonly url: string;
}

/** What a replica was started with: a restart reuses it, on the same port. */
interface Launch {
  readonly args: readonly string[];
  port: number;
}

/**
 * What `--store postgres` runs: 3 orchestrator replicas (distinct instance ids, one schema) and 2 of each effect node,
 * on a 3 s lease so that a frozen replica's workflows are taken over within seconds.
 */
export const POSTGRES_TOPOLOGY = {
  replicas: { [ServiceName.Orchestrator]: 3, [ServiceName.Inventory]: 2, [ServiceName.Payments]: 2 },
  orchestratorLeaseMs: 3_000,
} as const satisfies Pick<StackOptions, 'replicas' | 'orchestratorLeaseMs'>;

/** The orchestrator's lease when the stack sets none (the node's default). */
const DEFAULT_LEASE_MS = 10_000;

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

/** The folder of the orchestrators' ownership journals in a data folder. */
export function ownershipDir(dataDir: string): string {
  return join(dataDir, 'ownership');
}

/**
 * The demo stack: the payment provider and the five ONEX nodes — some replicated — each its own Node.js process on
 * 127.0.0.1. Processes bind free ports and announce their URL on stdout; their logs go to
 * `<dataDir>/logs/<process>.log`. `stop()` sends SIGTERM to every process, started or still starting (SIGCONT first
 * to a paused one), and SIGKILL to any still alive after a grace period.
 */
export class Stack {
  readonly dataDir: string;
  /** The run's keys, unless the stack runs without authentication. */
  readonly #auth: DemoAuth | undefined;
  readonly #options: StackOptions;
  readonly #distDir: string;
  /** Every process spawned and not yet gone, ready or still starting: what `stop()` kills. */
  readonly #children = new Set<Child>();
  /** The processes that announced their URL, by process name. */
  readonly #running = new Map<string, Running>();
  /** How each replica was last started, by process name. */
  readonly #launches = new Map<string, Launch>();
  /** Processes stopped with SIGSTOP and not yet continued. */
  readonly #paused = new Set<ChildProcess>();
  readonly #logs = new Map<string, WriteStream>();
  /** Aborted when `stop()` begins: health polls of processes still starting give up at once. */
  readonly #stopSignal = new AbortController();
  #stopping: Promise<void> | undefined;

  private constructor(options: StackOptions) {
    this.dataDir = options.dataDir;
    this.#options = options;
    this.#distDir = options.distDir ?? defaultDistDir();
    this.#auth = options.auth === false ? undefined : createDemoAuth();
  }

  /** `{ auth }` with the operator's key, for a request to a node of the stack (empty when auth is off). */
  authOption(): { auth?: ClientAuthOptions } {
    return this.#auth === undefined ? {} : { auth: this.#auth.operator };
  }

  /** The operator's key in `ONEX_AUTH_KEYS` format (for the CLI), unless auth is off. */
  get operatorKeys(): string | undefined {
    return this.#auth?.operatorKeys;
  }

  /**
   * Starts every process (dependencies first) and waits until each answers its health check. When one fails,
   * the others are let settle, every process spawned is stopped, and the first failure is thrown.
   */
  static async start(options: StackOptions): Promise<Stack> {
    const stack = new Stack(options);
    try {
      const provider = stack.#spawn(ServiceName.Provider, 0, Object.entries(options.providerSettings ?? {}).map(([k, v]) => `--set=${k}=${v}`));
      await settleAll([provider, ...stack.#spawnAll(ServiceName.Pricing), ...stack.#spawnAll(ServiceName.Inventory), ...stack.#spawnAll(ServiceName.Ledger)]);
      const providerUrl = await provider;
      await settleAll(stack.#spawnAll(ServiceName.Payments, () => [`--peer=provider=${providerUrl}`]));
      const peers = stack.#orchestratorPeers();
      const lease = options.orchestratorLeaseMs === undefined ? [] : [`--set=lease-ms=${options.orchestratorLeaseMs}`];
      await settleAll(stack.#spawnAll(ServiceName.Orchestrator, (replica) => [...peers, ...lease, `--set=instance-id=${stack.orchestratorInstanceId(replica)}`]));
      return stack;
    } catch (error) {
      await stack.stop();
      throw error;
    }
  }

  /** How many processes run service `name`. */
  replicas(name: ServiceName): number {
    return Math.max(1, this.#options.replicas?.[name] ?? 1);
  }

  /** The orchestrators' lease on the workflows they hold, ms. */
  get orchestratorLeaseMs(): number {
    return this.#options.orchestratorLeaseMs ?? DEFAULT_LEASE_MS;
  }

  /** The instance id of an orchestrator replica (the `owner` of the workflows it holds): its process name, when replicated. */
  orchestratorInstanceId(replica = 0): string {
    return this.replicas(ServiceName.Orchestrator) === 1 ? ORCHESTRATOR_INSTANCE_ID : this.processName(ServiceName.Orchestrator, replica);
  }

  /** The process name of a replica: the service's name, or `<name>-<n>` (from 1) when it has replicas. */
  processName(name: ServiceName, replica = 0): string {
    return this.replicas(name) === 1 ? name : `${name}-${replica + 1}`;
  }

  /** Base URL of a process (the first replica by default). */
  url(name: ServiceName, replica = 0): string {
    const running = this.#running.get(this.processName(name, replica));
    if (running === undefined) throw new Error(`${this.processName(name, replica)} is not running`);
    return running.url;
  }

  /** Base URLs of every replica of a service, running or not (a stopped one keeps its port for its restart). */
  urls(name: ServiceName): string[] {
    return Array.from({ length: this.replicas(name) }, (_, replica) => {
      const process = this.processName(name, replica);
      const running = this.#running.get(process);
      if (running !== undefined) return running.url;
      const launch = this.#launches.get(process);
      if (launch === undefined || launch.port === 0) throw new Error(`${process} is not running`);
      return `http://127.0.0.1:${launch.port}`;
    });
  }

  /** Process ids, by process name (for tests that check nothing is left behind). */
  pids(): Readonly<Record<string, number>> {
    return Object.fromEntries([...this.#running.entries()].map(([name, r]) => [name, r.child.proc.pid ?? -1]));
  }

  /** Kills a replica with SIGKILL (no shutdown, no flush) and waits for it to be gone. */
  async kill(name: ServiceName, replica = 0): Promise<void> {
    const process = this.processName(name, replica);
    const running = this.#running.get(process);
    if (running === undefined) return;
    this.#running.delete(process);
    running.child.proc.kill('SIGKILL');
    await running.child.gone;
    this.#paused.delete(running.child.proc);
  }

  /** Starts a killed replica again, with the arguments and on the port it had. */
  async restart(name: ServiceName, replica = 0): Promise<void> {
    const launch = this.#launches.get(this.processName(name, replica));
    if (launch === undefined) throw new Error(`${this.processName(name, replica)} was never started`);
    await this.#spawn(name, replica, launch.args);
  }

  /** Freezes a replica with SIGSTOP: it holds its connections and leases but runs nothing until {@link resume}. */
  pause(name: ServiceName, replica = 0): void {
    const running = this.#running.get(this.processName(name, replica));
    if (running === undefined) throw new Error(`${this.processName(name, replica)} is not running`);
    this.#paused.add(running.child.proc);
    running.child.proc.kill('SIGSTOP');
  }

  /** Lets a paused replica run again (SIGCONT). */
  resume(name: ServiceName, replica = 0): void {
    const running = this.#running.get(this.processName(name, replica));
    if (running === undefined) return;
    this.#paused.delete(running.child.proc);
    running.child.proc.kill('SIGCONT');
  }

  /** Kills the (first) orchestrator with SIGKILL and waits for it to be gone. */
  killOrchestrator(): Promise<void> {
    return this.kill(ServiceName.Orchestrator, 0);
  }

  /** Starts the (first) orchestrator again, on the port it had: it resumes its unfinished workflows. */
  async restartOrchestrator(port?: number): Promise<void> {
    const launch = this.#launches.get(this.processName(ServiceName.Orchestrator, 0));
    if (launch !== undefined && port !== undefined) launch.port = port;
    await this.restart(ServiceName.Orchestrator, 0);
  }

  /** Stops every process: SIGTERM (orchestrators first), SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs = 5_000): Promise<void> {
    this.#stopping ??= this.#stopAll(graceMs);
    return this.#stopping;
  }

  async #stopAll(graceMs: number): Promise<void> {
    this.#stopSignal.abort();
    const stopOne = async ({ proc, gone }: Child): Promise<void> => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        // A paused process would keep the SIGTERM pending until the SIGKILL: let it act on it now.
        if (this.#paused.delete(proc)) proc.kill('SIGCONT');
      }
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

  /** Every peer of the orchestrators, with the URLs of all its replicas. */
  #orchestratorPeers(): string[] {
    return Object.values(PeerName).map((name) => `--peer=${name}=${this.urls(name).join(',')}`);
  }

  #log(process: string): WriteStream {
    let log = this.#logs.get(process);
    if (log === undefined) {
      const dir = join(this.dataDir, 'logs');
      mkdirSync(dir, { recursive: true });
      log = createWriteStream(join(dir, `${process}.log`), { flags: 'a' });
      this.#logs.set(process, log);
    }
    return log;
  }

  /** Spawns every replica of a service. */
  #spawnAll(name: ServiceName, args: (replica: number) => readonly string[] = () => []): Promise<string>[] {
    return Array.from({ length: this.replicas(name) }, (_, replica) => this.#spawn(name, replica, args(replica)));
  }

  /** Spawns one process and resolves with its URL once it announced itself and answers `GET /health`. */
  async #spawn(name: ServiceName, replica: number, extraArgs: readonly string[] = []): Promise<string> {
    const process = this.processName(name, replica);
    if (this.#stopping !== undefined) throw stoppingError(process);
    const file = join(this.#distDir, ENTRY[name]);
    if (!existsSync(file)) throw new Error(`${file} is missing: build the demo first (pnpm --filter @onex/demo... build)`);
    const launch = this.#launches.get(process) ?? { args: extraArgs, port: (replica === 0 ? this.#options.ports?.[name] : undefined) ?? 0 };
    this.#launches.set(process, launch);
    const args = [file, `--port=${launch.port}`, `--data-dir=${this.dataDir}`, ...extraArgs];
    // stdin stays open as a lifeline: a child exits when it closes, i.e. when this process dies in any way.
    const proc = spawn(globalThis.process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...globalThis.process.env, ...this.#options.env, ...(name === ServiceName.Provider ? {} : this.#auth?.env) } });
    const child = this.#track(name, process, proc);
    const url = await this.#announcement(child);
    // stop() began while this process was starting: it is being stopped with the rest; do not report it ready.
    if (this.#stopping !== undefined) {
      proc.kill();
      throw stoppingError(process);
    }
    // A restart binds the port the replica had, so the URLs its peers were given stay right.
    launch.port = Number(new URL(url).port);
    this.#running.set(process, { child, url });
    await waitForHealth(url, process, { signal: this.#stopSignal.signal });
    return url;
  }

  /** Registers a process the moment it is spawned, so that `stop()` kills it even before it is ready. */
  #track(name: ServiceName, process: string, proc: ChildProcess): Child {
    const log = this.#log(process);
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
    const child: Child = { name, process, proc, gone };
    this.#children.add(child);
    void gone.then(() => this.#children.delete(child));
    return child;
  }

  #announcement({ name, process, proc }: Child): Promise<string> {
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
          reject(new OnexError(ErrorCode.Timeout, `${process} did not start ${within}`, { context: { name: process } }));
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
        reject(new OnexError(ErrorCode.Unavailable, `${process} exited before it was ready (${signal ?? String(code)})${detail === '' ? '' : `: ${detail}`}`, { context: { name: process } }));
      });
      proc.once('error', (error) => {
        settled.abort();
        reject(error);
      });
    });
  }
}

function stoppingError(name: string): OnexError {
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
