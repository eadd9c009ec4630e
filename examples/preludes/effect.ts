// Fixtures the TSDoc examples of @onex/effect may use without declaring them (see examples/README.md). Each is a
// real value; importing this file starts nothing (the SQLite database is in memory). A fragment that uses one of
// these is compiled, not run.
import Database from 'better-sqlite3';
import { z } from 'zod';
import { createNodeClient, createSilentLogger } from '@onex/core';
import {
  createEffectClient,
  createHttpEffect,
  defineEffectContract,
  defineEffectNode,
  defineOperation,
  MemoryIdempotencyStore,
  NodeEffect,
  type IdempotencyStore,
  type OperationContext,
} from '@onex/effect';
import { SqliteTransactionManager, type SqliteTransaction } from '@onex/effect/sqlite';

/** What `charge` takes. */
export const ChargeIn = z.object({ amount: z.number().positive() });
/** What `charge` answers. */
export const ChargeOut = z.object({ chargeId: z.string() });

/** `charge`: charges an amount, answers the charge's id. */
export const charge = defineOperation({
  name: 'charge',
  input: ChargeIn,
  output: ChargeOut,
  run: async ({ amount }, ctx) => ({ chargeId: `ch-${amount}-${ctx.idempotencyKey ?? 'once'}` }),
});

/** `refund`: refunds a charge. */
export const refund = defineOperation({
  name: 'refund',
  input: z.object({ chargeId: z.string() }),
  output: z.object({ refunded: z.boolean() }),
  run: async () => ({ refunded: true }),
});

/** `send`: sends a message. */
export const send = defineOperation({
  name: 'send',
  input: z.object({ to: z.string(), text: z.string() }),
  output: z.object({ messageId: z.string() }),
  run: async ({ to }) => ({ messageId: `m-${to}` }),
});

/** `credit`: credits an account, in a transaction (so exactly once with a SQLite idempotency store). */
export const credit = defineOperation({
  name: 'credit',
  input: z.object({ account: z.string(), amount: z.int().positive() }),
  output: z.object({ balance: z.int() }),
  transactional: true,
  run: async ({ account, amount }, ctx: OperationContext<SqliteTransaction>) => {
    ctx.tx.run('UPDATE accounts SET balance = balance + ? WHERE id = ?', amount, account);
    return { balance: ctx.tx.get<{ balance: number }>('SELECT balance FROM accounts WHERE id = ?', account)?.balance ?? 0 };
  },
});

/** The operations of the `payments` node. */
export const operations = [charge, refund] as const;

/** The `payments` node's definition: its name, version and operations. */
export const paymentsNode = defineEffectNode({ name: 'payments', version: '1.0.0', operations });
/** A `payments` node, not initialised. */
export const node = new NodeEffect(paymentsNode, { logger: createSilentLogger() });

/** The URL of a served `payments` node. */
export const url = 'http://127.0.0.1:4003';
/** The contract of a `payments` node serving `charge`, as callers see it. */
export const paymentsContract = defineEffectContract({ name: 'payments', version: '1.0.0', operations: [charge] });
/** The same contract, by the other name examples use. */
export const effectContract = paymentsContract;
/** A typed client of that node. */
export const payments = createEffectClient(createNodeClient(url, paymentsContract), [charge]);

/** An idempotency store (typed as the interface every store implements). */
export const store: IdempotencyStore = new MemoryIdempotencyStore();
/** An idempotency key. */
export const key = 'payments:charge:order-42';
/** A bearer token. */
export const token = 'test-token';
/** A request body. */
export const body = { amount: 10 };

/** A transaction manager over an in-memory SQLite database. */
export const transactions = new SqliteTransactionManager({ database: new Database(':memory:') });

/** An HTTP API the operations call. */
export const api = createHttpEffect({ baseUrl: 'https://api.example.com', timeoutMs: 2_000 });

/** A mail sender, as an application's own client offers one. */
export const mailer = {
  send: async (to: string, options: { readonly signal: AbortSignal; readonly idempotencyKey: string | undefined }): Promise<{ messageId: string }> => {
    options.signal.throwIfAborted();
    return { messageId: `m-${to}-${options.idempotencyKey ?? 'once'}` };
  },
};

/** The context of one attempt of an operation, as `run` receives it. */
export const ctx: OperationContext = {
  operation: 'charge',
  attempt: 1,
  tx: undefined,
  correlationId: 'c-1',
  signal: new AbortController().signal,
  deadlineAt: Date.now() + 5_000,
  idempotencyKey: key,
  caller: undefined,
  logger: createSilentLogger(),
};
