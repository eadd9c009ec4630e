// Nodes served with `auth`: signed calls through createNodeClient pass and carry the verified caller to `process`;
// unsigned, tampered, stale and replayed requests get a sanitized 401; `requireScope` guards `configure` routes
// with a 403. No key secret and no signature ever reaches a response or a log line.
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AuthHeader, signRequest } from '../auth/request-signing.js';
import { Keyring } from '../auth/keyring.js';
import { requireScope, verifiedCaller } from '../auth/node-auth.js';
import { defineContract } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { isOnexError } from '../errors/onex-error.js';
import { createLogger } from '../logging/logger.js';
import type { CallContext, CallerIdentity } from '../node/call-context.js';
import { NodeKind } from '../node/node-kind.js';
import { NodeService } from '../node/node-service.js';
import { createNodeClient, type NodeClient } from './node-client.js';
import { readJsonBody } from './bounded-body.js';
import { serveNode, type ServedNode } from './serve-node.js';

const OLD = 'old-secret-AAAAAAAAAAAAAAAAAAAAAAAA';
const NEW = 'new-secret-BBBBBBBBBBBBBBBBBBBBBBBB';
const T0 = Date.parse('2026-12-01T00:00:00Z');
const MINUTE = 60_000;

const contract = defineContract({
  name: 'whoami',
  kind: NodeKind.Compute,
  version: '1.0.0',
  input: z.object({ n: z.number() }),
  output: z.object({ n: z.number(), caller: z.string().nullable(), scopes: z.array(z.string()), verified: z.boolean() }),
});

class Lines extends Writable {
  text = '';

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    callback();
  }
}

class WhoAmI extends NodeService<(typeof contract)['input'], (typeof contract)['output'], (typeof contract)['config']> {
  protected async process(input: { n: number }, ctx: CallContext): Promise<z.output<(typeof contract)['output']>> {
    const caller: CallerIdentity | undefined = ctx.caller;
    return { n: input.n, caller: caller?.id ?? null, scopes: [...(caller?.scopes ?? [])], verified: caller?.verified === true };
  }
}

const keyring = new Keyring([
  { id: 'old', secret: OLD, principal: 'orchestrator', notAfter: T0 + 10 * MINUTE },
  { id: 'new', secret: NEW, principal: 'orchestrator', scopes: ['workflows:admin'], notBefore: T0 - MINUTE },
]);

const served: ServedNode[] = [];
const clients: NodeClient<typeof contract>[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(served.splice(0).map((s) => s.close()));
});

async function start(clock: { now: number } = { now: T0 }, publicPaths?: readonly string[]): Promise<{ url: string; logs: Lines }> {
  const logs = new Lines();
  const logger = createLogger({ level: 'debug', destination: logs });
  const server = await serveNode(new WhoAmI(contract, { logger }), {
    logger,
    auth: { keyring, now: () => clock.now, ...(publicPaths === undefined ? {} : { publicPaths }) },
    configure: (app, { bodyLimitBytes }) => {
      app.get('/pages/:name', (c) => c.text(`page ${c.req.param('name')}`));
      app.post('/pages/:name', (c) => c.text(`posted ${c.req.param('name')}`));
      app.post('/v1/admin/echo', requireScope('workflows:admin'), async (c) => {
        const body = await readJsonBody(c, { limitBytes: bodyLimitBytes });
        if (!body.ok) throw body.error;
        return c.json({ echo: body.value, by: verifiedCaller(c)?.id ?? null });
      });
    },
  });
  served.push(server);
  return { url: server.url, logs };
}

function client(url: string, keyId: string | undefined, clock: { now: number }): NodeClient<typeof contract> {
  const c = createNodeClient(url, contract, { auth: { keyring, ...(keyId === undefined ? {} : { keyId }), now: () => clock.now } });
  clients.push(c);
  return c;
}

