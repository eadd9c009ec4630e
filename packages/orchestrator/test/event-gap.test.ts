// A gap in the store's event stream (its LISTEN connection dropped): the events sent meanwhile are lost, and the
// store delivers `resync` once it listens again. Invariant checked here, under a stopped fake clock (so no poll or
// lease tick can stand in for the events): after `resync`, an instance acts at once on what the lost events would
// have told it — a result waiter reads the workflow that finished elsewhere, and a workflow whose lease was given
// up is claimed and run to its end.
import { createSilentLogger } from '@onex/core';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineWorkflow, MemoryWorkflowStore, Orchestrator, peer, WorkflowStatus, type WorkflowEvent, type WorkflowStore } from '../src/index.js';
import { fakeTime, pause } from './fake-time.js';
import { peers, ScriptedPeer, stepContract } from './scripted-peer.js';

vi.setConfig({ testTimeout: 60_000 });

const HOUR = 3_600_000;
const T0 = Date.UTC(2030, 0, 1);
const time = fakeTime({ tickMs: 0, stepMs: HOUR });

const Input = z.object({ value: z.number() });
const job = defineWorkflow({ type: 'job', version: '1.0.0', input: Input, output: z.number() })
  .step('work', { target: peer('a', stepContract), timeoutMs: HOUR, input: ({ input }) => input })
  .returns(({ steps }) => steps.work.value);

/** One memory store shared by the instances, as a database would be; events reach an instance's handle unless it is cut off. */
function sharedStore(): {
  handle: (cutOff: () => boolean, afterRenewRead?: () => Promise<void>) => { store: WorkflowStore; resync: () => void };
} {
  const inner = new MemoryWorkflowStore();
  return {
    handle: (cutOff, afterRenewRead) => {
      const listeners = new Set<(event: WorkflowEvent) => void>();
      const store = new Proxy(inner, {
        get: (target, key) => {
          if (key === 'close') return async () => undefined;
          if (key === 'renew' && afterRenewRead !== undefined) {
            // A slow answer: what the renewal read is handed back only once the test lets it.
            return async (...args: Parameters<WorkflowStore['renew']>) => {
              const answer = await target.renew(...args);
              await afterRenewRead();
              return answer;
            };
          }
          if (key === 'subscribe') {
            return async (listener: (event: WorkflowEvent) => void) => {
              listeners.add(listener);
              const stop = await target.subscribe((event) => {
                if (!cutOff()) listener(event);
              });
              return async () => {
                listeners.delete(listener);
                await stop();
              };
            };
          }
          const value: unknown = Reflect.get(target, key);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      return { store, resync: () => listeners.forEach((listener) => listener({ kind: 'resync' })) };
    },
  };
}

describe('a gap in the store events, then resync', () => {
  it('wakes the result waiters and claims the given-up workflows the lost events told of', async () => {
    const clock = time.install(T0, 1_000_000);
    const a = new ScriptedPeer('a', { delayMs: HOUR }); // the first run stays in its step (the fake clock stands still)
    const clients = await peers(a);
    const db = sharedStore();
    let gap = false;
    const first = db.handle(() => false);
    const second = db.handle(() => gap);
    const options = { peers: clients, logger: createSilentLogger(), leaseMs: 4 * HOUR, clock: time.clock } as const;
    const one = time.track(new Orchestrator({ workflows: [job] }, { ...options, store: first.store, instanceId: 'one' }));
    const two = time.track(new Orchestrator({ workflows: [job] }, { ...options, store: second.store, instanceId: 'two' }));
    await one.initialize();
    await two.initialize();

    const done = await one.start('job', { value: 1 });
    const handedOver = await one.start('job', { value: 2 });
    await time.until(() => a.calls === 2, 'both runs are in their step');
    // Instance two waits for the first through the store (it runs on instance one).
    let outcome: Awaited<ReturnType<Orchestrator['result']>> | undefined;
    void two.result(done).then((o) => (outcome = o), () => undefined); // a failure shows as the wait below timing out
    await pause(20);

    // Instance two's events are cut off: it hears neither the finish nor the lease given up at shutdown.
    gap = true;
    a.script = {};
    await time.stop(one); // aborts both runs and gives their leases up
    await first.store.commit(done, (await first.store.get(done))!.epoch, { workflow: { status: WorkflowStatus.Completed, output: 2, updatedAt: clock.now() } });
    await pause(50);
    expect(outcome).toBeUndefined();
    expect((await second.store.get(handedOver))?.owner).not.toBe('two');

    // Listening again: resync. Nothing else moves (no timer is due on the stopped clock).
    gap = false;
    second.resync();
    await time.until(() => outcome !== undefined, 'the waiter read the finished workflow');
    expect(outcome).toMatchObject({ status: WorkflowStatus.Completed, output: 2 });
    await time.until(async () => (await second.store.get(handedOver))?.status === WorkflowStatus.Completed, 'instance two claimed and ran the given-up workflow');
    expect(await two.result(handedOver)).toMatchObject({ status: WorkflowStatus.Completed, output: 3 });
  });

  it('a resync during a renewal that read the store before the gap ended renews again once it is done', async () => {
    time.install(T0, 1_000_000);
    const a = new ScriptedPeer('a', { delayMs: HOUR }); // the run stays in its step (the fake clock stands still)
    const clients = await peers(a);
    const db = sharedStore();
    let gap = false;
    let hold: Promise<void> | undefined;
    const writer = db.handle(() => false);
    const held = db.handle(() => gap, () => hold ?? Promise.resolve());
    const two = time.track(
      new Orchestrator({ workflows: [job] }, { peers: clients, logger: createSilentLogger(), leaseMs: 4 * HOUR, clock: time.clock, store: held.store, instanceId: 'two' }),
    );
    await two.initialize();
    const id = await two.start('job', { value: 1 });
    await time.until(() => a.calls === 1, 'the run is in its step');
    let outcome: Awaited<ReturnType<Orchestrator['result']>> | undefined;
    void two.result(id).then((o) => (outcome = o), () => undefined); // a failure shows as the wait below timing out

    // Events are cut off. A first resync renews: that renewal reads the store, then its answer is held back.
    gap = true;
    let release: () => void = () => undefined;
    hold = new Promise<void>((resolve) => (release = resolve));
    held.resync();
    await pause(20);
    // The cancel request comes after that read, and its event is lost; the stream is back and says resync again.
    await writer.store.requestCancel(id);
    gap = false;
    held.resync();
    hold = undefined;
    release();
    // The held answer knew nothing of the cancel; the resync that came meanwhile renews once more and finds it.
    await time.until(() => outcome !== undefined, 'the run heard of its cancel request');
    expect(outcome?.status).toBe(WorkflowStatus.Cancelled);
  });
});
