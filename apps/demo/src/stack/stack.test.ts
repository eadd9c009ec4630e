// The stack's process handling, on stand-in entry points (small CommonJS scripts in a temporary `dist`): a process
// that fails to start must not leave its siblings behind, nor make anything write to a closed log.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ErrorCode, sleep } from '@onex/core';
import { afterEach, describe, expect, it } from 'vitest';
import { READY_MARKER } from '../runtime/node-process.js';
import { ServiceName, Stack } from './stack.js';

/** How a stand-in process behaves. */
interface Behaviour {
  /** Exit with code 1 at once, before announcing. */
  readonly fail?: boolean;
  /** Announce the URL after this long, ms (default 50). */
  readonly readyAfterMs?: number;
  /** Listen, but never announce the URL. */
  readonly neverAnnounce?: boolean;
  /** On SIGTERM, announce (if not done yet) and exit shortly after, instead of dying at once. */
  readonly announceOnSigterm?: boolean;
}

const ENTRIES: Readonly<Record<ServiceName, string>> = {
  'payment-provider': 'provider/serve-provider.js',
  pricing: 'nodes/pricing.js',
  inventory: 'nodes/inventory.js',
  payments: 'nodes/payments.js',
  'order-ledger': 'nodes/ledger.js',
  orchestrator: 'nodes/orchestrator.js',
};

// Serves GET /health, records its pid, announces itself like the real nodes, then keeps writing to stdout and
// stderr (so a log closed too early would be written to). Exits when its stdin closes, like the real nodes.
const SCRIPT = (behaviour: Behaviour): string => `
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const behaviour = ${JSON.stringify(behaviour)};
const arg = (name) => process.argv.find((a) => a.startsWith('--' + name + '='))?.slice(name.length + 3);
let announce = () => {};
if (behaviour.announceOnSigterm) {
  process.on('SIGTERM', () => {
    announce();
    setTimeout(() => process.exit(0), 100);
  });
}
// Recorded once it listens (or is about to fail): by then the SIGTERM handler is installed.
const record = () => fs.appendFileSync(path.join(arg('data-dir'), 'pids'), process.pid + '\\n');
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
if (behaviour.fail) {
  record();
  process.stderr.write('boom: cannot start\\n');
  process.exit(1);
}
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"status":"healthy"}');
});
let announced = false;
announce = () => {
  if (server.address() === null) return;
  if (announced) return;
  announced = true;
  const url = 'http://127.0.0.1:' + server.address().port;
  process.stdout.write(${JSON.stringify(READY_MARKER)} + JSON.stringify({ name: 'fake', url, pid: process.pid }) + '\\n');
};
server.listen(Number(arg('port') ?? '0'), '127.0.0.1', () => {
  record();
  if (!behaviour.neverAnnounce) setTimeout(announce, behaviour.readyAfterMs ?? 50);
  setInterval(() => {
    process.stdout.write('tick\\n');
    process.stderr.write('tock\\n');
  }, 5);
});`;

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temporary `dist` of stand-ins and a data folder. */
function fakeStack(behaviours: Partial<Record<ServiceName, Behaviour>>): { distDir: string; dataDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'onex-demo-stack-'));
  dirs.push(root);
  const distDir = join(root, 'dist');
  const dataDir = join(root, 'data');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(distDir, { recursive: true });
  writeFileSync(join(distDir, 'package.json'), '{ "type": "commonjs" }\n');
  for (const [name, entry] of Object.entries(ENTRIES) as [ServiceName, string][]) {
    const file = join(distDir, entry);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, SCRIPT(behaviours[name] ?? {}));
  }
  return { distDir, dataDir };
}

/**
 * A start deadline that never passes. No test here races a wall-clock timeout against how fast a loaded machine
 * starts processes: a process that never announces fails the test by the test's own timeout instead.
 */
const noDeadline = (): Promise<void> => new Promise<void>(() => undefined);

