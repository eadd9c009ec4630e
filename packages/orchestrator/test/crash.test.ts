// The durability test: an orchestrator in a child process (SQLite store) runs 3-step workflows against an effect
// peer over HTTP and is SIGKILLed again and again at random moments, then restarted. Every workflow must complete,
// and the effect peer — which records each application inside the same SQLite transaction as its idempotency
// completion — must show every step applied exactly once. The child runs the built dist (`pnpm test` builds first).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSilentLogger, serveNode, type ServedNode } from '@onex/core';
import { defineEffectNode, defineOperation, NodeEffect, type OperationContext } from '@onex/effect';
import { SqliteIdempotencyStore, SqliteTransactionManager, type SqliteTransaction } from '@onex/effect/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

// Enough work that ten lives cannot finish it: a child runs 8 workflows at a time and the parent kills it just after
// its first new effect, so a life applies about its 8 calls in flight (they land after the kill too) plus what
// completes within the kill's few milliseconds, stretched on a busy machine. With 24 workflows (72 effects) three
// lives of ~24 could do it all, and the later kills then interrupted nothing (CI: 3 of 10 mid-run once).
const WORKFLOWS = 48;
const KILLS = 10;
const fixture = new URL('./fixtures/crash-orchestrator.mjs', import.meta.url);
const built = existsSync(new URL('../dist/index.js', import.meta.url)) && existsSync(new URL('../../core/dist/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'onex-orchestrator-crash-'));
const children = new Set<ChildProcess>();
let served: ServedNode | undefined;
let effectDb: Database.Database | undefined;

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await served?.close();
  effectDb?.close();
  rmSync(dir, { recursive: true, force: true });
});

function startChild(peerUrl: string): { proc: ChildProcess; started: Promise<void>; finished: Promise<string> } {
  const proc = spawn(process.execPath, [fixture.pathname, join(dir, 'workflows.db'), peerUrl, String(WORKFLOWS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let output = '';
  let onStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (onStarted = resolve));
  proc.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.includes('started\n')) onStarted();
  });
  proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const finished = new Promise<string>((resolve) => {
    proc.on('exit', () => {
      children.delete(proc);
      onStarted();
      resolve(output);
    });
  });
  return { proc, started, finished };
}

describe('orchestrator crash recovery', () => {
  it('has built packages to run in the child process', () => {
    expect(built, 'run `pnpm build` first: the child runs packages/orchestrator/dist').toBe(true);
  });

  it(`completes every workflow exactly once across ${KILLS} SIGKILLs at random points`, async () => {
    effectDb = new Database(join(dir, 'effects.db'));
    effectDb.pragma('journal_mode = WAL');
    effectDb.exec('CREATE TABLE applied (key TEXT NOT NULL, workflow INTEGER NOT NULL, step TEXT NOT NULL)');
    const transactions = new SqliteTransactionManager({ database: effectDb });
    const apply = defineOperation({
      name: 'apply',
      input: z.object({ workflow: z.number(), step: z.string() }),
      output: z.object({ applied: z.number() }),
      transactional: true,
      run: async (input, ctx: OperationContext<SqliteTransaction>) => {
        // Take a little time so that kills land while calls are in flight, and few complete in a kill's window.
        await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
        ctx.tx.run('INSERT INTO applied (key, workflow, step) VALUES (?, ?, ?)', ctx.idempotencyKey ?? '(none)', input.workflow, input.step);
        return { applied: 1 };
      },
    });
    const node = new NodeEffect(defineEffectNode({ name: 'counter', version: '1.0.0', operations: [apply] }), {
      transactions,
      idempotencyStore: new SqliteIdempotencyStore({ transactions, leaseMs: 500 }),
      logger: createSilentLogger(),
    });
    served = await serveNode(node);

    const appliedCount = (): number => (effectDb!.prepare('SELECT COUNT(*) AS n FROM applied').get() as { n: number }).n;
    const killedMidway: number[] = [];
    let recovered = 0;
    for (let i = 0; i < KILLS; i += 1) {
      const { proc, started, finished } = startChild(served.url);
      await started;
      if (i % 3 === 2) {
        // Kill at a random instant once the child runs (during its recovery, before, during or after step calls).
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 60));
      } else {
        // Kill just after this child's own first effect landed, at a random instant within a few ms: its runs are
        // mid-flight then, whatever the machine's speed (a fixed window let a fast child finish all the work before
        // the later kills, which then interrupted nothing).
        const base = appliedCount();
        const waitUntil = Date.now() + 10_000;
        while (proc.exitCode === null && appliedCount() === base && Date.now() < waitUntil) await new Promise((resolve) => setTimeout(resolve, 1));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
      }
      const applied = appliedCount();
      if (proc.exitCode === null) {
        proc.kill('SIGKILL');
        if (applied > 0 && applied < WORKFLOWS * 3) killedMidway.push(applied);
      }
      const output = await finished;
      recovered += Number(/recovered (\d+)/.exec(output)?.[1] ?? 0);
    }
    const last = startChild(served.url);
    const timer = setTimeout(() => last.proc.kill('SIGKILL'), 30_000);
    const output = await last.finished;
    clearTimeout(timer);

    // The kills really interrupted work in progress, and restarts really resumed unfinished workflows.
    expect(killedMidway.length).toBeGreaterThan(KILLS / 2);
    expect(recovered).toBeGreaterThan(0);
    expect(output).toContain('ALL DONE');
    expect(output).not.toMatch(/done \d+ (?!completed)/);

    const workflows = new Database(join(dir, 'workflows.db'), { readonly: true });
    const statuses = workflows.prepare('SELECT status, COUNT(*) AS n FROM onex_workflows GROUP BY status').all();
    workflows.close();
    expect(statuses).toEqual([{ status: 'completed', n: WORKFLOWS }]);

    const rows = effectDb.prepare('SELECT key, COUNT(*) AS n FROM applied GROUP BY key').all() as { key: string; n: number }[];
    expect(rows).toHaveLength(WORKFLOWS * 3);
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    expect(rows.every((r) => /^[0-9a-f-]{36}:[abc]$/.test(r.key))).toBe(true);
  }, 90_000);
});
