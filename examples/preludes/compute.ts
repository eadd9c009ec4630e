// Fixtures the TSDoc examples of @onex/compute may use without declaring them (see examples/README.md). Each is a
// real value; importing this file starts nothing. A fragment that uses one of these is compiled, not run.
import { z } from 'zod';
import { createSilentLogger, OnexWarning, type CallContext } from '@onex/core';
import { defineComputation, defineComputeNode, NodeCompute, type ComputeContext } from '@onex/compute';

/** `add`: `{ a, b }` → `{ sum }`, cached. */
export const add = defineComputation({
  name: 'add',
  input: z.object({ a: z.number(), b: z.number() }),
  output: z.object({ sum: z.number() }),
  compute: ({ a, b }) => ({ sum: a + b }),
  cache: { maxEntries: 1_000 },
});

/** `double`: a number → twice it. */
export const double = defineComputation({ name: 'double', input: z.number(), output: z.number(), compute: (n) => n * 2 });

/** An order, as the `order.quote` computation takes it. */
export const Order = z.object({ items: z.array(z.object({ sku: z.string(), qty: z.int().positive(), unitCents: z.int().nonnegative() })) });
/** A quote: the order's total. */
export const Quote = z.object({ totalCents: z.int() });

/** `order.quote`: an {@link Order} → its {@link Quote}. */
export const quoteComputation = defineComputation({
  name: 'order.quote',
  input: Order,
  output: Quote,
  compute: (order) => ({ totalCents: order.items.reduce((sum, item) => sum + item.qty * item.unitCents, 0) }),
});

/** An order to quote. */
export const order: z.input<typeof Order> = { items: [{ sku: 'BOOK', qty: 2, unitCents: 1_250 }] };

/** The `pricing` node's definition: it serves `order.quote`. */
export const pricing = defineComputeNode({ name: 'pricing', version: '1.0.0', computations: [quoteComputation] });

/** The `math` node's definition: it serves `add` and `double`. */
export const math = defineComputeNode({ name: 'math', version: '1.0.0', computations: [add, double] });
/** A `math` node, not initialised. */
export const node = new NodeCompute(math, { logger: createSilentLogger() });

/** The context of one run of a computation, as `compute` and `execute` receive it. */
export const ctx: ComputeContext & CallContext = {
  computation: 'add',
  correlationId: 'c-1',
  signal: new AbortController().signal,
  deadlineAt: undefined,
  idempotencyKey: undefined,
  caller: undefined,
  logger: createSilentLogger(),
};

/** A slow-run warning, as `onSlowComputation` receives it. */
export const warning = new OnexWarning('SLOW_COMPUTATION', "computation 'add' took 120 ms", { computation: 'add', durationMs: 120, thresholdMs: 100 });
