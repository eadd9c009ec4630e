// The secret corpus: realistic, format-valid fake credentials of many families, each planted in the kinds of text
// an error or a log line carries, all of which must come out masked; and the false-positive corpus: ids that look
// random but are not secrets, which must come out exactly as they went in.
//
// Every secret is built at run time from parts and a seeded generator, so no literal in this file looks like a live
// credential to a push-protection scanner, and every run sees the same corpus.
//
// `SANITIZER_CORPUS_REPORT=1 pnpm vitest run packages/core/src/errors/secret-corpus.test.ts` prints which source of
// rules (secretlint's preset, the token supplement, ONEX's structural rules) masks each family on its own.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from './error-codes.js';
import { ErrorSanitizer } from './error-sanitizer.js';
import { OnexError } from './onex-error.js';
import type { SanitizerRule } from './sanitizer-rule.js';
import { rulesFor } from './sanitizer-rules.js';
import { secretlintRules } from './secretlint-rules.js';
import { TOKEN_RULES } from './token-rules.js';
import { toWireError } from './wire-error.js';

// ---------------------------------------------------------------------------------------------------------
// Building blocks: a seeded generator and the alphabets tokens are made of.
// ---------------------------------------------------------------------------------------------------------

const DIGITS = '0123456789';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = LOWER.toUpperCase();
const HEX = '0123456789abcdef';
const ALNUM = `${UPPER}${LOWER}${DIGITS}`;
const B64 = `${ALNUM}+/`;
const B64URL = `${ALNUM}-_`;

/** mulberry32: a small, seeded PRNG, so the corpus is the same on every run. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = generator(0x0e1e);
/** `n` characters drawn from `alphabet`. */
function chars(alphabet: string, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet.charAt(Math.floor(random() * alphabet.length));
  return out;
}

/** Joins parts: prefixes are written split so that no literal in this file is a whole token. */
const join = (...parts: string[]): string => parts.join('');

