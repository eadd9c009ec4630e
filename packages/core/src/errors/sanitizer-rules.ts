// The rules of the error sanitizer, as data: the presets, the built-in text rules each one applies and the object keys
// whose values it masks. How they are applied — compiled into one expression, run to a fixed point, and walked
// through values and error chains — is in error-sanitizer.ts.

/**
 * How aggressively an {@link ErrorSanitizer} masks text.
 *
 * - `default`: credentials plus personal data (emails, IP addresses, user names in home-directory paths).
 * - `strict`: all of `default`, plus anything that looks like a long random token and numbers of 12+ digits.
 * - `lenient`: credentials only (passwords, tokens, keys, auth headers, private keys, JWTs).
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

/** What a user name in a home-directory path becomes. */
const USER_PLACEHOLDER = '[USER]';

// ---------------------------------------------------------------------------------------------------------
// Built-in text rules.
//
// Every rule is written for ONE combined, global, case-sensitive regular expression (a JavaScript regex has
// one set of flags, and Node 20 has no inline `(?i)`), so case-insensitive words are spelled out with `ci()`.
// Rules own no backreferences and no named groups, because their group numbers shift once combined.
// Catastrophic backtracking is avoided by construction: every unbounded repetition is a single character
// class whose match cannot be re-split (or an unrolled loop), and every rule that could otherwise start at
// each character of a long run is anchored with a look-behind so it starts only where such a run begins.
// ---------------------------------------------------------------------------------------------------------

/**
 * Builds the text that replaces one match of a rule from the match, the rule's own capture groups and the
 * sanitizer's replacement.
 *
 * @internal
 */
export type Replacer = (match: string, groups: readonly (string | undefined)[], replacement: string) => string;

/**
 * One built-in text rule: a regular-expression source (combined with the others into one expression) and how a
 * match is replaced.
 *
 * @internal
 */
export interface BuiltinRule {
  readonly name: string;
  readonly source: string;
  readonly replace: Replacer;
}