function spawnedPids(dataDir: string): number[] {
  if (!existsSync(join(dataDir, 'pids'))) return [];
  return readFileSync(join(dataDir, 'pids'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Stack', () => {
  it('starts every process, and stops them all', async () => {
    const { distDir, dataDir } = fakeStack({});
    const stack = await Stack.start({ dataDir, distDir, startDeadline: noDeadline });
    expect(Object.keys(stack.pids())).toHaveLength(6);
    await stack.stop();
    const pids = spawnedPids(dataDir);
    expect(pids).toHaveLength(6);
    for (const pid of pids) expect(alive(pid), String(pid)).toBe(false);
    expect(readFileSync(join(dataDir, 'logs', 'pricing.log'), 'utf8')).toContain('tick');
  });

  it('stops every process it spawned when one fails to start, siblings still starting included', async () => {
    // Inventory dies at once; the provider, pricing and the ledger announce themselves only later.
    const { distDir, dataDir } = fakeStack({
      inventory: { fail: true },
      'payment-provider': { readyAfterMs: 300 },
      pricing: { readyAfterMs: 600 },
      'order-ledger': { readyAfterMs: 900 },
    });
    await expect(Stack.start({ dataDir, distDir, startDeadline: noDeadline })).rejects.toThrow(/inventory exited before it was ready \(1\): boom: cannot start/);
    const pids = spawnedPids(dataDir);
    expect(pids).toHaveLength(4); // payments and the orchestrator were never spawned
    for (const pid of pids) expect(alive(pid), String(pid)).toBe(false);
    // Nothing writes to the closed logs afterwards (it would surface as an unhandled ERR_STREAM_WRITE_AFTER_END).
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(readFileSync(join(dataDir, 'logs', 'inventory.log'), 'utf8')).toContain('boom');
  });

  it('kills a process that does not announce itself in time, and stops the rest', async () => {
    const { distDir, dataDir } = fakeStack({ orchestrator: { neverAnnounce: true } });
    // The orchestrator's deadline passes once it listens (it recorded the sixth pid) and still has not announced:
    // an event, where a 500 ms timeout raced the start of six processes on a loaded machine.
    const startDeadline = async (name: ServiceName, signal: AbortSignal): Promise<void> => {
      if (name !== ServiceName.Orchestrator) return noDeadline();
      while (spawnedPids(dataDir).length < 6) await sleep(10, signal);
    };
    await expect(Stack.start({ dataDir, distDir, startDeadline })).rejects.toMatchObject({
      code: ErrorCode.Timeout,
      message: 'orchestrator did not start before its start deadline',
    });
    const pids = spawnedPids(dataDir);
    expect(pids).toHaveLength(6);
    for (const pid of pids) expect(alive(pid), String(pid)).toBe(false);
  });

  it('stops an orchestrator being restarted: the restart fails, no process is left', async () => {
    const { distDir, dataDir } = fakeStack({});
    const stack = await Stack.start({ dataDir, distDir, startDeadline: noDeadline });
    const port = Number(new URL(stack.url(ServiceName.Orchestrator)).port);
    await stack.killOrchestrator();
    // The new orchestrator announces itself on SIGTERM, i.e. after stop() began: it must not count as ready.
    writeFileSync(join(distDir, ENTRIES.orchestrator), SCRIPT({ readyAfterMs: 60_000, announceOnSigterm: true }));
    const restart = stack.restartOrchestrator(port);
    const restarted = expect(restart).rejects.toThrow(/orchestrator not started: the stack is stopping/);
    // Once it recorded its pid, it listens and its SIGTERM handler is installed.
    while (spawnedPids(dataDir).length < 7) await new Promise((resolve) => setTimeout(resolve, 10));
    await stack.stop();
    await restarted;
    const pids = spawnedPids(dataDir);
    expect(pids).toHaveLength(7);
    for (const pid of pids) expect(alive(pid), String(pid)).toBe(false);
  });
});
