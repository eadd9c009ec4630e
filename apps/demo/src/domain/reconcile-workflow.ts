import { defineWorkflow } from '@onex/orchestrator';
import { z } from 'zod';
import { stockPeer } from './peers.js';

/** The workflow type of the books check the demo schedules (`reconcile-books`). */
export const RECONCILE_WORKFLOW = 'reconcile-books';
/** The id of the schedule that starts it, and how often (every 10 s; 6 fields: seconds first). */
export const RECONCILE_SCHEDULE = { id: 'reconcile-books', cron: '*/10 * * * * *' } as const;

/** What one books check found: per SKU, whether the stock adds up (`initial = available + reserved + committed`). */
export const Reconciliation = z.object({
  skus: z.int().nonnegative(),
  reserved: z.int().nonnegative(),
  committed: z.int().nonnegative(),
  unbalanced: z.array(z.string()),
});
/** What one books check found. */
export type Reconciliation = z.infer<typeof Reconciliation>;

/**
 * `reconcile-books`: reads the inventory's stock levels (the `stock` operation, in one transaction) and checks that
 * every SKU's units add up, while orders run. Started by the demo's schedule every 10 s; a tick while the last check
 * still runs is skipped.
 */
export const reconcileWorkflow = defineWorkflow({
  type: RECONCILE_WORKFLOW,
  version: '1.0.0',
  input: z.object({}).strict(),
  output: Reconciliation,
  timeoutMs: 30_000,
  defaults: { timeoutMs: 2_000, retry: { maxAttempts: 3, initialDelayMs: 100 } },
})
  .step('stock', { target: stockPeer, input: () => ({ operation: 'stock', input: {} }) })
  .returns(({ steps }) => {
    const items = steps.stock.result.items;
    return {
      skus: items.length,
      reserved: items.reduce((sum, i) => sum + i.reserved, 0),
      committed: items.reduce((sum, i) => sum + i.committed, 0),
      unbalanced: items.filter((i) => i.available + i.reserved + i.committed !== i.initial).map((i) => i.sku),
    };
  });
