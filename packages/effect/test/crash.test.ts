// SIGKILL an effect node's process mid-transaction and after a commit, then restart on the same SQLite file: a
// completed key never runs again; an interrupted one left no trace and runs once its lease has expired. The child
// runs the built dist (`pnpm build`, which `pnpm test` runs first); without it the test fails rather than skips.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSilentLogger } from '@onex/core';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEffectNode, defineOperation, NodeEffect, type OperationContext } from '../src/index.js';
import { SqliteIdempotencyStore, SqliteTransactionManager, type SqliteTransaction } from '../src/sqlite.js';

const child = new URL('./fixtures/crash-child.mjs', import.meta.url);
const built = existsSync(new URL('../dist/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'onex-effect-crash-'));
const file = join(dir, 'crash.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the child and resolves with it once it printed `line` (or a line starting with it). */
function runUntil(key: string, mode: string, line: string): Promise<{ proc: ChildProcess; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child.pathname, file, key, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.split('\n').some((l) => l.startsWith(line))) resolve({ proc, output });
    });
    proc.on('exit', (code) => reject(new Error(`child exited early (${String(code)}): ${output}`)));
  });
}

function kill(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    proc.removeAllListeners('exit');
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

describe('effect node killed with SIGKILL', () => {
  it('has a built dist to run in the child process', () => {
    expect(built, 'run `pnpm build` first: the child process runs packages/effect/dist').toBe(true);
  });

  it('never re-runs a committed key, and runs an interrupted one exactly once after its lease', async () => {
    const committed = await runUntil('wf-1:book', 'hang-after-commit', '{"ok":true');
    await kill(committed.proc);
    const interrupted = await runUntil('wf-2:book', 'hang-in-tx', 'in-tx');
    await kill(interrupted.proc);

    const db = new Database(file);
    const transactions = new SqliteTransactionManager({ database: db });
    const runs: string[] = [];
    const book = defineOperation({
      name: 'book',
      input: z.object({ n: z.number() }),
      output: z.object({ pid: z.number() }),
      transactional: true,
      run: async (_input, ctx: OperationContext<SqliteTransaction>) => {
        runs.push(ctx.idempotencyKey ?? '');
        ctx.tx.run('INSERT INTO ledger (key, pid) VALUES (?, ?)', ctx.idempotencyKey, process.pid);
        return { pid: process.pid };
      },
    });
    const node = new NodeEffect(defineEffectNode({ name: 'crashy', version: '1.0.0', operations: [book] }), {
      transactions,
      idempotencyStore: new SqliteIdempotencyStore({ transactions, leaseMs: 300 }),
      logger: createSilentLogger(),
    });
    await node.initialize();
    try {
      const rows = () => db.prepare('SELECT key, pid FROM ledger ORDER BY rowid').all() as { key: string; pid: number }[];
      // The interrupted transaction left nothing; the committed one is there with its record.
      expect(rows().map((r) => r.key)).toEqual(['wf-1:book']);
      const first = await node.execute('book', { n: 1 }, { idempotencyKey: 'wf-1:book' });
      expect(first).toEqual({ ok: true, value: { pid: committed.proc.pid } });

      // The killed holder's lease on wf-2 runs out (300 ms), then the key runs here, once.
      let second = await node.execute('book', { n: 1 }, { idempotencyKey: 'wf-2:book' });
      if (!second.ok && second.error.code === 'CONFLICT') {
        expect(second.error.retryable).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, (second.ok ? 0 : (second.error.retryAfterMs ?? 0)) + 50));
        second = await node.execute('book', { n: 1 }, { idempotencyKey: 'wf-2:book' });
      }
      expect(second).toEqual({ ok: true, value: { pid: process.pid } });
      expect(runs).toEqual(['wf-2:book']);
      expect(rows().map((r) => r.key)).toEqual(['wf-1:book', 'wf-2:book']);
    } finally {
      await node.shutdown();
      db.close();
    }
  });
});