/** A case-insensitive spelling of a literal word: `ci('ab')` is `[aA][bB]`. */
function ci(word: string): string {
  return word.replace(/[a-z]/gi, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`);
}

const wholeMatch: Replacer = (_match, _groups, replacement) => replacement;

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

const KEY_CHAR = String.raw`[A-Za-z0-9_.\-]`;
const AUTH_SCHEMES = ['bearer', 'basic', 'digest', 'token', 'negotiate', 'bot'].map(ci).join('|');
const HEX4 = '[0-9A-Fa-f]{1,4}';

const PEM_RULE: BuiltinRule = {
  name: 'private-key',
  // The body may hold single dashes (PEM headers) but never five, so it stops at the END line, or at the
  // next BEGIN of a truncated key; a key cut off before its END line is still masked to its end.
  source: String.raw`-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY[A-Z0-9 ]{0,20}-----[^-]*(?:-(?!----)[^-]*)*(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY[A-Z0-9 ]{0,20}-----)?`,
  replace: wholeMatch,
};

const JWT_RULE: BuiltinRule = {
  name: 'jwt',
  source: String.raw`(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*`,
  replace: wholeMatch,
};

const AWS_KEY_ID_RULE: BuiltinRule = {
  name: 'aws-access-key-id',
  source: '(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[0-9A-Z]{16}',
  replace: wholeMatch,
};

const CONNECTION_STRING_RULE: BuiltinRule = {
  name: 'connection-string-password',
  // scheme://user:PASSWORD@host — the password may hold ':' and even an unencoded '@' (the last '@' before
  // the host wins), but never '/', '?', '#' or whitespace, which URL syntax reserves.
  source: String.raw`(?<![A-Za-z0-9+.\-])([A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s:/?#@]{0,256}:)[^\s/?#]{1,256}@`,
  replace: (_match, groups, replacement) => `${groups[0] ?? ''}${replacement}@`,
};

const KEY_VALUE_RULE: BuiltinRule = {
  name: 'key-value',
  // key=value, key: value, "key":"value", 'key': 'value', \"key\":\"value\" (JSON inside a JSON string) and
  // `Authorization: Bearer value`. Only the value is masked: the key keeps the message useful.
  source:
    String.raw`(?<![A-Za-z0-9_.\-])(\\?["'\x60]?${KEY_CHAR}{0,40}?(?:${SECRET_KEY_WORDS})${KEY_CHAR}{0,40}\\?["'\x60]?[ \t]{0,8}[:=][ \t]{0,16}(?:(?:${AUTH_SCHEMES})[ \t]{1,4})?)` +
    '(?:' +
    String.raw`(\\")[^"\\\r\n]*(?:\\[^"\r\n][^"\\\r\n]*)*(\\")?` +
    String.raw`|(")[^"\\\r\n]*(?:\\[^\r\n][^"\\\r\n]*)*(")?` +
    String.raw`|(')[^'\r\n]*(')?` +
    String.raw`|[^\s"'\x60,;&<>}]+` +
    ')',
  replace: (_match, groups, replacement) => {
    const [prefix, escOpen, escClose, dqOpen, dqClose, sqOpen, sqClose] = groups;
    const open = escOpen ?? dqOpen ?? sqOpen ?? '';
    const close = escClose ?? dqClose ?? sqClose ?? '';
    return `${prefix ?? ''}${open}${replacement}${close}`;
  },
};

const BEARER_RULE: BuiltinRule = {
  name: 'bearer-token',
  source: String.raw`(?<![A-Za-z0-9_])(${ci('bearer')}[ \t]+)[A-Za-z0-9\-._~+/]+=*`,
  replace: (_match, groups, replacement) => `${groups[0] ?? ''}${replacement}`,
};

const BASIC_RULE: BuiltinRule = {
  name: 'basic-auth',
  // The look-ahead tells base64 credentials from English ("Basic usage"): they hold a digit, '+', '/', '='
  // or a capital letter after the first character.
  source: String.raw`(?<![A-Za-z0-9_])((?:Basic|basic|BASIC)[ \t]+)(?=[A-Za-z]*[0-9+/=]|[A-Za-z][a-z]*[A-Z])[A-Za-z0-9+/]{4,}={0,2}`,
  replace: (_match, groups, replacement) => `${groups[0] ?? ''}${replacement}`,
};

const GENERIC_TOKEN_RULE: BuiltinRule = {
  name: 'token-after-keyword',
  // "token 3f9a…", "api key is Zm9v…", "secret: \"…\"": a long run of hex/base64 with at least one digit,
  // with any dot-separated parts that follow (a JWT after "token " goes whole, not just its header).
  source:
    String.raw`(?<![A-Za-z0-9])((?:${['token', 'key', 'secret', 'password', 'passwd', 'pwd', 'credential', 'apikey'].map(ci).join('|')})s?` +
    String.raw`(?:[ \t]{1,4}(?:(?:${['is', 'was', 'of'].map(ci).join('|')})[ \t]{1,4})?|[ \t]{0,4}[:=][ \t]{0,4})["'\x60]?)` +
    String.raw`(?=[A-Za-z+/_=\-]{0,256}[0-9])[A-Za-z0-9+/_=\-]{16,}(?:\.[A-Za-z0-9+/_=\-]+)*`,
  replace: (_match, groups, replacement) => `${groups[0] ?? ''}${replacement}`,
};

const EMAIL_RULE: BuiltinRule = {
  name: 'email',
  source: String.raw`(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9\-]{1,63}\.){1,8}[A-Za-z]{2,24}`,
  replace: wholeMatch,
};

const HOME_PATH_RULE: BuiltinRule = {
  name: 'home-directory',
  // Keeps the path's shape, hides the user name: /home/[USER]/…, /Users/[USER]/…, C:\Users\[USER]\….
  source: String.raw`(?<![A-Za-z0-9_.\-])(/home/|/Users/|[A-Za-z]:(?:\\{1,2}|/)(?:Users|users|USERS)(?:\\{1,2}|/))[^/\\\s"'\x60<>:|*?\[\]]+`,
  replace: (_match, groups) => `${groups[0] ?? ''}${USER_PLACEHOLDER}`,
};

const IPV4_OCTET = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`;
const IPV4_RULE: BuiltinRule = {
  name: 'ipv4',
  source: String.raw`(?<![A-Za-z0-9_.])(?:${IPV4_OCTET}\.){3}${IPV4_OCTET}(?![A-Za-z0-9_]|\.\d)`,
  replace: wholeMatch,
};

const IPV6_RULE: BuiltinRule = {
  name: 'ipv6',
  // The full form, or a compressed form with '::' (a lone '::' is left alone: too common in prose and code).
  source:
    String.raw`(?<![A-Za-z0-9_:.])(?:` +
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
  replace: wholeMatch,
};

const CARD_NUMBER_RULE: BuiltinRule = {
  name: 'long-number',
  source: String.raw`(?<![A-Za-z0-9_])\d(?:[ \-]?\d){11,}(?![A-Za-z0-9_])`,
  replace: wholeMatch,
};

const LONG_TOKEN_RULE: BuiltinRule = {
  name: 'long-token',
  source: String.raw`(?<![A-Za-z0-9+/_=\-])[A-Za-z0-9+/_\-]{32,}={0,2}`,
  replace: wholeMatch,
};

// Order matters only between rules that can match at the same position: the earlier one wins there.
const CREDENTIAL_RULES: readonly BuiltinRule[] = [
  PEM_RULE,
  JWT_RULE,
  AWS_KEY_ID_RULE,
  CONNECTION_STRING_RULE,
  KEY_VALUE_RULE,
  BEARER_RULE,
  BASIC_RULE,
  GENERIC_TOKEN_RULE,
];
const PERSONAL_DATA_RULES: readonly BuiltinRule[] = [EMAIL_RULE, HOME_PATH_RULE, IPV4_RULE, IPV6_RULE];
const STRICT_RULES: readonly BuiltinRule[] = [CARD_NUMBER_RULE, LONG_TOKEN_RULE];

/** The built-in text rules of each preset, in match order. @internal */
export const RULES_BY_PRESET: Readonly<Record<SanitizerPreset, readonly BuiltinRule[]>> = {
  lenient: CREDENTIAL_RULES,
  default: [...CREDENTIAL_RULES, ...PERSONAL_DATA_RULES],
  strict: [...CREDENTIAL_RULES, ...PERSONAL_DATA_RULES, ...STRICT_RULES],
};

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

/** The sensitive object keys of each preset. @internal */
export const SENSITIVE_KEYS_BY_PRESET: Readonly<Record<SanitizerPreset, readonly (string | RegExp)[]>> = {
  lenient: DEFAULT_SENSITIVE_KEYS,
  default: DEFAULT_SENSITIVE_KEYS,
  strict: [...DEFAULT_SENSITIVE_KEYS, ...STRICT_SENSITIVE_KEYS],
};

// A string shorter than this made only of [A-Za-z0-9_] cannot match any built-in rule: every rule needs a
// separator character, whitespace, or at least 12 characters (12-digit numbers; AWS key ids need 20).
/** @internal */
export const SHORT_SAFE_LENGTH = 12;
/** @internal */
export const SHORT_SAFE = /^[A-Za-z0-9_]*$/;
