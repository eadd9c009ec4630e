import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, isOnexError, RetryPolicy, type OnexError } from '@onex/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestJson } from './http-json.js';

let server: Server;
let base: string;
let flaky = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const send = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    };
    switch (req.url ?? '') {
      case '/ok':
        return send(200, '{"hello":"world"}');
      case '/onex-not-found':
        return send(404, JSON.stringify({ error: { code: 'NOT_FOUND', message: 'Workflow w-1 not found', retryable: false } }));
      case '/plain-declined':
        return send(402, '{"error":"card_declined"}');
      case '/plain-unavailable':
        return send(503, '{"status":"unhealthy"}');
      case '/flaky':
        flaky += 1;
        return flaky < 3 ? send(503, '{"status":"starting"}') : send(200, '{"status":"healthy"}');
      case '/slow':
        setTimeout(() => send(200, '{}'), 500);
        return;
      default:
        return send(500, 'not json');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function failure(promise: Promise<unknown>): Promise<OnexError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isOnexError(error)) throw new Error(`expected an OnexError, got ${String(error)}`);
  return error;
}

describe('requestJson', () => {
  it('answers the parsed body', async () => {
    await expect(requestJson(`${base}/ok`)).resolves.toEqual({ hello: 'world' });
  });

  it("throws an ONEX node's wire error as that OnexError", async () => {
    const error = await failure(requestJson(`${base}/onex-not-found`));
    expect(error.code).toBe(ErrorCode.NotFound);
    expect(error.message).toBe('Workflow w-1 not found');
    expect(error.retryable).toBe(false);
  });

  it('gives any other error answer the code of its status, with the status in its context', async () => {
    const declined = await failure(requestJson(`${base}/plain-declined`));
    expect(declined.code).toBe(ErrorCode.BadRequest);
    expect(declined.context).toMatchObject({ status: 402 });
    expect(declined.message).toContain('card_declined');
    const unavailable = await failure(requestJson(`${base}/plain-unavailable`));
    expect(unavailable.code).toBe(ErrorCode.Unavailable);
    expect(unavailable.retryable).toBe(true);
    const notJson = await failure(requestJson(`${base}/nowhere`));
    expect(notJson.context).toMatchObject({ status: 500 });
  });

  it('turns a refused connection into a retryable UNAVAILABLE and a slow answer into TIMEOUT', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await failure(requestJson(`http://127.0.0.1:${port}/health`));
    expect(refused.code).toBe(ErrorCode.Unavailable);
    expect(refused.retryable).toBe(true);
    expect(refused.message).toContain('ECONNREFUSED');
    const slow = await failure(requestJson(`${base}/slow`, { timeoutMs: 50 }));
    expect(slow.code).toBe(ErrorCode.Timeout);
    expect(slow.retryable).toBe(true);
  });

  it('is cancelled by its signal', async () => {
    const controller = new AbortController();
    const pending = failure(requestJson(`${base}/slow`, { signal: controller.signal }));
    controller.abort();
    expect((await pending).code).toBe(ErrorCode.Cancelled);
  });

  it("retries through RetryPolicy's default classification", async () => {
    flaky = 0;
    const policy = new RetryPolicy({ maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 5 });
    await expect(policy.execute(() => requestJson(`${base}/flaky`))).resolves.toEqual({ status: 'healthy' });
    expect(flaky).toBe(3);
    let attempts = 0;
    const error = await failure(
      policy.execute(() => {
        attempts += 1;
        return requestJson(`${base}/onex-not-found`);
      }),
    );
    expect(error.code).toBe(ErrorCode.NotFound);
    expect(attempts).toBe(1);
  });
});
