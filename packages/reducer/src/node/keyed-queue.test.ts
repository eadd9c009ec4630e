import { describe, expect, it } from 'vitest';
import { KeyedQueue } from './keyed-queue.js';

const tick = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('KeyedQueue', () => {
  it('runs tasks of one key one at a time, in queue order, and keys concurrently', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const task = (key: string, n: number, ms: number) =>
      queue.run(key, async () => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        log.push(`${key}${n}+`);
        await tick(ms);
        log.push(`${key}${n}-`);
        running -= 1;
        return n;
      });
    const results = await Promise.all([task('a', 1, 20), task('a', 2, 1), task('b', 1, 5), task('a', 3, 1)]);
    expect(results).toEqual([1, 2, 1, 3]);
    const a = log.filter((e) => e.startsWith('a'));
    expect(a).toEqual(['a1+', 'a1-', 'a2+', 'a2-', 'a3+', 'a3-']);
    expect(log.indexOf('b1-')).toBeLessThan(log.indexOf('a1-')); // b did not wait for a
    expect(maxRunning).toBe(2);
  });

  it('keeps going after a failed task and forgets idle keys', async () => {
    const queue = new KeyedQueue();
    const failed = queue.run('k', () => Promise.reject(new Error('boom')));
    const next = queue.run('k', async () => 'next');
    expect(queue.size).toBe(1);
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
    await tick(0); // the tail settles a few microtasks after the task
    expect(queue.size).toBe(0);
  });

  it('reports when every queued task has settled', async () => {
    const queue = new KeyedQueue();
    const done: number[] = [];
    void queue.run('a', async () => {
      await tick(10);
      done.push(1);
    });
    void queue.run('b', () => Promise.reject(new Error('ignored by idle')).finally(() => done.push(2))).catch(() => undefined);
    await queue.idle();
    expect(done.sort()).toEqual([1, 2]);
    expect(queue.size).toBe(0);
  });
});
