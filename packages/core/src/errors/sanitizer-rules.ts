// The rules of the error sanitizer, as data: the presets and the text rules each one applies, in match order, and
// the object keys whose values it masks. How rules are applied (prefiltered by keyword, run one after the other to
// a fixed point, and walked through values and error chains) is in error-sanitizer.ts.
//
// Where the rules come from:
// - credentials with an issuer's prefix: secretlint's recommended preset (secretlint-rules.ts, a maintained
//   dependency), and token-rules.ts for the families that preset lacks;
// - the shapes no prefix tells (a value after `password=`, an `Authorization` header, a URL's password, a JWT, a
//   PEM block, an AWS key id, a card number): ONEX's own rules, below;
// - personal data (emails, phone numbers, IBANs), off unless asked for, and host details (IP addresses, user names
//   in home paths): below.
import { passesIbanChecksum, passesLuhn } from './checksums.js';
import type { PatternRule, SanitizerRule } from './sanitizer-rule.js';
import { secretlintRules } from './secretlint-rules.js';
import { TOKEN_RULES } from './token-rules.js';

/**
 * How aggressively an {@link ErrorSanitizer} masks text.
 *
 * - `lenient`: credentials only: secretlint's recommended rules, issuer-prefixed tokens, values of secret keys,
 *   auth headers, passwords in URLs, private keys, JWTs and payment card numbers (Luhn-checked).
 * - `default`: all of `lenient`, plus host details: IP addresses and user names in home-directory paths.
 * - `strict`: all of `default`, plus personal data (emails, phone numbers, IBANs), anything that looks like a long
 *   random token and numbers of 12+ digits.
 *
 * Personal data can be added to any preset with the sanitizer's `pii` option.
 *
 * @example
 * ```ts
 * import { ErrorSanitizer, SanitizerPreset } from '@onex/core';
 * const sanitizer = new ErrorSanitizer({ preset: SanitizerPreset.Strict });
 * ```
 */
export const SanitizerPreset = {
  Default: 'default',
  Strict: 'strict',
  Lenient: 'lenient',
} as const;

/**
 * One of the {@link SanitizerPreset} values.
 *
 * @example
 * ```ts
 * import type { SanitizerPreset } from '@onex/core';
 * const preset: SanitizerPreset = process.env['NODE_ENV'] === 'production' ? 'strict' : 'default';
 * ```
 */
export type SanitizerPreset = (typeof SanitizerPreset)[keyof typeof SanitizerPreset];

/**
 * The kinds of personal data the sanitizer can mask on request (its `pii` option).
 *
 * @internal
 * @example
 * ```ts
 * const kinds: readonly PiiKind[] = ['email', 'iban'];
 * ```
 */
export type PiiKind = 'email' | 'phone' | 'iban';

/** What a user name in a home-directory path becomes. */
const USER_PLACEHOLDER = '[USER]';

// ---------------------------------------------------------------------------------------------------------
// ONEX's own text rules.
//
// Each rule is one regular expression with its own flags; the words it needs are its prefilter keywords.
// Catastrophic backtracking is avoided by construction: every unbounded repetition is a single character class
// whose match cannot be re-split (or an unrolled loop), and every rule that could otherwise start at each
// character of a long run is anchored with a look-behind so it starts only where such a run begins.
// ---------------------------------------------------------------------------------------------------------

