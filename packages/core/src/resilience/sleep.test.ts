import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';
import { sleep } from './sleep.js';

/** What an abortable sleep rejects with: an OnexError of that code. */
const onexOf = (code: ErrorCode): unknown => expect.objectContaining({ name: 'OnexError', code });

describe('sleep', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves after the delay, and not before', async () => {
    let done = false;
    const slept = sleep(1_000, new AbortController().signal).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await slept;
    expect(done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with CANCELLED as soon as the signal aborts, and clears its timer', async () => {
    const controller = new AbortController();
    const slept = sleep(60_000, controller.signal);
    const settled = expect(slept).rejects.toEqual(onexOf(ErrorCode.Cancelled));
    await vi.advanceTimersByTimeAsync(10);
    controller.abort();
    await settled;
    await expect(slept).rejects.toBeInstanceOf(OnexError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with TIMEOUT for a deadline signal, at once for one that has already aborted', async () => {
    const deadline = new AbortController();
    deadline.abort(new DOMException('Deadline exceeded', 'TimeoutError'));
    await expect(sleep(1_000, deadline.signal)).rejects.toEqual(onexOf(ErrorCode.Timeout));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('leaves no listener on a long-lived signal', async () => {
    const controller = new AbortController();
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    const slept = sleep(5, controller.signal);
    await vi.advanceTimersByTimeAsync(5);
    await slept;
    expect(add).toHaveBeenCalledTimes(1);
    expect(remove).toHaveBeenCalledTimes(1);
  });

  it('clamps delays Node would fire at once, and negative ones to 0', async () => {
    let done = false;
    void sleep(Number.MAX_SAFE_INTEGER).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(done).toBe(false);
    vi.clearAllTimers();
    const soon = sleep(-5);
    await vi.advanceTimersByTimeAsync(0);
    await expect(soon).resolves.toBeUndefined();
  });
});
