// A hostile caller plants live-looking credentials where a served node echoes input back: as an unknown JSON key, as
// a wrongly typed field, as a record key (which zod puts in the path), in the route's path. None of them may
// come back in the 4xx body, nor reach a log line.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import type { WireError } from '../errors/wire-error.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { NodeKind } from '../node/node-kind.js';
import { NodeService } from '../node/node-service.js';
import { serveNode, type ServedNode } from './serve-node.js';

const contract = defineContract({
  name: 'charges',
  kind: NodeKind.Effect,
  version: '1.0.0',
  input: z.strictObject({
    amount: z.number().int(),
    currency: z.enum(['eur', 'usd']),
    metadata: z.record(z.string(), z.number()).optional(),
  }),
  output: z.object({ ok: z.boolean() }),
});

class Charges extends NodeService<(typeof contract)['input'], (typeof contract)['output'], (typeof contract)['config']> {
  constructor(logger: Logger) {
    super(contract, { logger });
  }

  protected async process(): Promise<{ ok: boolean }> {
    return { ok: true };
  }
}

class Lines extends Writable {
  text = '';

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    callback();
  }
}

// Fake but format-valid, built from parts: a payments live key, a chat bot token, an AI project key.
const SECRETS = [
  ['sk', 'live', '51Hx9TestOnly0Fake0Key0Ab12Cd34Ef56Gh78'].join('_'),
  ['xoxb', '17398442118', '2389011843021', 'Q9fYtest0nlyFakeT0ken0a'].join('-'),
  ['sk', 'proj', 'Fake0nlyT3st0K3yForTheSanitizerA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6'].join('-'),
] as const;

const served: ServedNode[] = [];
afterEach(async () => {
  await Promise.all(served.splice(0).map((s) => s.close()));
});

async function start(): Promise<{ url: string; logs: Lines }> {
  const logs = new Lines();
  const logger = createLogger({ level: 'debug', destination: logs });
  const node = new Charges(logger);
  const server = await serveNode(node, { logger });
  served.push(server);
  return { url: server.url, logs };
}

async function post(url: string, path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Record<string, string> }> {
  const res = await fetch(new URL(path, url), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, text: await res.text(), headers: Object.fromEntries(res.headers) };
}

describe('a served node echoes no planted secret', () => {
  it.each(SECRETS.map((secret) => [secret.slice(0, 8), secret] as const))('%s… in a 422 or 404 body, nor in the logs', async (_name, secret) => {
    const { url, logs } = await start();
    // Each attempt, and whether the answer names the planted value (then masked) or not at all.
    const attempts = [
      // An unknown JSON key: a strict schema names it in the message.
      [await post(url, '/v1/process', JSON.stringify({ amount: 100, currency: 'eur', [secret]: true })), true],
      // A wrongly typed field: zod names the type it got, not the value.
      [await post(url, '/v1/process', JSON.stringify({ amount: secret, currency: secret })), false],
      // A record key with a wrongly typed value: zod puts the key in the path.
      [await post(url, '/v1/process', JSON.stringify({ amount: 100, currency: 'eur', metadata: { [secret]: 'x' } })), true],
      // The route's path: not echoed at all.
      [await post(url, `/v1/${secret}`, '{}'), false],
      [await post(url, `/v1/process/${encodeURIComponent(secret)}`, '{}'), false],
      [await post(url, `/v1/%2C${encodeURIComponent(secret)}%2C`, '{}'), false],
    ] as const;
    expect(attempts.map(([a]) => a.status)).toEqual([422, 422, 422, 404, 404, 404]);
    for (const [{ text }, echoes] of attempts) {
      const error = (JSON.parse(text) as WireError).error;
      expect([ErrorCode.Validation, ErrorCode.NotFound]).toContain(error.code);
      expect(text).not.toContain(secret);
      if (echoes) expect(text).toContain('[REDACTED]');
    }
    // A correlation id shaped like a credential is replaced by a new one: neither echoed nor logged.
    const planted = await post(url, '/v1/process', JSON.stringify({ amount: 1, currency: 'eur', [secret]: 1 }), { 'x-correlation-id': secret });
    expect(planted.text).not.toContain(secret);
    expect(planted.headers['x-correlation-id']).not.toBe(secret);
    // An idempotency key or caller id shaped like one is refused (400), without echoing it.
    for (const header of ['idempotency-key', 'x-onex-caller']) {
      const refused = await post(url, '/v1/process', JSON.stringify({ amount: 1, currency: 'eur' }), { [header]: secret });
      expect(refused.status, header).toBe(400);
      expect(refused.text).not.toContain(secret);
    }
    expect(logs.text).not.toContain(secret);
  });

  it('still names what was wrong', async () => {
    const { url } = await start();
    const { status, text } = await post(url, '/v1/process', JSON.stringify({ amount: 100, currency: 'eur', amout: 1 }));
    expect(status).toBe(422);
    expect((JSON.parse(text) as WireError).error.message).toContain('amout');
  });
});
