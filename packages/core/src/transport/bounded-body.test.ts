import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '../contract/contract.js';
import { ErrorCode } from '../errors/error-codes.js';
import { createSilentLogger } from '../logging/logger.js';
import { NodeKind } from '../node/node-kind.js';
import { NodeService } from '../node/node-service.js';
import { BodyReadFailure, readBoundedBody, readJsonBody, type BodyRead } from './bounded-body.js';
import { serveNode, type NodeAppSettings, type ServedNode } from './serve-node.js';

const contract = defineContract({ name: 'echo', kind: NodeKind.Compute, version: '1.0.0', input: z.object({ text: z.string() }), output: z.object({ text: z.string() }) });

class Echo extends NodeService<(typeof contract)['input'], (typeof contract)['output'], (typeof contract)['config']> {
  constructor() {
    super(contract, { logger: createSilentLogger() });
  }
  protected process(input: { text: string }): Promise<{ text: string }> {
    return Promise.resolve(input);
  }
}

const servers: Server[] = [];
const served: ServedNode[] = [];
afterEach(async () => {
  await Promise.all(served.splice(0).map((s) => s.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A raw server whose every request body goes through `readBoundedBody`; `reads` are what it read, in order. */
async function readingServer(limitBytes: number, onRead: () => void = () => undefined): Promise<{ url: string; reads: Promise<BodyRead>[] }> {
  const reads: Promise<BodyRead>[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const read = readBoundedBody(req, limitBytes);
    reads.push(read);
    onRead();
    void read.then((r) => res.writeHead(r.ok ? 200 : 413, { connection: r.ok ? 'keep-alive' : 'close' }).end(), () => res.destroy());
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, reads };
}

function post(url: string, write: (req: ReturnType<typeof request>) => void, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    write(req);
  });
}

describe('issue 9 #14: readBoundedBody', () => {
  it('reads a body within the limit, and refuses one over it, declared or streamed', async () => {
    const { url, reads } = await readingServer(1024);
    expect(await post(url, (req) => req.end('x'.repeat(1024)))).toBe(200);
    const first = await reads[0];
    expect(first?.ok === true && first.body.length).toBe(1024);

    expect(await post(url, (req) => req.end('x'.repeat(1025)))).toBe(413);
    expect(await reads[1]).toEqual({ ok: false, failure: BodyReadFailure.TooLarge });

    // Chunked: the limit is counted while streaming.
    const streamed = await post(url, (req) => {
      req.write(Buffer.alloc(800, 'x'));
      req.write(Buffer.alloc(800, 'x'));
      req.end();
    });
    expect(streamed).toBe(413);
    expect(await reads[2]).toEqual({ ok: false, failure: BodyReadFailure.TooLarge });
  });

  it('reports a body cut short by a disconnect as closed', async () => {
    let reading: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (reading = resolve));
    const { url, reads } = await readingServer(1024 * 1024, () => reading());
    const req = request(url, { method: 'POST', headers: { 'content-length': '1000' } });
    req.on('error', () => undefined);
    req.write('partial');
    await started;
    req.destroy();
    expect(await reads[0]).toEqual({ ok: false, failure: BodyReadFailure.Closed });
  });
});

describe('issue 9 #14: readJsonBody in a configured route', () => {
  it("enforces the app's bodyLimitBytes handed to configure, with typed errors", async () => {
    let settings: NodeAppSettings | undefined;
    const node = await serveNode(new Echo(), {
      bodyLimitBytes: 256,
      configure: (app, given) => {
        settings = given;
        app.post('/v1/echo', async (c) => {
          const body = await readJsonBody(c, { limitBytes: given.bodyLimitBytes });
          if (!body.ok) throw body.error;
          return c.json({ echo: body.value });
        });
      },
    });
    served.push(node);
    expect(settings).toEqual({ bodyLimitBytes: 256 });
    const call = async (body: string, type = 'application/json'): Promise<{ status: number; code: unknown }> => {
      const res = await fetch(`${node.url}/v1/echo`, { method: 'POST', headers: { 'content-type': type }, body });
      const json = (await res.json()) as { error?: { code: string } };
      return { status: res.status, code: json.error?.code };
    };
    expect(await call('{"a":1}')).toMatchObject({ status: 200 });
    expect(await call(JSON.stringify({ a: 'x'.repeat(300) }))).toMatchObject({ status: 413, code: ErrorCode.PayloadTooLarge });
    expect(await call('{"a":')).toMatchObject({ status: 400, code: ErrorCode.BadRequest });
    expect(await call('{"a":1}', 'text/plain')).toMatchObject({ status: 415, code: ErrorCode.UnsupportedMediaType });
  });
});
