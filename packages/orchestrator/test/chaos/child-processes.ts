// The chaos test's child processes: TypeScript fixtures run from source (see ts-loader.mjs), each tracked from
// spawn to exit so that nothing outlives the test, with their output kept (bounded) for diagnosis.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LOADER = new URL('./ts-loader.mjs', import.meta.url);
/** Output kept per child for diagnosis, characters. */
const TAIL_CHARS = 8_000;

/** A fixture process: its announced port, its last lines by prefix, how it ended. */
export class ManagedChild {
  readonly label: string;
  readonly proc: ChildProcess;
  /** Resolves with the words after `listening` once the child serves; rejects when it exits first or is too slow. */
  readonly ready: Promise<readonly string[]>;
  /** Resolves when the process has exited, with its exit code (null when a signal ended it) and signal. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
  readonly #last = new Map<string, string>();
  #tail = '';
  #partial = '';
  #exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;

  constructor(label: string, proc: ChildProcess, readyTimeoutMs: number) {
    this.label = label;
    this.proc = proc;
    let onReady: (words: readonly string[]) => void = () => undefined;
    let onFailed: (error: Error) => void = () => undefined;
    this.ready = new Promise<readonly string[]>((resolve, reject) => {
      onReady = resolve;
      onFailed = reject;
    });
    // Marked handled: a caller that never awaits `ready` (a child killed at once) must not fail the run.
    this.ready.catch(() => undefined);
    const timer = setTimeout(() => onFailed(new Error(`${label} did not announce its port within ${readyTimeoutMs} ms:\n${this.tail()}`)), readyTimeoutMs);
    timer.unref();
    proc.stdout?.setEncoding('utf8');
    proc.stderr?.setEncoding('utf8');
    proc.stdout?.on('data', (chunk: string) => {
      const text = this.#partial + chunk;
      const lines = text.split('\n');
      this.#partial = lines.pop() ?? '';
      for (const line of lines) {
        const space = line.indexOf(' ');
        const prefix = space === -1 ? line : line.slice(0, space);
        this.#last.set(prefix, space === -1 ? '' : line.slice(space + 1));
        // The periodic `figures` lines would crowd the diagnosis out of the tail.
        if (prefix !== 'figures') this.#keep(`${line}\n`);
        if (prefix === 'listening') {
          clearTimeout(timer);
          onReady(line.split(' ').slice(1));
        }
      }
    });
    proc.stderr?.on('data', (chunk: string) => this.#keep(chunk));
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.#exit = { code, signal };
        onFailed(new Error(`${label} exited (code ${String(code)}, signal ${String(signal)}) before it served:\n${this.tail()}`));
        resolve(this.#exit);
      });
    });
  }

  /** True until the process has exited. */
  get alive(): boolean {
    return this.#exit === undefined;
  }

  /** The rest of the last stdout line that began with `prefix` (e.g. `figures`). */
  last(prefix: string): string | undefined {
    return this.#last.get(prefix);
  }

  /** The end of its output, for a failure message. */
  tail(): string {
    return this.#tail;
  }

  /** Sends a signal unless it has exited. */
  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(signal);
  }

  #keep(chunk: string): void {
    this.#tail = (this.#tail + chunk).slice(-TAIL_CHARS);
  }
}

/** Every child the test spawned and that has not exited yet. */
export class ChildProcesses {
  readonly #live = new Set<ManagedChild>();
  readonly #readyTimeoutMs: number;
  #closed = false;

  constructor(options: { readonly readyTimeoutMs: number }) {
    this.#readyTimeoutMs = options.readyTimeoutMs;
  }

  /** Runs `script` (a .ts fixture) from source with `args` as one JSON argument. */
  spawn(label: string, script: URL, args: unknown): ManagedChild {
    // A restart still pending when the test ended must not leave a process behind.
    if (this.#closed) throw new Error(`not spawning ${label}: the test is over`);
    const proc = spawn(process.execPath, ['--conditions=@onex/source', '--import', LOADER.href, fileURLToPath(script), JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = new ManagedChild(label, proc, this.#readyTimeoutMs);
    this.#live.add(child);
    void child.exited.then(() => this.#live.delete(child));
    return child;
  }

  /** How many have not exited. */
  get live(): number {
    return this.#live.size;
  }

  /** SIGKILLs every child still alive (stopped ones too), spawns no more, and waits for them to exit, bounded. */
  async killAll(timeoutMs: number): Promise<void> {
    this.#closed = true;
    const children = [...this.#live];
    for (const child of children) child.signal('SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(children.map((c) => c.exited)), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }
}
