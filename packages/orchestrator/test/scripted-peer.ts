// A real NodeService whose behaviour a test scripts: delays, failures, and a count of executions per idempotency
// key (what an effect node that dedups would see). Used by the orchestrator's tests.
import { createInProcessClient, createSilentLogger, defineContract, ErrorCode, NodeKind, NodeService, OnexError, type CallContext } from '@onex/core';
import { onAbort } from '@onex/core/internal';
import { z } from 'zod';

export const stepContract = defineContract({
  name: 'scripted',
  kind: NodeKind.Effect,
  version: '1.0.0',
  input: z.object({ value: z.number(), tag: z.string().optional() }),
  output: z.object({ value: z.number(), by: z.string() }),
});

export interface Script {
  delayMs?: number;
  /** Fail this many times first, with this code. */
  failTimes?: number;
  failCode?: (typeof ErrorCode)[keyof typeof ErrorCode];
  /** Attempt i (1-based) fails with failSequence[i-1], when set. */
  failSequence?: (typeof ErrorCode)[keyof typeof ErrorCode][];
  /** Always fail with this code. */
  alwaysFail?: (typeof ErrorCode)[keyof typeof ErrorCode];
}

export class ScriptedPeer extends NodeService<typeof stepContract.input, typeof stepContract.output, typeof stepContract.config> {
  readonly label: string;
  script: Script;
  calls = 0;
  aborted = 0;
  readonly log: { value: number; key: string | undefined; at: number }[] = [];
  readonly executions = new Map<string, number>();

  constructor(label: string, script: Script = {}) {
    super({ ...stepContract, name: label }, { logger: createSilentLogger(), defaultTimeoutMs: 60_000 });
    this.label = label;
    this.script = script;
  }

  protected async process(input: { value: number }, ctx: CallContext): Promise<{ value: number; by: string }> {
    this.calls += 1;
    const attempt = this.calls;
    if (this.script.delayMs !== undefined && this.script.delayMs > 0) {
      await new Promise<void>((resolve, reject) => {
        let stop = (): void => undefined;
        const t = setTimeout(() => {
          stop();
          resolve();
        }, this.script.delayMs);
        stop = onAbort(ctx.signal, () => {
          this.aborted += 1;
          clearTimeout(t);
          reject(new OnexError(ErrorCode.Cancelled, 'aborted'));
        });
      });
    }
    const scripted = this.script.failSequence?.[attempt - 1];
    if (scripted !== undefined) throw new OnexError(scripted, `${this.label} scripted failure ${attempt}`);
    if (this.script.alwaysFail !== undefined) throw new OnexError(this.script.alwaysFail, `${this.label} fails`);
    if (this.script.failTimes !== undefined && attempt <= this.script.failTimes) {
      throw new OnexError(this.script.failCode ?? ErrorCode.Unavailable, `${this.label} transient failure ${attempt}`);
    }
    const key = ctx.idempotencyKey ?? '(none)';
    this.executions.set(key, (this.executions.get(key) ?? 0) + 1);
    this.log.push({ value: input.value, key: ctx.idempotencyKey, at: Date.now() });
    return { value: input.value + 1, by: this.label };
  }
}

export async function peers(...nodes: ScriptedPeer[]) {
  const clients: Record<string, ReturnType<typeof createInProcessClient<typeof stepContract.input, typeof stepContract.output, typeof stepContract.config>>> = {};
  for (const node of nodes) {
    await node.initialize();
    clients[node.label] = createInProcessClient(node);
  }
  return clients;
}
