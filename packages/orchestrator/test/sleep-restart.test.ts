// A durable sleep across a real process restart: an orchestrator process starts a workflow that sleeps 3 s, is
// SIGKILLed while the workflow sleeps, and a new process on the same SQLite file wakes it when due — not earlier,
// and without waiting for a lease to expire (its instance id is the same). Real time, by design: this is the one
// test that checks the wake-up against the wall clock across processes; its bounds are seconds wide.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const fixture = new URL('./fixtures/sleep-orchestrator.mjs', import.meta.url);
const built = existsSync(new URL('../dist/index.js', import.meta.url)) && existsSync(new URL('../../core/dist/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'onex-sleep-restart-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Spawns the fixture; resolves each line it prints that starts with `prefix`. */
function child(args: string[]): { proc: ChildProcess; line: (prefix: string) => Promise<string>; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [fixture.pathname, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let output = '';
  const waiting: { prefix: string; resolve: (line: string) => void }[] = [];
  const check = () => {
    for (const line of output.split('\n')) {
      for (const w of waiting.splice(0)) {
        if (line.startsWith(w.prefix)) w.resolve(line);
        else waiting.push(w);
      }
    }
  };
  proc.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    check();
  });
  proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => (children.delete(proc), resolve(code))));
  return {
    proc,
    exited,
    line: (prefix) =>
      new Promise<string>((resolve, reject) => {
        waiting.push({ prefix, resolve });
        check();
        void exited.then(() => setTimeout(() => reject(new Error(`the child exited before printing '${prefix}': ${output}`)), 50));
      }),
  };
}

describe('durable sleep across a real process restart', () => {
  it('has built packages to run in the child process', () => {
    expect(built, 'run `pnpm build` first: the child runs packages/orchestrator/dist').toBe(true);
  });

  it('a workflow asleep when its process is SIGKILLed wakes on time in the next process', async () => {
    const path = join(dir, 'workflows.db');
    const SLEEP_MS = 3_000;
    const first = child([path, 'start', String(SLEEP_MS)]);
    const id = (await first.line('started ')).split(' ')[1]!;
    await first.line(`parked ${id}`);
    const killedAt = Date.now();
    first.proc.kill('SIGKILL');
    await first.exited;

    const second = child([path, 'serve', id]);
    await second.line('serving');
    const done = await second.line(`done ${id} `);
    const outcome = JSON.parse(done.slice(`done ${id} `.length)) as { status: string; output: { dueAt: number; wokeAt: number } };
    expect(outcome.status).toBe('completed');
    const { dueAt, wokeAt } = outcome.output;
    // Woken by the new process: not before its time, and soon after it (seconds, not a lease or a poll interval).
    expect(dueAt).toBeGreaterThan(killedAt);
    expect(wokeAt).toBeGreaterThanOrEqual(dueAt);
    expect(wokeAt - dueAt).toBeLessThan(5_000);
    expect(await second.exited).toBe(0);
  }, 60_000);
});