function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    crc ^= text.charCodeAt(i);
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function base62(value: number, width: number): string {
  let out = '';
  let rest = value;
  while (rest > 0) {
    out = (DIGITS + UPPER + LOWER).charAt(rest % 62) + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(width, '0');
}

/** A GitHub token: prefix, 30 random characters and the base62 CRC32 of both, as GitHub issues them. */
function githubToken(kind: string): string {
  const prefix = join('gh', kind, '_');
  const body = chars(ALNUM, 30);
  return `${prefix}${body}${base62(crc32(`${prefix}${body}`), 6)}`;
}

function luhnComplete(partial: string): string {
  for (let check = 0; check <= 9; check++) {
    const candidate = `${partial}${check}`;
    let sum = 0;
    [...candidate].reverse().forEach((d, i) => {
      const n = Number(d) * (i % 2 === 1 ? 2 : 1);
      sum += n > 9 ? n - 9 : n;
    });
    if (sum % 10 === 0) return candidate;
  }
  throw new Error('unreachable');
}

const group = (digits: string, sizes: readonly number[], sep: string): string => {
  const parts: string[] = [];
  let at = 0;
  for (const size of sizes) {
    parts.push(digits.slice(at, at + size));
    at += size;
  }
  return parts.join(sep);
};

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const b64url = (text: string): string => Buffer.from(text).toString('base64url');

function pem(label: string, body: string): string {
  const lines = body.match(/.{1,64}/g) ?? [];
  return [`-----BEGIN ${label}-----`, ...lines, `-----END ${label}-----`].join('\n');
}

function jwt(payload: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  return `${header}.${b64url(JSON.stringify(payload))}.${chars(B64URL, 43)}`;
}

/** A 1Password service account token: `ops_` and the base64 of a JSON object (it ends in `fQ==`). */
function onePasswordToken(): string {
  let json = JSON.stringify({ signInAddress: 'my.1password.com', userAuth: { method: 'SRPg-4096', alg: 'PBES2g-HS256', iterations: 650000, salt: chars(B64URL, 22) }, email: `${chars(LOWER, 12)}@1passwordserviceaccounts.com`, srpX: chars(HEX, 64), muk: { alg: 'A256GCM', ext: true, k: chars(B64URL, 43), key_ops: ['encrypt', 'decrypt'], kty: 'oct', kid: 'mp' }, secretKey: chars(UPPER + DIGITS, 34), throttleSecret: { seed: chars(HEX, 64), uuid: chars(UPPER + DIGITS, 26) }, deviceUuid: chars(LOWER + DIGITS, 26) });
  while (json.length % 3 !== 1) json = `${json.slice(0, -1)} }`;
  return join('ops', '_', b64(json));
}

// ---------------------------------------------------------------------------------------------------------
// The secret corpus.
// ---------------------------------------------------------------------------------------------------------

interface Secret {
  /** The credential family, for the counts and the coverage report. */
  readonly family: string;
  /** The credential itself. */
  readonly value: string;
  /** How it appears in an error (the credential somewhere inside). Default: on its own. */
  readonly text?: string;
  /** The part that must not survive, when only a part is secret (a URL's password). Default: `value`. */
  readonly secret?: string;
}

const s = (family: string, value: string, text?: string, secret?: string): Secret => ({
  family,
  value,
  ...(text === undefined ? {} : { text }),
  ...(secret === undefined ? {} : { secret }),
});

const password = (): string => `${chars(ALNUM, 10)}!${chars(DIGITS, 2)}${chars(ALNUM, 4)}`;

const pgPassword = password();
const mongoPassword = password();
const redisPassword = password();
const amqpPassword = password();
const mysqlPassword = password();
const gitPassword = password();
const ftpPassword = password();
const registryPassword = password();
const azureAccountKey = `${chars(B64, 86)}==`;
const serviceBusKey = `${chars(B64, 43)}=`;
const sasSignature = `${chars(ALNUM, 20)}%2B${chars(ALNUM, 18)}%3D`;
const discordWebhookToken = chars(B64URL, 68);
const teamsWebhookPath = join('webhookb2/', chars(HEX, 8), '-', chars(HEX, 4), '@', chars(HEX, 8), '/IncomingWebhook/', chars(HEX, 32), '/', chars(HEX, 8));
const gcpKeyBody = `MIIEvQIBADANBgkqhkiG9w0BAQEFAASC${chars(B64, 1200)}`;

const SECRETS: readonly Secret[] = [
  // Payments.
  s('stripe', join('sk', '_live_', '51', chars(ALNUM, 97))),
  s('stripe', join('sk', '_test_', chars(ALNUM, 24))),
  s('stripe', join('rk', '_live_', chars(ALNUM, 24))),
  s('stripe', join('whsec', '_', chars(ALNUM, 32))),
  s('square', join('EAAA', chars(B64URL, 60))),
  s('square', join('sq0', 'atp-', chars(B64URL, 22))),
  s('square', join('sq0', 'csp-', chars(B64URL, 43))),
  s('braintree', join('access_token', '$production$', chars(LOWER + DIGITS, 16), '$', chars(HEX, 32))),
  s('payment-card', '4111 1111 1111 1111'),
  s('payment-card', '5555-5555-5555-4444'),
  s('payment-card', '3782 822463 10005'),
  s('payment-card', '6011 1111 1111 1117'),
  s('payment-card', group(luhnComplete(`4${chars(DIGITS, 14)}`), [4, 4, 4, 4], ' ')),
  s('payment-card', group(luhnComplete(`22${chars(DIGITS, 13)}`), [4, 4, 4, 4], '-')),
  s('payment-card', luhnComplete(`5${chars(DIGITS, 14)}`)),
  // Source hosting.
  s('github', githubToken('p')),
  s('github', githubToken('o')),
  s('github', githubToken('u')),
  s('github', githubToken('s')),
  s('github', githubToken('r')),
  s('github', join('github', '_pat_', '11', chars(UPPER + DIGITS, 20), '_', chars(ALNUM, 59))),
  s('gitlab', join('glpat', '-', chars(B64URL, 20))),
  s('gitlab', join('gldt', '-', chars(B64URL, 20))),
  s('gitlab', join('glrt', '-', chars(B64URL, 27))),
  s('gitlab', join('glptt', '-', chars(HEX, 40))),
  s('gitlab', join('GR1348941', chars(B64URL, 20))),
  s('atlassian', join('ATATT3', 'xFfGF0', chars(B64URL, 176), '=', chars(HEX.toUpperCase(), 8))),
  s('atlassian', join('ATBB', chars(ALNUM, 32))),
  // Chat.
  s('slack', join('xoxb', '-', chars(DIGITS, 11), '-', chars(DIGITS, 13), '-', chars(ALNUM, 24))),
  s('slack', join('xoxp', '-', chars(DIGITS, 11), '-', chars(DIGITS, 11), '-', chars(DIGITS, 13), '-', chars(HEX, 32))),
  s('slack', join('xapp', '-1-', 'A0', chars(UPPER + DIGITS, 9), '-', chars(DIGITS, 13), '-', chars(HEX, 64))),
  s('slack', join('https://hooks.', 'slack.com/services/', 'T0', chars(UPPER + DIGITS, 8), '/B0', chars(UPPER + DIGITS, 8), '/', chars(ALNUM, 24))),
  s('discord', join(b64(`1${chars(DIGITS, 17)}`).replace(/=+$/, ''), '.G', chars(B64URL, 5), '.', chars(B64URL, 38))),
  s('discord', discordWebhookToken, join('https://discord.com/api/', 'webhooks/', '1', chars(DIGITS, 18), '/', '${value}')),
  s('telegram', join(chars(DIGITS, 10), ':AA', chars(B64URL, 33))),
  s('teams', teamsWebhookPath, join('https://onex.', 'webhook.office.com/', '${value}')),
  // AI APIs.
  s('openai', join('sk', '-proj-', chars(B64URL, 74), 'T3Blbk', 'FJ', chars(B64URL, 74))),
  s('openai', join('sk', '-svcacct-', chars(B64URL, 74), 'T3Blbk', 'FJ', chars(B64URL, 74))),
  s('openai', join('sk', '-', chars(ALNUM, 20), 'T3Blbk', 'FJ', chars(ALNUM, 20))),
  s('openai', join('sk', '-proj-', chars(B64URL, 120))),
  s('anthropic', join('sk', '-ant-', 'api03-', chars(B64URL, 93), 'AA')),
  s('anthropic', join('sk', '-ant-', 'admin01-', chars(B64URL, 93), 'AA')),
  s('groq', join('gsk', '_', chars(ALNUM, 52))),
  s('huggingface', join('hf', '_', chars(UPPER + LOWER, 34))),
  s('google-api-key', join('AI', 'za', 'Sy', chars(B64URL, 33))),
  s('google-api-key', join('AI', 'za', chars(B64URL, 35))),
  s('xai', join('xai', '-', chars(ALNUM, 80))),
  s('replicate', join('r8', '_', chars(ALNUM, 37))),
  s('perplexity', join('pplx', '-', chars(ALNUM, 48))),
  // Package registries.
  s('npm', join('npm', '_', chars(ALNUM, 36))),
  s('npm', join('npm', '_', chars(ALNUM, 36)), `//registry.npmjs.org/:_authToken=${'$'}{value}`),
  s('pypi', join('pypi', '-AgEIcHlwaS5vcmc', chars(B64URL, 70))),
  s('rubygems', join('rubygems', '_', chars(HEX, 48))),
  s('nuget', join('oy2', chars(LOWER + DIGITS, 43))),
  s('docker', join('dckr', '_pat_', chars(B64URL, 27))),
  s('crates', join('cio', chars(ALNUM, 32))),
  // Mail.
  s('sendgrid', join('SG', '.', chars(B64URL, 22), '.', chars(B64URL, 43))),
  s('mailgun', join('key', '-', chars(HEX, 32))),
  s('mailchimp', join(chars(HEX, 32), '-us', '14')),
  s('brevo', join('xkeysib', '-', chars(HEX, 64), '-', chars(ALNUM, 16))),
  s('resend', join('re', '_', chars(ALNUM, 8), '_', chars(ALNUM, 24))),
  // Cloud access keys.
  s('aws', join('AK', 'IA', chars(UPPER + DIGITS, 16))),
  s('aws', join('AS', 'IA', chars(UPPER + DIGITS, 16))),
  s('aws', chars(B64, 40), `aws_secret_access_key = ${'$'}{value}`),
  s('aws', chars(B64, 40), `AWS_SECRET_ACCESS_KEY=${'$'}{value}`),
  s('gcp', join('GOCSPX', '-', chars(B64URL, 28))),
  s('gcp', join('ya29', '.', chars(B64URL, 150))),
  s('gcp', gcpKeyBody, JSON.stringify({ type: 'service_account', project_id: 'onex-prod', private_key_id: chars(HEX, 40), private_key: `${pem('PRIVATE KEY', gcpKeyBody)}\n`, client_email: 'ledger@onex-prod.iam.gserviceaccount.com' })),
  s('azure', join(chars(ALNUM, 3), '8Q~', chars(B64URL.replace('-', '') + '~.', 34))),
  s('digitalocean', join('dop', '_v1_', chars(HEX, 64))),
  s('digitalocean', join('doo', '_v1_', chars(HEX, 64))),
  s('heroku', join('HRKU', '-AA', chars(B64URL, 58))),
  s('alibaba', join('LT', 'AI', chars(ALNUM, 20))),
  s('tencent', join('AK', 'ID', chars(ALNUM, 32))),
  // Storage and database connection strings.
  s('azure-storage', azureAccountKey, join('DefaultEndpointsProtocol=https;AccountName=onexprod;', 'AccountKey=', azureAccountKey, ';EndpointSuffix=core.windows.net')),
  s('azure-storage', serviceBusKey, join('Endpoint=sb://onex.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;', 'SharedAccessKey=', serviceBusKey)),
  s('azure-storage', sasSignature, join('https://onexprod.blob.core.windows.net/exports/ledger.csv?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-12-31T00:00:00Z&', 'sig=', sasSignature)),
  s('database-url', pgPassword, `postgres://ledger:${pgPassword}@db.internal:5432/orders`),
  s('database-url', mongoPassword, `mongodb+srv://admin:${mongoPassword}@cluster0.abcde.mongodb.net/app?retryWrites=true`),
  s('database-url', redisPassword, `redis://default:${redisPassword}@cache.internal:6379/0`),
  s('database-url', amqpPassword, `amqps://orders:${amqpPassword}@mq.example.net/vhost`),
  s('database-url', mysqlPassword, `mysql://root:${mysqlPassword}@shop-db:3306/shop`),
  // Passwords in URLs (basic auth).
  s('basic-auth-url', gitPassword, `https://deploy:${gitPassword}@git.example.com/org/repo.git`),
  s('basic-auth-url', ftpPassword, `ftp://backup:${ftpPassword}@files.example.org/nightly/`),
  s('basic-auth-url', registryPassword, `https://ci:${registryPassword}@registry.example.com/v2/`),
  // Tokens with structure.
  s('jwt', jwt({ sub: '1234567890', name: 'Ann', iat: 1733241600 })),
  s('jwt', jwt({ iss: 'supabase', ref: chars(LOWER, 20), role: 'service_role', iat: 1733241600, exp: 2048817600 })),
  s('private-key', pem('RSA PRIVATE KEY', `MIIEpAIBAAKCAQEA${chars(B64, 1560)}`)),
  s('private-key', pem('EC PRIVATE KEY', `MHcCAQEEI${chars(B64, 160)}`)),
  s('private-key', pem('OPENSSH PRIVATE KEY', `b3BlbnNzaC1rZXktdjEAAAAA${chars(B64, 360)}`)),
  s('private-key', pem('ENCRYPTED PRIVATE KEY', `MIIFHDBOBgkqhkiG9w0BBQ0w${chars(B64, 1600)}`)),
  s('private-key', pem('PGP PRIVATE KEY BLOCK', `lQOYBF${chars(B64, 900)}`)),
  // Delivery, observability and platform tokens.
  s('hashicorp-vault', join('hvs', '.', chars(B64URL, 95))),
  s('vercel', join('vcp', '_', chars(ALNUM, 24))),
  s('databricks', join('dapi', chars(HEX, 32))),
  s('grafana', join('glc', '_', chars(B64, 80), '==')),
  s('grafana', join('glsa', '_', chars(ALNUM, 32), '_', chars(HEX, 8))),
  s('figma', join('figd', '_', chars(B64URL, 40))),
  s('linear', join('lin', '_api_', chars(ALNUM, 40))),
  s('notion', join('ntn', '_', chars(DIGITS, 11), chars(ALNUM, 35))),
  s('1password', onePasswordToken()),
  s('shopify', join('shpat', '_', chars(HEX, 32))),
  s('shopify', join('shpss', '_', chars(HEX, 32))),
  s('new-relic', join('NR', 'AK-', chars(UPPER + DIGITS, 27))),
  s('sentry', join('sntry', 'u_', chars(HEX, 64))),
  s('doppler', join('dp', '.pt.', chars(ALNUM, 43))),
  s('pulumi', join('pul', '-', chars(HEX, 40))),
  s('terraform', join(chars(ALNUM, 14), '.atlas', 'v1.', chars(B64URL, 67))),
  s('postman', join('PM', 'AK-', chars(HEX, 24), '-', chars(HEX, 34))),
  s('planetscale', join('pscale', '_pw_', chars(B64URL, 43))),
  s('supabase', join('sbp', '_', chars(HEX, 40))),
  s('mapbox', join('sk', '.eyJ1IjoibWFwcy1vbmV4IiwiYSI6I', chars(B64URL, 22), '.', chars(B64URL, 22))),
  s('age', join('AGE-SECRET', '-KEY-1', chars('QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L', 58))),
  // Shapes with no prefix: values of secret keys and auth headers.
  s('generic-key-value', password(), `password=${'$'}{value}`),
  s('generic-key-value', chars(ALNUM, 32), `{"client_secret":"${'$'}{value}"}`),
  s('generic-key-value', chars(HEX, 32), `X-Api-Key: ${'$'}{value}`),
  s('auth-header', chars(B64URL, 40), `Authorization: Bearer ${'$'}{value}`),
  s('auth-header', b64(`ci-bot:${password()}`), `Authorization: Basic ${'$'}{value}`),
];

/** The contexts a secret is planted in, besides its own text: a message, an unknown JSON key, a quoted value. */
const CONTEXTS: readonly ((text: string) => string)[] = [
  (text) => text,
  (text) => `charge failed: upstream answered 401 for ${text} (attempt 2 of 3)`,
  (text) => `Validation failed: (root): Unrecognized key: ${JSON.stringify(text)}`,
  (text) => JSON.stringify({ path: ['metadata', text], message: 'Invalid input: expected string, received number' }),
  (text) => `peer said "${text}".`,
];

const textOf = (secret: Secret): string => (secret.text ?? '${value}').replace('${value}', secret.value);
const secretOf = (secret: Secret): string => secret.secret ?? secret.value;

/** The first 8-character window of `secret` that still shows in `output`, if any: a partial leak counts. */
function leakedWindow(output: string, secret: string): string | undefined {
  const size = Math.min(8, secret.length);
  for (let i = 0; i + size <= secret.length; i++) {
    const window = secret.slice(i, i + size);
    // Structural characters of a key block (dashes, line breaks) are not secret material.
    if (/^[-\s]*$|\n|-----/.test(window)) continue;
    if (output.includes(window)) return window;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// The false-positive corpus: ids, hashes and versions that must stay readable.
// ---------------------------------------------------------------------------------------------------------

const uuid = (): string => `${chars(HEX, 8)}-${chars(HEX, 4)}-4${chars(HEX, 3)}-${'89ab'.charAt(Math.floor(random() * 4))}${chars(HEX, 3)}-${chars(HEX, 12)}`;
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

const FALSE_POSITIVES: readonly string[] = [
  // UUIDs whose first groups are all digits that pass the Luhn check (about 1 random UUID in 40 000): an
  // idempotency key `<uuid>:<step>` of such a workflow was refused as a credential.
  '41234567-8901-4006-a123-123456789abc',
  '41234567-8901-4006-a123-123456789abc:charge',
  '52345678-9012-4345-b678-0123456789ab',
  uuid(),
  uuid(),
  uuid().toUpperCase(),
  `{${uuid()}}`,
  '0190a7e2-7c3d-7b1a-9f2e-5d4c3b2a1f0e',
  chars(HEX, 40),
  chars(HEX, 40),
  chars(HEX, 7),
  chars(HEX, 64),
  sha256('order 42'),
  `sha256:${chars(HEX, 64)}`,
  `sha512-${b64(chars(ALNUM, 64))}`,
  chars(HEX, 32),
  chars(HEX, 128),
  chars(HEX, 24),
  '01ARZ3NDEKTSV4RRFFQ69G5FAV',
  '0ujsswThIGTUYm2K8FjOOfXtY1K',
  'V1StGXR8_Z5jdHi6B-myT',
  'ord_2024_000123',
  'ORD-2024-000123',
  'inv_2024_01_0042',
  'cus_NffrFeUfNV2Hib',
  'ch_3MmlLrLkdIwHu7ix0snN0B15',
  'pi_3NpY8vLkdIwHu7ix1Qz8aBcD',
  'evt_1NG8Du2eZvKYlo2CUI79vXWy',
  'req_9LkqbhGZ3kDGpC',
  'c-7f3a9e21',
  'orders-7d4b9c5f8-x2x9z',
  '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  '00f067aa0ba902b7',
  '2024-01-15',
  '2024-01-15T10:00:00Z',
  '2024-01-15T10:00:00.123+01:00',
  '1733241600000',
  '1733241600',
  '1.2.3',
  '2.0.0-rc.1+build.5',
  'v20.19.0',
  b64('hello world'),
  b64('Order shipped to warehouse B'),
  b64('The quick brown fox'),
  b64url('{"page":2,"size":50}'),
  '978-3-16-148410-0',
  '4000 1234 5678 9011',
  '1234567890123456789',
  'arn:aws:sqs:eu-west-1:123456789012:orders',
  'aa:bb:cc:dd:ee:ff',
  '#1a2b3c',
  'SKU-88213-BLK-XL',
  'E11000',
  'insufficient_funds',
  'PaymentDeclined',
  'HTTP 503 after 3 retries',
  'https://api.example.com/v1/orders/ord_2024_000123?page=2',
  '/var/lib/onex/ledger.db',
  'kid-2024-11-rotation',
  'idem_5f2c9a1e-retry-2',
  'Ledger.balance(account=acct_001, currency=EUR)',
];

/** The contexts an id is planted in: a message and a JSON detail. */
const ID_CONTEXTS: readonly ((id: string) => string)[] = [
  (id) => id,
  (id) => `order ${id} failed: peer answered 503 (attempt 2 of 3)`,
  (id) => JSON.stringify({ path: 'orderId', message: `no such order: ${id}` }),
];

// ---------------------------------------------------------------------------------------------------------

const sanitizer = new ErrorSanitizer();
const withPii = new ErrorSanitizer({ pii: true });
const lenient = new ErrorSanitizer({ preset: 'lenient' });
const families = new Set(SECRETS.map((secret) => secret.family));

describe('the secret corpus', () => {
  it('has at least 80 secrets across at least 25 families', () => {
    expect(SECRETS.length).toBeGreaterThanOrEqual(80);
    expect(families.size).toBeGreaterThanOrEqual(25);
  });

  it.each(SECRETS.map((secret, i) => [`${i}: ${secret.family}`, secret] as const))('masks %s in every context, whole', (_name, secret) => {
    for (const context of CONTEXTS) {
      const text = context(textOf(secret));
      for (const s of [sanitizer, withPii, lenient]) {
        const out = s.sanitizeText(text);
        expect(leakedWindow(out, secretOf(secret)), out).toBeUndefined();
        expect(s.sanitizeText(out)).toBe(out);
      }
    }
  });

  it('masks them in errors: message, details, context, causes and the wire shape', () => {
    for (const secret of SECRETS) {
      const text = textOf(secret);
      const error = new OnexError(ErrorCode.Validation, `Validation failed: ${text}`, {
        details: [{ path: `metadata.${text}`, message: `Unrecognized key: "${text}"` }],
        context: { received: text, nested: { list: [text] } },
        cause: new Error(`peer rejected ${text}`),
      });
      const wire = JSON.stringify(toWireError(error, { sanitize: sanitizer.forWire, exposeForeignMessages: true }));
      const logged = JSON.stringify(sanitizer.sanitizeError(error));
      for (const out of [wire, logged]) expect(leakedWindow(out, secretOf(secret)), `${secret.family}: ${out}`).toBeUndefined();
    }
  });
});

describe('the false-positive corpus', () => {
  it('has at least 50 ids', () => {
    expect(FALSE_POSITIVES.length).toBeGreaterThanOrEqual(50);
  });

  it.each(FALSE_POSITIVES.map((id) => [id] as const))('leaves %s readable (default preset and with PII masking)', (id) => {
    for (const context of ID_CONTEXTS) {
      const text = context(id);
      expect(sanitizer.sanitizeText(text)).toBe(text);
      expect(withPii.sanitizeText(text)).toBe(text);
    }
  });

  it('masks a card number followed by a dash and a word, though it keeps a UUID with an all-digit head', () => {
    expect(sanitizer.sanitizeText('card 4111-1111-1111-1111-exp 12/30')).toBe('card [REDACTED]-exp 12/30');
    expect(sanitizer.sanitizeText('card 4111 1111 1111 1111-abcd-ef')).toBe('card [REDACTED]-abcd-ef');
    expect(sanitizer.sanitizeText('workflow 41234567-8901-4006-a123-123456789abc:charge')).toBe('workflow 41234567-8901-4006-a123-123456789abc:charge');
  });

  it('keeps ids readable next to a masked secret', () => {
    const id = 'ord_2024_000123';
    const key = join('sk', '_live_', chars(ALNUM, 24));
    expect(sanitizer.sanitizeText(`order ${id} charged with ${key}`)).toBe(`order ${id} charged with [REDACTED]`);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Which source of rules masks what: each family's secrets on their own, against each rule table alone.
// ---------------------------------------------------------------------------------------------------------

/** Whether `rules`, each applied alone, mask the secret part of `text` whole. */
function masksAlone(rules: readonly SanitizerRule[], text: string, secret: string): boolean {
  for (const rule of rules) {
    let out = text;
    if ('scan' in rule) {
      const ranges = [...rule.scan(text)].sort((a, b) => b[0] - a[0]);
      for (const [start, end] of ranges) out = `${out.slice(0, start)}[REDACTED]${out.slice(end)}`;
    } else {
      out = text.replace(new RegExp(rule.pattern, `${rule.flags ?? ''}g`), (match) => (rule.check === undefined || rule.check(match) ? '[REDACTED]' : match));
    }
    if (leakedWindow(out, secret) === undefined) return true;
  }
  return false;
}

describe('the prefilter', () => {
  const finds = (rule: SanitizerRule, text: string): boolean =>
    'scan' in rule ? rule.scan(text).length > 0 : [...text.matchAll(new RegExp(rule.pattern, `${rule.flags ?? ''}g`))].some(([match]) => rule.check === undefined || rule.check(match));

  it('never hides a text from a rule that would mask something in it: every hit carries one of its keywords', () => {
    const rules = rulesFor('strict', ['email', 'phone', 'iban']).filter((rule) => rule.keywords !== undefined);
    for (const rule of rules) {
      for (const secret of SECRETS) {
        for (const context of CONTEXTS) {
          const text = context(textOf(secret));
          if (!finds(rule, text)) continue;
          expect(rule.keywords?.some((keyword) => text.toLowerCase().includes(keyword)), `${rule.id} on ${secret.family}`).toBe(true);
        }
      }
    }
  });
});

describe('coverage by source', () => {
  const preset = secretlintRules();
  const onexIds = new Set([...preset.map((r) => r.id), ...TOKEN_RULES.map((r) => r.id)]);
  const onex = rulesFor('lenient', []).filter((rule) => !onexIds.has(rule.id));
  const sources = { secretlint: preset, supplement: TOKEN_RULES, onex } as const;

  it('every secret is masked by some rule on its own, and each source of rules masks some family no other does', () => {
    const byFamily = new Map<string, Record<keyof typeof sources, number>>();
    for (const secret of SECRETS) {
      const row = byFamily.get(secret.family) ?? { secretlint: 0, supplement: 0, onex: 0 };
      const hits = (Object.keys(sources) as (keyof typeof sources)[]).filter((source) => masksAlone(sources[source], textOf(secret), secretOf(secret)));
      expect(hits, secret.family).not.toEqual([]);
      for (const source of hits) row[source] += 1;
      byFamily.set(secret.family, row);
    }
    const only = (source: keyof typeof sources): string[] =>
      [...byFamily].filter(([, row]) => row[source] > 0 && Object.entries(row).every(([other, n]) => other === source || n === 0)).map(([family]) => family);
    expect(only('secretlint')).not.toEqual([]);
    expect(only('supplement')).not.toEqual([]);
    expect(only('onex')).not.toEqual([]);
    if (process.env['SANITIZER_CORPUS_REPORT'] === '1') {
      const total = (source: keyof typeof sources): number => SECRETS.filter((secret) => masksAlone(sources[source], textOf(secret), secretOf(secret))).length;
      console.log(`secrets ${SECRETS.length}, families ${families.size}, false positives ${FALSE_POSITIVES.length}`);
      for (const source of Object.keys(sources) as (keyof typeof sources)[]) {
        console.log(`${source}: masks ${total(source)}/${SECRETS.length} secrets on its own; the only source for: ${only(source).join(', ')}`);
      }
      console.table(Object.fromEntries(byFamily));
    }
  });
});
