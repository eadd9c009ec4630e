import { describe, expect, it } from 'vitest';
import { ErrorCode, OnexError } from '../index.js';
import { onAbort, raceAbort, shareSignal } from './abort.js';

describe('onAbort', () => {
  it('runs once on abort and removes itself when stopped', () => {
    const controller = new AbortController();
    const seen: unknown[] = [];
    const stop = onAbort(controller.signal, (reason) => seen.push(reason));
    stop();
    controller.abort('late');
    expect(seen).toEqual([]);
    const again = onAbort(controller.signal, (reason) => seen.push(reason));
    again();
    expect(seen).toEqual(['late']);
  });

  it('runs at abort time with the reason', () => {
    const controller = new AbortController();
    const seen: unknown[] = [];
    onAbort(controller.signal, (reason) => seen.push(reason));
    controller.abort('now');
    controller.abort('twice');
    expect(seen).toEqual(['now']);
  });
});

describe('raceAbort', () => {
  it('answers the work when it settles first, and leaves no listener behind', async () => {
    const controller = new AbortController();
    let added = 0;
    let removed = 0;
    const signal = controller.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<typeof add>) => {
      added++;
      add(...args);
    });
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      removed++;
      remove(...args);
    });
    await expect(raceAbort(Promise.resolve(7), signal)).resolves.toBe(7);
    await expect(raceAbort(Promise.reject(new Error('boom')), signal)).rejects.toThrow('boom');
    expect({ added, removed }).toEqual({ added: 2, removed: 2 });
  });

  it('rejects with CANCELLED as soon as the signal aborts, before the work settles', async () => {
    const controller = new AbortController();
    let release!: () => void;
    const work = new Promise<void>((resolve) => (release = resolve));
    const raced = raceAbort(work, controller.signal);
    controller.abort();
    const error = await raced.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OnexError);
    expect((error as OnexError).code).toBe(ErrorCode.Cancelled);
    release();
  });

  it('rejects at once on an aborted signal and swallows the abandoned work failing later', async () => {
    const controller = new AbortController();
    controller.abort();
    let fail!: (e: Error) => void;
    const work = new Promise<never>((_, reject) => (fail = reject));
    await expect(raceAbort(work, controller.signal, () => new Error('mine'))).rejects.toThrow('mine');
    fail(new Error('later'));
    await new Promise((resolve) => setImmediate(resolve));
  });
});

describe('shareSignal', () => {
  /** The MaxListenersExceededWarnings emitted while `listeners` abort listeners are added to a signal shared by `consumers`. */
  async function leakWarnings(consumers: number | undefined, listeners: number): Promise<string[]> {
    const seen: string[] = [];
    const onWarning = (warning: Error): void => {
      if (warning.name === 'MaxListenersExceededWarning') seen.push(warning.message);
    };
    process.on('warning', onWarning);
    const controller = new AbortController();
    if (consumers !== undefined) shareSignal(controller.signal, consumers);
    const stops = Array.from({ length: listeners }, () => onAbort(controller.signal, () => undefined));
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    for (const stop of stops) stop();
    return seen;
  }

  it("lets a signal shared by n users hold 4 listeners each without Node's leak warning", async () => {
    expect(await leakWarnings(undefined, 11)).toHaveLength(1);
    expect(await leakWarnings(16, 64)).toEqual([]);
  });

  it('keeps a bound: past it a leak still warns, and a small share keeps Node’s default', async () => {
    expect(await leakWarnings(16, 65)).toHaveLength(1);
    expect(await leakWarnings(2, 11)).toHaveLength(1);
  });
});