/** A case-insensitive spelling of a literal word: `ci('ab')` is `[aA][bB]` (rules here are case-sensitive). */
function ci(word: string): string {
  return word.replace(/[a-z]/gi, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`);
}

/** Words that, as (part of) a key before `=` or `:`, mark the value as a secret. */
const SECRET_KEY_WORDS = [
  ...[
    'password',
    'passwd',
    'passphrase',
    'pwd',
    'secret',
    'token',
    'apikey',
    'api_key',
    'api-key',
    'accesskey',
    'access_key',
    'access-key',
    'privatekey',
    'private_key',
    'private-key',
    'authorization',
    'credential',
    'session',
    'cookie',
    'signature',
    'connectionstring',
    'jwt',
  ].map(ci),
  // Short words only as whole key segments: `pass=` or `db_pass=`, not `passenger=`; `auth=`, not `author=`.
  `${ci('pass')}(?![A-Za-z])`,
  `${ci('auth')}(?![A-Za-z])`,
].join('|');
/** The prefilter of the key/value rule: every word above contains one of these. */
const SECRET_KEY_KEYWORDS = ['pass', 'pwd', 'secret', 'token', 'api', 'access', 'private', 'auth', 'credential', 'session', 'cookie', 'signature', 'connectionstring', 'jwt'];

const KEY_CHAR = String.raw`[A-Za-z0-9_.\-]`;
const AUTH_SCHEMES = ['bearer', 'basic', 'digest', 'token', 'negotiate', 'bot'].map(ci).join('|');
const HEX4 = '[0-9A-Fa-f]{1,4}';

const PEM_RULE: PatternRule = {
  id: 'private-key',
  keywords: ['private key'],
  // The body may hold single dashes (PEM headers) but never five, so it stops at the END line, or at the
  // next BEGIN of a truncated key; a key cut off before its END line is still masked to its end.
  pattern: String.raw`-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY[A-Z0-9 ]{0,20}-----[^-]*(?:-(?!----)[^-]*)*(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY[A-Z0-9 ]{0,20}-----)?`,
};

const JWT_RULE: PatternRule = {
  id: 'jwt',
  keywords: ['eyj'],
  pattern: String.raw`(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*`,
};

const AWS_KEY_ID_RULE: PatternRule = {
  id: 'aws-access-key-id',
  keywords: ['akia', 'asia', 'aida', 'aroa', 'agpa', 'anpa', 'anva', 'aipa'],
  pattern: '(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[0-9A-Z]{16}',
};

const CONNECTION_STRING_RULE: PatternRule = {
  id: 'connection-string-password',
  keywords: ['://'],
  // scheme://user:PASSWORD@host — the password may hold ':' and even an unencoded '@' (the last '@' before
  // the host wins), but never '/', '?', '#' or whitespace, which URL syntax reserves.
  pattern: String.raw`(?<![A-Za-z0-9+.\-])([A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s:/?#@]{0,256}:)[^\s/?#]{1,256}@`,
  replace: '$1$mask@',
};

const KEY_VALUE_RULE: PatternRule = {
  id: 'key-value',
  keywords: SECRET_KEY_KEYWORDS,
  // key=value, key: value, "key":"value", 'key': 'value', \"key\":\"value\" (JSON inside a JSON string) and
  // `Authorization: Bearer value`. Only the value is masked: the key and the quotes keep the message useful.
  pattern:
    String.raw`(?<![A-Za-z0-9_.\-])(\\?["'\x60]?${KEY_CHAR}{0,40}?(?:${SECRET_KEY_WORDS})${KEY_CHAR}{0,40}\\?["'\x60]?[ \t]{0,8}[:=][ \t]{0,16}(?:(?:${AUTH_SCHEMES})[ \t]{1,4})?)` +
    '(?:' +
    String.raw`(\\")[^"\\\r\n]*(?:\\[^"\r\n][^"\\\r\n]*)*(\\")?` +
    String.raw`|(")[^"\\\r\n]*(?:\\[^\r\n][^"\\\r\n]*)*(")?` +
    String.raw`|(')[^'\r\n]*(')?` +
    String.raw`|[^\s"'\x60,;&<>}]+` +
    ')',
  replace: '$1$2$4$6$mask$3$5$7',
};

const BEARER_RULE: PatternRule = {
  id: 'bearer-token',
  keywords: ['bearer'],
  pattern: String.raw`(?<![A-Za-z0-9_])(${ci('bearer')}[ \t]+)[A-Za-z0-9\-._~+/]+=*`,
  replace: '$1$mask',
};

const BASIC_RULE: PatternRule = {
  id: 'basic-auth',
  keywords: ['basic'],
  // The look-ahead tells base64 credentials from English ("Basic usage"): they hold a digit, '+', '/', '='
  // or a capital letter after the first character.
  pattern: String.raw`(?<![A-Za-z0-9_])((?:Basic|basic|BASIC)[ \t]+)(?=[A-Za-z]*[0-9+/=]|[A-Za-z][a-z]*[A-Z])[A-Za-z0-9+/]{4,}={0,2}`,
  replace: '$1$mask',
};

const GENERIC_TOKEN_RULE: PatternRule = {
  id: 'token-after-keyword',
  keywords: ['token', 'key', 'secret', 'pass', 'pwd', 'credential'],
  // "token 3f9a…", "api key is Zm9v…", "secret: \"…\"": a long run of hex/base64 with at least one digit,
  // with any dot-separated parts that follow (a JWT after "token " goes whole, not just its header).
  pattern:
    String.raw`(?<![A-Za-z0-9])((?:${['token', 'key', 'secret', 'password', 'passwd', 'pwd', 'credential', 'apikey'].map(ci).join('|')})s?` +
    String.raw`(?:[ \t]{1,4}(?:(?:${['is', 'was', 'of'].map(ci).join('|')})[ \t]{1,4})?|[ \t]{0,4}[:=][ \t]{0,4})["'\x60]?)` +
    String.raw`(?=[A-Za-z+/_=\-]{0,256}[0-9])[A-Za-z0-9+/_=\-]{16,}(?:\.[A-Za-z0-9+/_=\-]+)*`,
  replace: '$1$mask',
};

const PAYMENT_CARD_RULE: PatternRule = {
  id: 'payment-card',
  // 13–19 digits from a card network's range (2–6), in groups or not, that pass the Luhn check: a card number
  // is a payment credential, so every preset masks it. Epoch timestamps (which start with 1) and ids that fail
  // the check stay readable.
  // Not inside a word or a longer number (`3.14159…`, `12-4111…`), but after a path's dot (`metadata.4111…`); not
  // the all-digit head of a UUID (`41234567-8901-4006-a123-123456789abc`: the rest of a UUID follows).
  pattern: String.raw`(?<![A-Za-z0-9_+]|\d[.\-])[2-6]\d{3}(?:[ \-]?\d){9,15}(?![A-Za-z0-9_]|[.\-]\d|-[A-Fa-f][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}(?![0-9A-Za-z]))`,
  check: (match) => {
    const digits = match.replace(/[ -]/g, '').length;
    return digits >= 13 && digits <= 19 && passesLuhn(match);
  },
};

const EMAIL_RULE: PatternRule = {
  id: 'email',
  keywords: ['@'],
  pattern: String.raw`(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9\-]{1,63}\.){1,8}[A-Za-z]{2,24}`,
};

const PHONE_RULE: PatternRule = {
  id: 'phone',
  keywords: ['+', '('],
  // International numbers (`+49 30 1234 5678`, `+1-202-555-0143`, `+4930123456`) and the North American
  // `(202) 555-0143`: a plain run of digits is an id, not a phone number, so a '+' or the parentheses are required.
  // Groups after the country code are separated, so a run of digits splits one way only (no backtracking blow-up).
  pattern: String.raw`(?<![A-Za-z0-9_+])(?:\+(?:\d{7,15}|\d{1,3}(?:[ .\-]?\(\d{1,4}\))?(?:[ .\-]\d{1,5}){1,5})|\(\d{3}\)[ .\-]?\d{3}[ .\-]\d{4})(?![A-Za-z0-9_])`,
  check: (match) => {
    const digits = match.replace(/\D/g, '').length;
    return digits >= 8 && digits <= 15;
  },
};

const IBAN_RULE: PatternRule = {
  id: 'iban',
  // Country, check digits, then the account in groups of four or not; masked only when mod-97 holds.
  pattern: String.raw`(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])`,
  check: passesIbanChecksum,
};

const HOME_PATH_RULE: PatternRule = {
  id: 'home-directory',
  keywords: ['/home/', '/users', ':\\users', ':\\\\users'],
  // Keeps the path's shape, hides the user name: /home/[USER]/…, /Users/[USER]/…, C:\Users\[USER]\….
  pattern: String.raw`(?<![A-Za-z0-9_.\-])(/home/|/Users/|[A-Za-z]:(?:\\{1,2}|/)(?:Users|users|USERS)(?:\\{1,2}|/))[^/\\\s"'\x60<>:|*?\[\]]+`,
  replace: `$1${USER_PLACEHOLDER}`,
};

const IPV4_OCTET = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`;
const IPV4_RULE: PatternRule = {
  id: 'ipv4',
  keywords: ['.'],
  pattern: String.raw`(?<![A-Za-z0-9_.])(?:${IPV4_OCTET}\.){3}${IPV4_OCTET}(?![A-Za-z0-9_]|\.\d)`,
};

const IPV6_RULE: PatternRule = {
  id: 'ipv6',
  keywords: [':'],
  // The full form, or a compressed form with '::' (a lone '::' is left alone: too common in prose and code).
  // The look-ahead first lets the engine skip, with one character test, every place no address can start.
  pattern:
    String.raw`(?=[0-9A-Fa-f]{1,4}:|::)(?<![A-Za-z0-9_:.])(?:` +
    [
      `(?:${HEX4}:){7}${HEX4}`,
      `(?:${HEX4}:){1,7}:`,
      `(?:${HEX4}:){1,6}:${HEX4}`,
      `(?:${HEX4}:){1,5}(?::${HEX4}){1,2}`,
      `(?:${HEX4}:){1,4}(?::${HEX4}){1,3}`,
      `(?:${HEX4}:){1,3}(?::${HEX4}){1,4}`,
      `(?:${HEX4}:){1,2}(?::${HEX4}){1,5}`,
      `${HEX4}:(?::${HEX4}){1,6}`,
      `:(?::${HEX4}){1,7}`,
    ].join('|') +
    String.raw`)(?:%[0-9A-Za-z]{1,16})?(?![A-Za-z0-9_:]|\.\d)`,
};

const LONG_NUMBER_RULE: PatternRule = {
  id: 'long-number',
  pattern: String.raw`(?<![A-Za-z0-9_])\d(?:[ \-]?\d){11,}(?![A-Za-z0-9_])`,
};

const LONG_TOKEN_RULE: PatternRule = {
  id: 'long-token',
  pattern: String.raw`(?<![A-Za-z0-9+/_=\-])[A-Za-z0-9+/_\-]{32,}={0,2}`,
};

/**
 * The personal-data rule of each {@link PiiKind}.
 *
 * @internal
 * @example
 * ```ts
 * PII_RULES.email.id; // 'email'
 * ```
 */
export const PII_RULES: Readonly<Record<PiiKind, PatternRule>> = { email: EMAIL_RULE, phone: PHONE_RULE, iban: IBAN_RULE };

/** Every {@link PiiKind}, in match order. */
const ALL_PII: readonly PiiKind[] = ['email', 'phone', 'iban'];

/**
 * The text rules of a preset, plus the personal-data rules asked for, in match order: structural credentials first
 * (they keep the key and mask the value), then the prefixed tokens (secretlint's, then the supplement), card
 * numbers, personal data and host details, then strict's catch-alls. A new list (and new secretlint adapters) on
 * every call.
 *
 * @internal
 * @example
 * ```ts
 * rulesFor('default', ['email']).some((rule) => rule.id === 'email'); // true
 * ```
 */
export function rulesFor(preset: SanitizerPreset, pii: readonly PiiKind[]): readonly SanitizerRule[] {
  const credentials: SanitizerRule[] = [
    PEM_RULE,
    JWT_RULE,
    AWS_KEY_ID_RULE,
    CONNECTION_STRING_RULE,
    KEY_VALUE_RULE,
    BEARER_RULE,
    BASIC_RULE,
    GENERIC_TOKEN_RULE,
    ...secretlintRules(),
    ...TOKEN_RULES,
    PAYMENT_CARD_RULE,
  ];
  const host: readonly SanitizerRule[] = preset === SanitizerPreset.Lenient ? [] : [HOME_PATH_RULE, IPV4_RULE, IPV6_RULE];
  const kinds = preset === SanitizerPreset.Strict ? ALL_PII : ALL_PII.filter((kind) => pii.includes(kind));
  const personal = kinds.map((kind) => PII_RULES[kind]);
  const strict: readonly SanitizerRule[] = preset === SanitizerPreset.Strict ? [LONG_NUMBER_RULE, LONG_TOKEN_RULE] : [];
  return [...credentials, ...personal, ...host, ...strict];
}

/** Sensitive key fragments, compared against the key lower-cased with `-`, `_`, `.` and spaces removed. */
const DEFAULT_SENSITIVE_KEYS: readonly string[] = [
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'secret',
  'token',
  'apikey',
  'authorization',
  'cookie',
  'privatekey',
  'credential',
  'session',
  'accesskey',
  'connectionstring',
];
const STRICT_SENSITIVE_KEYS: readonly (string | RegExp)[] = [
  'auth',
  'signature',
  'cvv',
  'cardnumber',
  'iban',
  'ssn',
  'email',
  'phone',
  /^(?:pin|otp)$/i,
];

/** The object keys of each kind of personal data, masked whatever they hold when that kind is. */
const PII_SENSITIVE_KEYS: Readonly<Record<PiiKind, string>> = { email: 'email', phone: 'phone', iban: 'iban' };

/**
 * The sensitive object keys of a preset with the personal data asked for.
 *
 * @internal
 * @example
 * ```ts
 * sensitiveKeysFor('default', ['email']).includes('email'); // true
 * ```
 */
export function sensitiveKeysFor(preset: SanitizerPreset, pii: readonly PiiKind[]): readonly (string | RegExp)[] {
  if (preset === SanitizerPreset.Strict) return [...DEFAULT_SENSITIVE_KEYS, ...STRICT_SENSITIVE_KEYS];
  return [...DEFAULT_SENSITIVE_KEYS, ...ALL_PII.filter((kind) => pii.includes(kind)).map((kind) => PII_SENSITIVE_KEYS[kind])];
}

// A string shorter than this made only of [A-Za-z0-9_] cannot match any built-in rule: every rule needs a
// separator character, whitespace, or at least 12 characters (12-digit numbers; card numbers need 13, IBANs 15,
// AWS key ids 20, every prefixed token more). secretlint-rules.test.ts checks the preset's rules keep to it.
/** @internal */
export const SHORT_SAFE_LENGTH = 12;
/** @internal */
export const SHORT_SAFE = /^[A-Za-z0-9_]*$/;
