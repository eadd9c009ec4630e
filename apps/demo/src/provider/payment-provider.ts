import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import { seededRandom } from '../runtime/seeded-random.js';
import {
  DEFAULT_PROVIDER_CONFIG,
  ProviderChargeRequest,
  ProviderConfig,
  ProviderConfigPatch,
  ProviderRefundRequest,
  type ProviderLedger,
  type ProviderLedgerEntry,
} from '../domain/payment-provider-protocol.js';

/** A running simulated payment provider. */
export interface PaymentProvider {
  readonly url: string;
  /** The current behaviour. */
  config(): ProviderConfig;
  /** Changes the behaviour (a partial config is merged). */
  configure(patch: ProviderConfigPatch): ProviderConfig;
  /** The ledger of every charge key, with counters. */
  ledger(): ProviderLedger;
  close(): Promise<void>;
}

/** Options of {@link startPaymentProvider}. */
export interface PaymentProviderOptions {
  readonly port?: number;
  readonly config?: ProviderConfigPatch;
  /** Source of randomness in [0, 1) for declines and injected errors. Default `Math.random`. */
  readonly random?: () => number;
}

const MAX_BODY = 64 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body['error'] === 'string' ? body['error'] : `HTTP ${status}`);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, { error: 'body_too_large' });
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, { error: 'invalid_json' });
  }
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpError(400, { error: 'invalid_request', issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
  return parsed.data;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Starts the simulated payment provider: `POST /charges` and `POST /refunds` (both with an `idempotency-key`
 * header), with configurable latency, decline rate, injected errors and outages, and an admin API —
 * `GET|POST /admin/config`, `GET /admin/ledger` — for scenarios and the books check.
 *
 * Its ledger is keyed by the charge's idempotency key, so a charge retried or replayed with the same key never
 * charges twice; a refund for a key never charged leaves a `voided` tombstone that refuses a late charge.
 *
 * @example
 * ```ts
 * const provider = await startPaymentProvider({ config: { declineRate: 0.1 } });
 * provider.configure({ outage: true });
 * ```
 */
export async function startPaymentProvider(options: PaymentProviderOptions = {}): Promise<PaymentProvider> {
  let config: ProviderConfig = ProviderConfig.parse({ ...DEFAULT_PROVIDER_CONFIG, ...options.config });
  const random = options.random ?? Math.random;
  const entries = new Map<string, ProviderLedgerEntry & { requests: number }>();
  const stats = { requests: 0, charges: 0, refunds: 0, declines: 0, rejectedDuringOutage: 0, injectedErrors: 0 };
  let nextCharge = 1;

  /** Outage and injected errors are decided on arrival, and have no effect: the provider did nothing. */
  const admit = async (): Promise<void> => {
    stats.requests += 1;
    if (config.outage) {
      stats.rejectedDuringOutage += 1;
      throw new HttpError(503, { error: 'provider_unavailable' }, { 'retry-after': '1' });
    }
    if (config.errorRate > 0 && random() < config.errorRate) {
      stats.injectedErrors += 1;
      throw new HttpError(500, { error: 'internal_error' });
    }
    const { min, max } = config.latencyMs;
    const wait = max > min ? randomInt(min, max + 1) : min;
    if (wait > 0) await sleep(wait);
  };

  const key = (req: IncomingMessage): string => {
    const value = req.headers['idempotency-key'];
    if (typeof value !== 'string' || value.length === 0) throw new HttpError(400, { error: 'idempotency_key_required' });
    return value;
  };

  const charge = async (req: IncomingMessage): Promise<[number, unknown]> => {
    const idempotencyKey = key(req);
    const body = parse(ProviderChargeRequest, await readJson(req));
    await admit();
    // From here to the answer nothing awaits: check and record are one step, so concurrent duplicates cannot both charge.
    const existing = entries.get(idempotencyKey);
    if (existing !== undefined) {
      existing.requests += 1;
      switch (existing.status) {
        case 'succeeded':
        case 'refunded':
          return [201, { chargeId: existing.chargeId, status: 'succeeded', amountCents: existing.amountCents }];
        case 'declined':
          return [402, { error: 'card_declined' }];
        case 'voided':
          return [409, { error: 'charge_voided' }];
      }
    }
    if (config.declineRate > 0 && random() < config.declineRate) {
      stats.declines += 1;
      entries.set(idempotencyKey, { key: idempotencyKey, orderId: body.orderId, status: 'declined', amountCents: body.amountCents, chargeId: null, requests: 1 });
      return [402, { error: 'card_declined' }];
    }
    stats.charges += 1;
    const chargeId = `ch_${String(nextCharge++).padStart(6, '0')}`;
    entries.set(idempotencyKey, { key: idempotencyKey, orderId: body.orderId, status: 'succeeded', amountCents: body.amountCents, chargeId, requests: 1 });
    return [201, { chargeId, status: 'succeeded', amountCents: body.amountCents }];
  };

  const refund = async (req: IncomingMessage): Promise<[number, unknown]> => {
    key(req);
    const body = parse(ProviderRefundRequest, await readJson(req));
    await admit();
    const existing = entries.get(body.chargeKey);
    if (existing === undefined) {
      entries.set(body.chargeKey, { key: body.chargeKey, orderId: body.orderId, status: 'voided', amountCents: 0, chargeId: null, requests: 0 });
      return [200, { status: 'no_charge', chargeId: null }];
    }
    if (existing.status === 'succeeded') {
      stats.refunds += 1;
      existing.status = 'refunded';
    }
    return [200, existing.status === 'refunded' ? { status: 'refunded', chargeId: existing.chargeId } : { status: 'no_charge', chargeId: null }];
  };

  const ledger = (): ProviderLedger => ({ entries: [...entries.values()].map((e) => ({ ...e })), stats: { ...stats } });
  const configure = (patch: ProviderConfigPatch): ProviderConfig => {
    config = ProviderConfig.parse({ ...config, ...parse(ProviderConfigPatch, patch) });
    return config;
  };

  const route = async (req: IncomingMessage): Promise<[number, unknown]> => {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (method === 'POST' && path === '/charges') return charge(req);
    if (method === 'POST' && path === '/refunds') return refund(req);
    if (method === 'GET' && path === '/health') return [200, { status: 'healthy', outage: config.outage }];
    if (method === 'GET' && path === '/admin/ledger') return [200, ledger()];
    if (method === 'GET' && path === '/admin/config') return [200, config];
    if (method === 'POST' && path === '/admin/config') return [200, configure(parse(ProviderConfigPatch, await readJson(req)))];
    return [404, { error: 'not_found' }];
  };

  const server: Server = createServer((req, res) => {
    route(req).then(
      ([status, body]) => send(res, status, body),
      (error: unknown) => {
        if (error instanceof HttpError) send(res, error.status, error.body, error.headers);
        else send(res, 500, { error: 'internal_error' });
      },
    );
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    config: () => config,
    configure,
    ledger,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Parses `--set` settings of the provider process (`latency=5..20`, `decline-rate=0.1`, `error-rate=0`, `outage=false`). */
export function providerRandomFromSettings(settings: Readonly<Record<string, string>>): (() => number) | undefined {
  const seed = settings['seed'];
  return seed === undefined ? undefined : seededRandom(Number.parseInt(seed, 10));
}

/** Parses `--set` settings of the provider process (see {@link providerConfigFromSettings}); `seed=N` makes declines reproducible. */
export function providerConfigFromSettings(settings: Readonly<Record<string, string>>): ProviderConfigPatch {
  const out: { -readonly [K in keyof ProviderConfig]?: ProviderConfig[K] } = {};
  const latency = settings['latency'];
  if (latency !== undefined) {
    const [min, max] = latency.split('..').map((v) => Number.parseInt(v, 10));
    out.latencyMs = { min: min ?? 0, max: max ?? min ?? 0 };
  }
  if (settings['decline-rate'] !== undefined) out.declineRate = Number(settings['decline-rate']);
  if (settings['error-rate'] !== undefined) out.errorRate = Number(settings['error-rate']);
  if (settings['outage'] !== undefined) out.outage = settings['outage'] === 'true';
  return ProviderConfigPatch.parse(out);
}
