// Fixtures the TSDoc examples of @onex/testing may use without declaring them (see examples/README.md): a greeter
// node, a `payments` contract and a scripted peer of it, and a checkout workflow that calls it. Each is a real
// value; importing this file starts nothing. A fragment that uses one of these is compiled, not run.
import { z } from 'zod';
import { createSilentLogger, defineContract, NodeKind, NodeService } from '@onex/core';
import { defineEffectContract, defineOperation } from '@onex/effect';
import { defineWorkflow, peer as workflowPeer } from '@onex/orchestrator';
import { ScriptedPeer } from '@onex/testing';

/** The contract of the greeter node. */
export const greeterContract = defineContract({
  name: 'greeter',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ name: z.string().min(1) }),
  output: z.object({ greeting: z.string() }),
});

/** The greeter node: `{ name }` → `{ greeting: 'Hello <name>' }`. */
export class Greeter extends NodeService<typeof greeterContract.input, typeof greeterContract.output, typeof greeterContract.config> {
  constructor() {
    super(greeterContract, { logger: createSilentLogger() });
  }

  protected async process(input: { name: string }): Promise<{ greeting: string }> {
    return { greeting: `Hello ${input.name}` };
  }
}

/** What a charge answers. */
export const ChargeOut = z.object({ chargeId: z.string() });

/** `charge` of the payments node: cents → a charge id. */
export const charge = defineOperation({
  name: 'charge',
  input: z.object({ cents: z.int().positive() }),
  output: ChargeOut,
  run: async ({ cents }) => ({ chargeId: `ch-${cents}` }),
});

/** The contract of the `payments` effect node (`{ operation: 'charge', input: { cents } }` → `{ result: { chargeId } }`). */
export const paymentsContract = defineEffectContract({ name: 'payments', version: '1.0.0', operations: [charge] });

/** A scripted stand-in for the payments node, answering a charge until told otherwise. */
export const payments = new ScriptedPeer(paymentsContract).ok({ result: { chargeId: 'ch-1' } });
/** The same peer, by the shorter name examples use. */
export const peer = payments;

/** `checkout`: charges an order through the payments node. */
export const checkoutWorkflow = defineWorkflow({
  type: 'checkout',
  version: '1.0.0',
  input: z.object({ orderId: z.string(), cents: z.int().positive().default(500) }),
  output: z.object({ orderId: z.string(), chargeId: z.string() }),
})
  .step('charge', { target: workflowPeer('payments', paymentsContract), input: ({ input }) => ({ operation: 'charge' as const, input: { cents: input.cents } }) })
  .returns(({ input, steps }) => ({ orderId: input.orderId, chargeId: ChargeOut.parse(steps.charge.result).chargeId }));
