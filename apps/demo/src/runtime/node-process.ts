import { parseArgs } from 'node:util';
import { createLogger, type Keyring, type Logger } from '@onex/core';
import { keyringFromEnv } from './demo-auth.js';
import { startTelemetry } from './telemetry.js';

/** The line a node process prints on stdout once it listens: the launcher reads its URL from it. */
export const READY_MARKER = 'ONEX_DEMO_READY ';

/**
 * The orchestrator's instance id when it runs alone: stable, so a restart resumes its workflows without waiting for a
 * lease. Replicas get `orchestrator-<n>` (`--set instance-id=…`).
 */
export const ORCHESTRATOR_INSTANCE_ID = 'demo-orchestrator';

/** What a node process announces once it serves. */
export interface ReadyAnnouncement {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
}

/** Options every node process takes (`--port`, `--data-dir`, `--peer name=url`, `--set key=value`). */
export interface NodeProcessArgs {
  /** Port to bind on 127.0.0.1; 0 (default) lets the OS pick, and the URL is announced. */
  readonly port: number;
  /** Folder of the node's SQLite files. */
  readonly dataDir: string;
  /** URLs of the nodes this one calls, by peer name. */
  readonly peers: Readonly<Record<string, string>>;
  /** Free-form settings (`--set latency=5..20`). */
  readonly settings: Readonly<Record<string, string>>;
  /** The keys of `ONEX_AUTH_KEYS`: when set, the node requires signed requests and signs its own peer calls. */
  readonly keyring: Keyring | undefined;
}

function pairs(values: readonly string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values ?? []) {
    const at = value.indexOf('=');
    if (at <= 0) throw new Error(`--${flag} expects name=value (got '${value}')`);
    out[value.slice(0, at)] = value.slice(at + 1);
  }
  return out;
}

/** Parses a node process's arguments (environment fallbacks: `PORT`, `ONEX_DEMO_DATA_DIR`). */
export function parseNodeArgs(argv: readonly string[] = process.argv.slice(2)): NodeProcessArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      peer: { type: 'string', multiple: true },
      set: { type: 'string', multiple: true },
    },
    strict: true,
  });
  const port = Number.parseInt(values.port ?? process.env['PORT'] ?? '0', 10);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`invalid --port '${values.port ?? ''}'`);
  return {
    port,
    dataDir: values['data-dir'] ?? process.env['ONEX_DEMO_DATA_DIR'] ?? './data',
    peers: pairs(values.peer, 'peer'),
    settings: pairs(values.set, 'set'),
    keyring: keyringFromEnv(),
  };
}

/** A service a process runs: where it listens and how to stop it (a `ServedNode` is one). */
export interface RunningService {
  readonly url: string;
  close(): Promise<void>;
}

/** What a node entry point hands to {@link runNodeProcess}. */
export interface NodeProcessDefinition {
  /** Process name (logs, announcement). */
  readonly name: string;
  /** Builds and serves the node; returns the server and what else to close on the way out (after it). */
  readonly start: (args: NodeProcessArgs, logger: Logger) => Promise<{ readonly served: RunningService; readonly close?: () => Promise<void> | void }>;
}

/**
 * Runs one node as a process: registers the OpenTelemetry SDK ({@link startTelemetry}), serves the node, announces its
 * URL on stdout, and shuts it down gracefully on SIGTERM, SIGINT, or when its parent goes away (its stdin closes) — so a killed launcher leaves no process behind.
 */
export async function runNodeProcess(definition: NodeProcessDefinition): Promise<void> {
  // First, so that every span and log line of the process is in it (see telemetry.ts: OTLP when configured).
  const telemetry = startTelemetry(definition.name);
  const logger = createLogger({ name: definition.name, level: process.env['ONEX_LOG_LEVEL'] ?? 'warn' });
  let stopping: Promise<void> | undefined;
  let closeAll: (() => Promise<void>) | undefined;
  const stop = (reason: string, code: number): void => {
    if (stopping !== undefined) {
      // A second signal: the operator means it.
      process.exit(code === 0 ? 1 : code);
    }
    logger.info({ reason }, 'stopping');
    const hardStop = setTimeout(() => process.exit(code === 0 ? 1 : code), 8_000);
    hardStop.unref();
    stopping = (closeAll?.() ?? Promise.resolve()).then(
      () => process.exit(code),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  // The launcher holds our stdin: when it dies (even by SIGKILL) the pipe closes.
  if (!process.stdin.isTTY) {
    process.stdin.on('end', () => stop('parent gone', 0));
    process.stdin.on('error', () => stop('parent gone', 0));
    process.stdin.resume();
  }
  try {
    const args = parseNodeArgs();
    const started = await definition.start(args, logger);
    closeAll = async () => {
      await started.served.close();
      await started.close?.();
      await telemetry?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'could not flush the last spans'));
    };
    const announcement: ReadyAnnouncement = { name: definition.name, url: started.served.url, pid: process.pid };
    process.stdout.write(`${READY_MARKER}${JSON.stringify(announcement)}\n`);
    if (stopping !== undefined) await closeAll();
  } catch (error) {
    logger.fatal({ err: error }, `${definition.name} failed to start`);
    process.stderr.write(`${definition.name} failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

/** The URL of a required peer, or a clear error. */
export function requirePeer(args: NodeProcessArgs, name: string): string {
  const url = args.peers[name];
  if (url === undefined) throw new Error(`missing --peer ${name}=<url>`);
  return url;
}
