// Fixtures the TSDoc examples of @onex/orchestrator may use without declaring them (see examples/README.md): the
// contracts of an order's peers, a workflow over them, the peers' clients, a store and an orchestrator. Each is a
// real value; importing this file starts nothing (the orchestrator is not initialised). A fragment that uses one of
// these is compiled, not run.
import { z } from 'zod';
import { createNodeClient, createSilentLogger, defineContract, NodeKind, type Logger } from '@onex/core';
import { defineOrchestrator, defineWorkflow, MemoryWorkflowStore, Orchestrator, peer } from '@onex/orchestrator';

/** A logger (silent). */
export const logger: Logger = createSilentLogger();

/** An order, as the `fulfil` workflow takes it. */
export const Order = z.object({ id: z.string(), items: z.array(z.string()) });
/** What `fulfil` answers. */
export const Receipt = z.object({ chargeId: z.string() });
/** An order to fulfil. */
export const order: z.input<typeof Order> = { id: 'o-1', items: ['BOOK'] };

/** The `pricing` peer: the items of an order → its total. */
export const pricing = defineContract({
  name: 'pricing',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ items: z.array(z.string()) }),
  output: z.object({ total: z.int() }),
});
/** The `payments` peer: charges an order. */
export const payments = defineContract({
  name: 'payments',
  kind: NodeKind.Effect,
  version: '1.0.0',
  input: z.object({ orderId: z.string(), amount: z.int() }),
  output: z.object({ chargeId: z.string() }),
});
/** The refund a charge is compensated with. */
export const refunds = defineContract({
  name: 'refunds',
  kind: NodeKind.Effect,
  version: '1.0.0',
  input: z.object({ chargeId: z.string().optional() }),
  output: z.object({ refunded: z.boolean() }),
});

/** `fulfil`: prices an order, then charges it (refunded if a later step fails). */
export const fulfil = defineWorkflow({ type: 'fulfil', version: '1.0.0', input: Order, output: Receipt })
  .step('price', { target: peer('pricing', pricing), input: ({ input }) => ({ items: input.items }) })
  .step('charge', {
    target: peer('payments', payments),
    dependsOn: ['price'],
    input: ({ input, steps }) => ({ orderId: input.id, amount: steps.price.total }),
    compensate: { target: peer('payments', refunds), input: ({ output }) => ({ chargeId: output?.chargeId }) },
  })
  .returns(({ steps }) => ({ chargeId: steps.charge.chargeId }));

/** The workflows an orchestrator runs. */
export const workflows = [fulfil];

/** The peers' clients, by peer name. */
export const peers = {
  pricing: createNodeClient('http://127.0.0.1:4001', pricing),
  payments: createNodeClient('http://127.0.0.1:4003', payments),
};

/** A workflow store, in memory. */
export const store = new MemoryWorkflowStore();

/** The `fulfilment` orchestrator's definition: the workflows it runs. */
export const definition = defineOrchestrator({ name: 'fulfilment', workflows });

/** A `fulfilment` orchestrator over the store and the peers, not initialised. */
export const orchestrator = new Orchestrator(definition, { store, peers, logger });
