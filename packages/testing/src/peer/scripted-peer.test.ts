import { createInProcessClient, defineContract, ErrorCode, NodeKind, RetryPolicy } from '@onex/core';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { installFakeClock, type FakeClock } from '../clock/fake-clock.js';
import { startNode } from '../node/start-node.js';
import { ScriptedOutcome, ScriptedPeer } from './scripted-peer.js';

const paymentsContract = defineContract({
  name: 'payments',
  kind: NodeKind.Effect,
  version: '1.0.0',
  input: z.object({ cents: z.int().positive() }),
  output: z.object({ chargeId: z.string() }),
});

let clock: FakeClock | undefined;
afterEach(() => {
  clock?.uninstall();
  clock = undefined;
});

async function started(peer: ScriptedPeer<typeof paymentsContract.input, typeof paymentsContract.output, typeof paymentsContract.config>) {
  await peer.initialize();
  return createInProcessClient(peer);
}

describe('ScriptedPeer', () => {
  it('answers in script order, repeats the last answer, and gives an answer added later next', async () => {
    const peer = new ScriptedPeer(paymentsContract).fail(ErrorCode.Unavailable).ok({ chargeId: 'ch-1' });
    const client = await started(peer);
    expect((await client.call({ cents: 1 })).ok).toBe(false);
    expect(await client.callOrThrow({ cents: 2 })).toEqual({ chargeId: 'ch-1' });
    expect(await client.callOrThrow({ cents: 3 })).toEqual({ chargeId: 'ch-1' });
    expect(peer.remaining).toBe(0);
    // On cue: the next call fails, and so do the ones after it.
    peer.fail(ErrorCode.Conflict);
    expect(await client.call({ cents: 4 })).toMatchObject({ ok: false, error: { code: ErrorCode.Conflict } });
    expect(await client.call({ cents: 5 })).toMatchObject({ ok: false, error: { code: ErrorCode.Conflict } });
    expect(peer.calls.map((c) => [c.n, c.input.cents, c.outcome])).toEqual([
      [1, 1, ScriptedOutcome.Failed],
      [2, 2, ScriptedOutcome.Ok],
      [3, 3, ScriptedOutcome.Ok],
      [4, 4, ScriptedOutcome.Failed],
      [5, 5, ScriptedOutcome.Failed],
    ]);
    await peer.shutdown();
  });

  it('records what each call carried: key, correlation id, caller and deadline', async () => {
    const peer = new ScriptedPeer(paymentsContract).ok({ chargeId: 'ch-1' });
    const client = await started(peer);
    const before = Date.now();
    await client.callOrThrow({ cents: 7 }, { idempotencyKey: 'wf-1:charge', correlationId: 'corr-1', caller: { id: 'checkout', kind: 'orchestrator' }, timeoutMs: 5_000 });
    const [call] = peer.calls;
    expect(call).toMatchObject({ n: 1, input: { cents: 7 }, idempotencyKey: 'wf-1:charge', correlationId: 'corr-1', caller: { id: 'checkout', kind: 'orchestrator' } });
    expect(call!.deadlineAt).toBeGreaterThanOrEqual(before + 5_000);
    expect(call!.at).toBeGreaterThanOrEqual(before);
    await peer.shutdown();
  });

  it('fails with the code, message and retry hints it was given (retryable as the code is by default)', async () => {
    const peer = new ScriptedPeer(paymentsContract)
      .fail(ErrorCode.Unavailable)
      .fail(ErrorCode.RateLimited, { message: 'slow down', retryAfterMs: 1_500 })
      .fail(ErrorCode.Unavailable, { retryable: false });
    const client = await started(peer);
    const first = await client.call({ cents: 1 });
    expect(first.ok ? undefined : first.error).toMatchObject({ code: ErrorCode.Unavailable, retryable: true, message: 'payments scripted UNAVAILABLE (call 1)' });
    const second = await client.call({ cents: 1 });
    expect(second.ok ? undefined : second.error).toMatchObject({ code: ErrorCode.RateLimited, message: 'slow down', retryAfterMs: 1_500 });
    const third = await client.call({ cents: 1 });
    expect(third.ok ? undefined : third.error).toMatchObject({ code: ErrorCode.Unavailable, retryable: false });
    await peer.shutdown();
  });

  it('timesThenOk fails n times, retryable, then answers: a client retry policy gets through', async () => {
    clock = installFakeClock();
    const peer = new ScriptedPeer(paymentsContract).timesThenOk(2, { chargeId: 'ch-2' });
    await peer.initialize();
    const client = createInProcessClient(peer, { retry: new RetryPolicy({ maxAttempts: 3, initialDelayMs: 30_000, jitter: 'none' }) });
    expect(await clock.runUntil(client.callOrThrow({ cents: 1 }))).toEqual({ chargeId: 'ch-2' });
    expect(peer.calls.map((c) => c.outcome)).toEqual([ScriptedOutcome.Failed, ScriptedOutcome.Failed, ScriptedOutcome.Ok]);
    // Every attempt of one call carries its correlation id.
    expect(new Set(peer.calls.map((c) => c.correlationId)).size).toBe(1);
    await peer.shutdown();
  });

  it('hang answers nothing until the call is aborted: TIMEOUT at its deadline, CANCELLED when the caller gives up', async () => {
    clock = installFakeClock();
    const peer = new ScriptedPeer(paymentsContract).hang();
    const client = await started(peer);
    const timedOut = client.call({ cents: 1 }, { timeoutMs: 60_000 });
    await clock.advance(59_999);
    expect(peer.calls[0]?.outcome).toBe(ScriptedOutcome.Pending);
    await clock.advance(1);
    expect(await timedOut).toMatchObject({ ok: false, error: { code: ErrorCode.Timeout } });
    await expect.poll(() => peer.calls[0]?.outcome).toBe(ScriptedOutcome.Aborted);

    const controller = new AbortController();
    const cancelled = client.call({ cents: 2 }, { signal: controller.signal });
    controller.abort();
    expect(await cancelled).toMatchObject({ ok: false, error: { code: ErrorCode.Cancelled } });
    await expect.poll(() => peer.calls[1]?.outcome).toBe(ScriptedOutcome.Aborted);
    await peer.shutdown();
  });

  it('delay answers after ms of (fake) time', async () => {
    clock = installFakeClock();
    const peer = new ScriptedPeer(paymentsContract).delay(120_000, { chargeId: 'late' });
    const client = await started(peer);
    let answered = false;
    const call = client.callOrThrow({ cents: 1 }, { timeoutMs: 600_000 }).finally(() => (answered = true));
    await clock.advance(119_000);
    expect(answered).toBe(false);
    await clock.advance(1_000);
    expect(await call).toEqual({ chargeId: 'late' });
    await peer.shutdown();
  });

  it('respond computes the answer from the call; what it throws fails the call', async () => {
    const peer = new ScriptedPeer(paymentsContract)
      .respond((input, ctx) => ({ chargeId: `ch-${input.cents}-${ctx.idempotencyKey ?? 'none'}` }))
      .respond(() => {
        throw new Error('card reader on fire');
      });
    const client = await started(peer);
    expect(await client.callOrThrow({ cents: 9 }, { idempotencyKey: 'k' })).toEqual({ chargeId: 'ch-9-k' });
    expect(await client.call({ cents: 9 })).toMatchObject({ ok: false, error: { code: ErrorCode.Internal } });
    await peer.shutdown();
  });

  it('is held to its contract: a bad input never reaches the script, a bad answer is CONTRACT', async () => {
    const peer = new ScriptedPeer(paymentsContract).respond(() => ({ chargeId: 42 }) as unknown as { chargeId: string });
    const client = await started(peer);
    expect(await client.call({ cents: -1 })).toMatchObject({ ok: false, error: { code: ErrorCode.Validation } });
    expect(peer.calls).toHaveLength(0);
    expect(await client.call({ cents: 1 })).toMatchObject({ ok: false, error: { code: ErrorCode.Contract } });
    await peer.shutdown();
  });

  it('with no answer scripted, fails INTERNAL; reset forgets the script and the calls', async () => {
    const peer = new ScriptedPeer(paymentsContract);
    const client = await started(peer);
    expect(await client.call({ cents: 1 })).toMatchObject({ ok: false, error: { code: ErrorCode.Internal } });
    peer.ok({ chargeId: 'a' }).ok({ chargeId: 'b' });
    await client.callOrThrow({ cents: 1 });
    peer.reset().ok({ chargeId: 'c' });
    expect(peer.calls).toHaveLength(0);
    expect(await client.callOrThrow({ cents: 1 })).toEqual({ chargeId: 'c' });
    await peer.shutdown();
  });

  it('refuses a negative delay and a fractional count', () => {
    const peer = new ScriptedPeer(paymentsContract);
    expect(() => peer.delay(-1, { chargeId: 'x' })).toThrow(expect.objectContaining({ code: ErrorCode.Validation }));
    expect(() => peer.timesThenOk(1.5, { chargeId: 'x' })).toThrow(expect.objectContaining({ code: ErrorCode.Validation }));
  });

  it('served over HTTP: failures cross the wire with their code, a hang meets the client deadline', async () => {
    const peer = new ScriptedPeer(paymentsContract).fail(ErrorCode.Conflict, { message: 'card declined' }).hang();
    await using served = await startNode(peer, { serve: true });
    const declined = await served.client.call({ cents: 1 });
    expect(declined.ok ? undefined : declined.error).toMatchObject({ code: ErrorCode.Conflict, message: 'card declined' });
    const hung = await served.client.call({ cents: 2 }, { timeoutMs: 200 });
    expect(hung.ok ? undefined : hung.error.code).toBe(ErrorCode.Timeout);
    await expect.poll(() => peer.calls.map((c) => c.outcome)).toEqual([ScriptedOutcome.Failed, ScriptedOutcome.Aborted]);
  });
});