async function send(url: string, path: string, init: { method?: string; body?: string; headers?: Record<string, string> }): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(new URL(path, url), {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** What no response and no log line may contain. */
function expectNoSecrets(text: string, signatures: readonly string[] = []): void {
  expect(text).not.toContain(OLD);
  expect(text).not.toContain(NEW);
  for (const signature of signatures) expect(text).not.toContain(signature.slice(3));
}

describe('serveNode with auth', () => {
  it('passes signed calls and hands the verified caller and its scopes to process (x-onex-caller cannot override it)', async () => {
    const clock = { now: T0 };
    const { url, logs } = await start(clock);
    const r = await client(url, 'new', clock).call({ n: 1 }, { caller: { id: 'mallory' } });
    expect(r).toEqual({ ok: true, value: { n: 1, caller: 'orchestrator', scopes: ['workflows:admin'], verified: true } });
    const c = client(url, 'new', clock);
    expect((await c.health()).status).toBeDefined();
    expect((await c.fetchContract()).name).toBe('whoami');
    expect(await c.metrics()).toBeDefined();
    expectNoSecrets(logs.text);
  });

  it("public paths: exact ones and prefixes ending in '/' answer GETs unsigned; a POST there, or a dot-segment escape, still needs a signature", async () => {
    const { url } = await start({ now: T0 }, ['/health', '/pages/']);
    expect(await send(url, '/pages/one', {})).toMatchObject({ status: 200, text: 'page one' });
    expect((await send(url, '/health', {})).status).toBe(200);
    expect((await send(url, '/pages/one', { body: '{}' })).status).toBe(401);
    expect((await send(url, '/metrics.json', {})).status).toBe(401);
    // Sent raw (fetch would normalise it first): the server normalises the path before both the check and the
    // routing, so /pages/%2e%2e/metrics.json is /metrics.json, and needs a signature.
    for (const raw of ['/pages/%2e%2e/metrics.json', '/pages/../metrics.json']) {
      const status = await new Promise<number>((resolve, reject) => {
        const target = new URL(url);
        const req = httpRequest({ host: target.hostname, port: target.port, path: raw, method: 'GET' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status, raw).not.toBe(200);
    }
    expect((await send(url, '/pagesX/one', {})).status).toBe(401);
  });

  it('rotation: both keys pass during the overlap; after the old key expires only the new one does', async () => {
    const clock = { now: T0 + 5 * MINUTE };
    const { url, logs } = await start(clock);
    expect((await client(url, 'old', clock).call({ n: 1 })).ok).toBe(true);
    expect((await client(url, 'new', clock).call({ n: 2 })).ok).toBe(true);
    expect((await client(url, undefined, clock).call({ n: 3 })).ok).toBe(true); // newest active key: 'new'
    clock.now = T0 + 10 * MINUTE;
    // A client stuck on the old key cannot even sign; a forged old-key request is refused by the node.
    const stuck = await client(url, 'old', clock).call({ n: 4 });
    expect(!stuck.ok && stuck.error.code).toBe(ErrorCode.Unauthorized);
    const forged = signRequest(keyring.get('old')!, { method: 'GET', path: '/contract', now: clock.now });
    expect((await send(url, '/contract', { headers: forged })).status).toBe(401);
    expect((await client(url, 'new', clock).call({ n: 5 })).ok).toBe(true);
    expectNoSecrets(logs.text, [forged[AuthHeader.Signature]]);
  });

  it('answers unsigned, wrongly signed, tampered, stale and replayed requests with the same sanitized 401', async () => {
    const clock = { now: T0 };
    const { url, logs } = await start(clock);
    const key = keyring.get('new')!;
    const body = JSON.stringify({ n: 1 });
    const signed = (path: string, b: string | undefined = body, now = clock.now) => signRequest(key, { method: b === undefined ? 'GET' : 'POST', path, now, ...(b === undefined ? {} : { body: b }) });

    const replayed = signed('/v1/process');
    expect((await send(url, '/v1/process', { body, headers: replayed })).status).toBe(200);
    const attempts: { name: string; path: string; init: { body?: string; headers?: Record<string, string> } }[] = [
      { name: 'unsigned', path: '/v1/process', init: { body } },
      { name: 'unsigned, unknown route', path: '/v1/nowhere', init: {} },
      { name: 'replayed', path: '/v1/process', init: { body, headers: replayed } },
      { name: 'tampered body', path: '/v1/process', init: { body: JSON.stringify({ n: 2 }), headers: signed('/v1/process') } },
      { name: 'tampered path', path: '/v1/admin/echo', init: { body, headers: signed('/v1/process') } },
      { name: 'stale', path: '/v1/process', init: { body, headers: signed('/v1/process', body, clock.now - 6 * MINUTE) } },
      { name: 'unknown key', path: '/contract', init: { headers: { ...signed('/contract', undefined), [AuthHeader.KeyId]: 'ghost' } } },
      { name: 'wrong signature', path: '/contract', init: { headers: { ...signed('/contract', undefined), [AuthHeader.Signature]: `v1=${'x'.repeat(43)}` } } },
      { name: 'metrics unsigned', path: '/metrics', init: {} },
    ];
    const signatures = [replayed[AuthHeader.Signature]];
    for (const attempt of attempts) {
      const res = await send(url, attempt.path, attempt.init);
      const sig = attempt.init.headers?.[AuthHeader.Signature];
      if (sig !== undefined) signatures.push(sig);
      expect(res.status, attempt.name).toBe(401);
      const wire = JSON.parse(res.text) as { error: { code: string; message: string } };
      expect(wire.error.code, attempt.name).toBe(ErrorCode.Unauthorized);
      expect(['Authentication required', 'Request authentication failed'], attempt.name).toContain(wire.error.message);
      expect(res.headers.get('www-authenticate') ?? '', attempt.name).toMatch(/ONEX-HMAC-SHA256|^$/);
      expectNoSecrets(res.text + JSON.stringify([...res.headers]), signatures);
    }
    expectNoSecrets(logs.text, signatures);
    // Health stays open by default, and the node is still serving.
    expect((await send(url, '/health', {})).status).toBe(200);
    expect((await client(url, 'new', clock).call({ n: 9 })).ok).toBe(true);
  });

  it('guards configure routes with requireScope: 403 without the scope, and the body must match its signature', async () => {
    const clock = { now: T0 + 5 * MINUTE };
    const { url, logs } = await start(clock);
    const body = JSON.stringify({ hello: 'world' });
    const withScope = signRequest(keyring.get('new')!, { method: 'POST', path: '/v1/admin/echo', body, now: clock.now });
    const ok = await send(url, '/v1/admin/echo', { body, headers: withScope });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toEqual({ echo: { hello: 'world' }, by: 'orchestrator' });

    const noScope = signRequest(keyring.get('old')!, { method: 'POST', path: '/v1/admin/echo', body, now: clock.now });
    const refused = await send(url, '/v1/admin/echo', { body, headers: noScope });
    expect(refused.status).toBe(403);
    expect((JSON.parse(refused.text) as { error: { code: string } }).error.code).toBe(ErrorCode.Forbidden);

    const tampered = signRequest(keyring.get('new')!, { method: 'POST', path: '/v1/admin/echo', body, now: clock.now });
    const swapped = await send(url, '/v1/admin/echo', { body: JSON.stringify({ hello: 'mallory' }), headers: tampered });
    expect(swapped.status).toBe(401);
    expectNoSecrets(ok.text + refused.text + swapped.text + logs.text, [withScope[AuthHeader.Signature], noScope[AuthHeader.Signature], tampered[AuthHeader.Signature]]);
  });

  it('lets no secret through a client error either', async () => {
    const clock = { now: T0 + 20 * MINUTE };
    const { url } = await start(clock);
    const r = await client(url, 'old', clock).call({ n: 1 });
    expect(!r.ok && isOnexError(r.error) && r.error.code).toBe(ErrorCode.Unauthorized);
    if (!r.ok) expectNoSecrets(`${r.error.message} ${JSON.stringify(r.error)}`);
  });
});
