// A SIGSTOP at the worst moment, for the failover test: armed (the orchestrator process arms it on SIGUSR2), it holds
// the next few answers of peer calls back (a slow network for a few hundred ms), then hands them all to the engine
// and, before the engine can record any of them, stops the whole process (`kill(self, SIGSTOP)`): effects applied,
// commits not yet sent — as a long GC pause or a frozen VM would leave them. The parent sees the `trapped` line,
// keeps it stopped past the lease until the other instances have taken its workflows over, then SIGCONTs it: the
// process carries on from the very next instruction, the engine records the answers, and every one of those commits
// carries an epoch the store has moved past and must be refused (several at once: a group commit fences each alone). A SIGSTOP sent from outside instead mostly finds the process idle,
// and on SIGCONT its lease timer fires before any answer is read: it fences itself and sends nothing stale.
import type { NodeClient, NodeContract } from '@onex/core';

/** Options of {@link StopTrap.arm}. */
export interface StopTrapOptions {
  /** Answers held back before the stop. */
  readonly answers: number;
  /** The stop comes this long after the first answer held at the latest, ms. */
  readonly holdMs: number;
}

export class StopTrap {
  #armed: StopTrapOptions | undefined;
  #held: { readonly key: string; readonly release: () => void }[] = [];
  #timer: NodeJS.Timeout | undefined;

  /** The next answers stop the process. */
  arm(options: StopTrapOptions): void {
    this.#armed = options;
  }

  /** `client`, with its answers passing through the trap. */
  wrap<C extends NodeContract>(client: NodeClient<C>): NodeClient<C> {
    return {
      contract: client.contract,
      call: async (input, options) => {
        const result = await client.call(input, options);
        const armed = this.#armed;
        if (armed === undefined) return result;
        return new Promise((resolve) => {
          this.#held.push({ key: options?.idempotencyKey ?? '-', release: () => resolve(result) });
          if (this.#held.length >= armed.answers) this.#spring();
          else this.#timer ??= setTimeout(() => this.#spring(), armed.holdMs);
        });
      },
      callOrThrow: (input, options) => client.callOrThrow(input, options),
      health: () => client.health(),
      metrics: () => client.metrics(),
      fetchContract: () => client.fetchContract(),
      close: () => client.close(),
    };
  }

  /** Releases the answers held (their continuations wait in the microtask queue) and stops the process at once. */
  #spring(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armed = undefined;
    const held = this.#held.splice(0);
    for (const answer of held) answer.release();
    // Written synchronously (stdout is a pipe), with the time on the clock the fencing journals use.
    process.stdout.write(`trapped ${process.hrtime.bigint().toString()} ${held.map((answer) => answer.key).join(',')}\n`);
    process.kill(process.pid, 'SIGSTOP');
  }
}
