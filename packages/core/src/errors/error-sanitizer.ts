import { isOnexError } from './onex-error.js';
import type { MaskRange, PatternRule, SanitizerRule, ScannerRule } from './sanitizer-rule.js';
import { rulesFor, SanitizerPreset, sensitiveKeysFor, SHORT_SAFE, SHORT_SAFE_LENGTH, type PiiKind } from './sanitizer-rules.js';

// The error sanitizer's machinery: its options, the text masker (the preset's rules, each behind its keyword
// prefilter, applied one after the other to a fixed point) and the walker that copies values and error chains with
// every secret masked. The rules themselves, as data, are in sanitizer-rules.ts and the tables it draws on.

/**
 * A custom masking rule, applied before the preset's rules.
 *
 * `replacement` follows `String.prototype.replace`: a string may use `$1`-style references; a function gets
 * the match and its capture groups (unmatched groups as `''`). Without it the whole match becomes the
 * sanitizer's replacement. A function that throws masks the whole match.
 *
 * @example
 * ```ts
 * const orderIds: SanitizerPattern = { name: 'order-id', pattern: /ORD-\d{6}/, replacement: 'ORD-******' };
 * new ErrorSanitizer({ patterns: [orderIds] }).sanitizeText('failed ORD-123456'); // 'failed ORD-******'
 * ```
 */
export interface SanitizerPattern {
  /** A short name for the rule, for humans reading the configuration. */
  readonly name: string;
  /** What to mask. The `g` flag is added if missing; a `y` flag is dropped. */
  readonly pattern: RegExp;
  /** What to put in place of a match. Default: the sanitizer's `replacement`. */
  readonly replacement?: string | ((match: string, ...groups: string[]) => string);
}

/**
 * Options of an {@link ErrorSanitizer}.
 *
 * @example
 * ```ts
 * new ErrorSanitizer({ preset: 'lenient', sensitiveKeys: ['ssn', /^x-internal-/i], maxDepth: 4 });
 * ```
 */
export interface ErrorSanitizerOptions {
  /** The built-in rule set. Default: `'default'`. */
  readonly preset?: SanitizerPreset;
  /**
   * Personal data to mask besides the preset's rules: `true` for all of emails, phone numbers (international or
   * `(202) 555-0143` forms) and IBANs (mod-97 checked), or a list of those kinds. Their object keys (`email`,
   * `phone`, `iban`) are then masked too. Default: off (the `strict` preset turns all of them on). Card numbers are
   * not personal data here but payment credentials: every preset masks those that pass the Luhn check.
   */
  readonly pii?: boolean | readonly ('email' | 'phone' | 'iban')[];
  /** Extra text rules, run before the preset's. */
  readonly patterns?: readonly SanitizerPattern[];
  /**
   * Extra object keys whose values are masked whatever they hold, added to the preset's. A string matches
   * any key that contains it, ignoring case and `-`, `_`, `.` and spaces (`'apiKey'` matches `x-api-key`);
   * a RegExp is tested against the key as written.
   */
  readonly sensitiveKeys?: readonly (string | RegExp)[];
  /** What a masked secret becomes. Default: `'[REDACTED]'`. */
  readonly replacement?: string;
  /** How many levels of objects and error causes are copied; deeper ones become `'[MaxDepth]'`. Default: 8. */
  readonly maxDepth?: number;
  /** Longer strings are cut to this many characters before masking. Default: 10 000. */
  readonly maxStringLength?: number;
  /** How many entries of one array, object, Map or Set are copied; the rest are summarised. Default: 1 000. */
  readonly maxEntries?: number;
}

/**
 * A plain, JSON-safe description of an error with every secret masked: what {@link ErrorSanitizer.sanitizeError}
 * returns and what the logger writes for `err`.
 *
 * @example
 * ```ts
 * const shape: SanitizedError = new ErrorSanitizer().sanitizeError(new Error('pwd=1', { cause: 'token: t' }));
 * // { name: 'Error', message: 'pwd=[REDACTED]', cause: 'token: [REDACTED]', stack: '…' }
 * ```
 */
export interface SanitizedError {
  /** The error's name (`TypeError`, `OnexError`, …), or `'NonError'` for a thrown non-error value. */
  readonly name: string;
  /** The masked message. */
  readonly message: string;
  /** The error's code: an ONEX {@link ErrorCode} or a Node system code such as `ECONNREFUSED`. */
  readonly code?: string;
  /** The masked stack. */
  readonly stack?: string;
  /**
   * The masked cause: a {@link SanitizedError} when the cause is an error, else the masked value, or
   * `'[MaxDepth]'` past `maxDepth`. (Typed `unknown`: `SanitizedError | unknown` collapses to it anyway.)
   */
  readonly cause?: unknown;
  /** Masked structured facts: an {@link OnexError}'s `context`, or a foreign error's extra own properties. */
  readonly context?: unknown;
  /** Masked `details` of an {@link OnexError} (validation issues and the like). */
  readonly details?: unknown;
  /** The masked inner errors of an `AggregateError`: {@link SanitizedError}s, or masked values for non-errors. */
  readonly errors?: readonly unknown[];
}

/**
 * Bound text and value maskers, in the shape `toWireError`'s `sanitize` option expects.
 *
 * @example
 * ```ts
 * const { text, value }: WireSanitize = new ErrorSanitizer().forWire;
 * text('token=abc'); // 'token=[REDACTED]'
 * ```
 */
export interface WireSanitize {
  readonly text: (text: string) => string;
  readonly value: (value: unknown) => unknown;
}

const DEFAULT_REPLACEMENT = '[REDACTED]';
const CIRCULAR = '[Circular]';
const MAX_DEPTH = '[MaxDepth]';
const UNREADABLE = '[Unreadable]';

/** Built-in passes over one string, at most (see `#mask`). */
const MAX_PASSES = 4;

/** Characters of context kept before a cut, at most, when a long string is truncated mid-token. */
const TRUNCATE_BACKOFF = 256;

/** One rule, ready to run: its prefilter and a function from a text to the text with the rule's matches masked. */
interface CompiledRule {
  readonly id: string;
  readonly keywords: readonly string[] | undefined;
  readonly apply: (text: string, replacement: string) => string;
}

function countGroups(source: string, flags = ''): number {
  // An alternative that matches the empty string makes exec() report every group of `source`.
  return (new RegExp(`${source}|`, flags.replace(/[gy]/g, '')).exec('')?.length ?? 1) - 1;
}

/** A part of a replacement template: literal text, a group number, or the mask. */
type TemplatePart = string | number | typeof MASK_PART;
const MASK_PART = Symbol('mask');

function parseTemplate(template: string, groups: number): readonly TemplatePart[] {
  const parts: TemplatePart[] = [];
  for (const piece of template.split(/(\$mask|\$[1-9])/)) {
    if (piece === '') continue;
    if (piece === '$mask') parts.push(MASK_PART);
    else if (/^\$[1-9]$/.test(piece) && Number(piece.slice(1)) <= groups) parts.push(Number(piece.slice(1)));
    else parts.push(piece);
  }
  return parts;
}

function isScanner(rule: SanitizerRule): rule is ScannerRule {
  return 'scan' in rule;
}

function compileRule(rule: SanitizerRule): CompiledRule {
  const keywords = rule.keywords === undefined || rule.keywords.length === 0 ? undefined : rule.keywords;
  return { id: rule.id, keywords, apply: isScanner(rule) ? scannerApply(rule) : patternApply(rule) };
}

function patternApply(rule: PatternRule): CompiledRule['apply'] {
  const flags = `${(rule.flags ?? '').replace(/[gy]/g, '')}g`;
  const regex = new RegExp(rule.pattern, flags);
  const template = rule.replace ?? '$mask';
  // Counting groups compiles the expression once more: only templates that refer to groups need it.
  const parts = parseTemplate(template, /\$[1-9]/.test(template) ? countGroups(rule.pattern, flags) : 0);
  const { check } = rule;
  const whole = parts.length === 1 && parts[0] === MASK_PART;
  return (text, replacement) => {
    // Most texts hold no match: `test` says so without the replace machinery (a callback, a new string).
    regex.lastIndex = 0;
    if (!regex.test(text)) return text;
    regex.lastIndex = 0;
    return text.replace(regex, (...args: unknown[]): string => {
      const match = args[0] as string;
      if (check !== undefined && !check(match)) return match;
      if (whole) return replacement;
      let out = '';
      for (const part of parts) {
        if (part === MASK_PART) out += replacement;
        else if (typeof part === 'number') {
          const captured = args[part];
          if (typeof captured === 'string') out += captured;
        }
        else out += part;
      }
      return out;
    });
  };
}

function scannerApply(rule: ScannerRule): CompiledRule['apply'] {
  return (text, replacement) => {
    const ranges = rule.scan(text);
    if (ranges.length === 0) return text;
    let out = '';
    let at = 0;
    for (const [start, end] of mergeRanges(ranges)) {
      out += text.slice(at, start) + replacement;
      at = end;
    }
    return out + text.slice(at);
  };
}

/**
 * Which rules one text needs: those without keywords, and those with a keyword the text contains. The keywords of
 * two characters or more are found in one scan of the lower-cased text by one expression, their trie (so each
 * position costs a character test or two, not one per keyword), resumed one character after each hit so that
 * overlapping hits are all found; a hit implies every keyword inside it (the trie reports the longest keyword
 * starting at a place, not the shorter ones it begins with). One-character keywords are looked up directly.
 */
class KeywordPrefilter {
  readonly #always: readonly number[];
  readonly #scan: RegExp | undefined;
  readonly #single: readonly (readonly [string, readonly number[]])[];
  readonly #keywords: readonly string[];
  /** Each keyword's own rules. */
  readonly #own: ReadonlyMap<string, readonly number[]>;
  /**
   * For each keyword found so far: the rules to run when it occurs, its own and those of every keyword inside it.
   * Worked out on a keyword's first hit, not up front: a sanitizer is cheap to make, and most keywords never occur.
   */
  readonly #rulesOf = new Map<string, readonly number[]>();

  constructor(rules: readonly CompiledRule[]) {
    const own = new Map<string, number[]>();
    const always: number[] = [];
    rules.forEach((rule, index) => {
      if (rule.keywords === undefined) always.push(index);
      else for (const keyword of rule.keywords) own.set(keyword, [...(own.get(keyword) ?? []), index]);
    });
    this.#always = always;
    const keywords = [...own.keys()];
    const long = keywords.filter((keyword) => keyword.length > 1);
    this.#single = keywords.filter((keyword) => keyword.length === 1).map((keyword) => [keyword, own.get(keyword) ?? []] as const);
    this.#scan = long.length === 0 ? undefined : new RegExp(trieSource(long), 'g');
    this.#keywords = keywords;
    this.#own = own;
  }

  #rulesFor(keyword: string): readonly number[] {
    let rules = this.#rulesOf.get(keyword);
    if (rules === undefined) {
      const inside = this.#keywords.filter((other) => keyword.includes(other)).flatMap((other) => this.#own.get(other) ?? []);
      rules = [...new Set(inside)];
      this.#rulesOf.set(keyword, rules);
    }
    return rules;
  }

  /**
   * Sets a flag per rule in `active` (1: run it, for this text); false when no rule needs to run. The caller owns
   * `active` and reuses it: a fresh typed array per text costs more than the scan.
   */
  activeRules(text: string, active: Uint8Array): boolean {
    active.fill(0);
    for (const index of this.#always) active[index] = 1;
    let any = this.#always.length > 0;
    const lower = text.toLowerCase();
    for (const [keyword, indexes] of this.#single) {
      if (!lower.includes(keyword)) continue;
      for (const index of indexes) active[index] = 1;
      any = true;
    }
    const scan = this.#scan;
    if (scan !== undefined) {
      scan.lastIndex = 0;
      for (let hit = scan.exec(lower); hit !== null; hit = scan.exec(lower)) {
        for (const index of this.#rulesFor(hit[0])) active[index] = 1;
        any = true;
        scan.lastIndex = hit.index + 1;
      }
    }
    return any;
  }
}

/** A preset's rules, compiled, and their prefilter: immutable once built, shared by every sanitizer of that kind. */
interface CompiledRuleSet {
  readonly rules: readonly CompiledRule[];
  readonly prefilter: KeywordPrefilter;
}

/**
 * Compiled rule sets by preset and personal data asked for (at most 3 × 8 of them). Compiling ~85 expressions, the
 * secretlint adapters and the keyword trie costs about half a millisecond; nodes and loggers each make a
 * sanitizer, so it is done once per kind. Sharing is safe because nothing in a set keeps state across a call: every
 * expression's `lastIndex` is reset before it runs, a scanner's report collector is set and cleared within one
 * synchronous scan, and no rule calls back into a sanitizer.
 */
const RULE_SETS = new Map<string, CompiledRuleSet>();

function compiledRuleSet(preset: SanitizerPreset, pii: readonly PiiKind[]): CompiledRuleSet {
  const key = `${preset}|${[...new Set(pii)].sort().join(',')}`;
  let set = RULE_SETS.get(key);
  if (set === undefined) {
    const rules = rulesFor(preset, pii).map(compileRule);
    set = { rules, prefilter: new KeywordPrefilter(rules) };
    RULE_SETS.set(key, set);
  }
  return set;
}

interface TrieNode {
  end: boolean;
  readonly next: Map<string, TrieNode>;
}

/** An expression that matches the longest of `words` starting at a position: their trie, written out. */
function trieSource(words: readonly string[]): string {
  const root: TrieNode = { end: false, next: new Map() };
  for (const word of words) {
    let node = root;
    for (const char of word) {
      let child = node.next.get(char);
      if (child === undefined) {
        child = { end: false, next: new Map() };
        node.next.set(char, child);
      }
      node = child;
    }
    node.end = true;
  }
  const emit = (node: TrieNode): string => {
    const branches = [...node.next].map(([char, child]) => `${escapeRegExp(char)}${emit(child)}`);
    if (branches.length === 0) return '';
    const body = branches.length === 1 ? (branches[0] ?? '') : `(?:${branches.join('|')})`;
    // A word may end here or go on: the optional group is greedy, so the longer word wins.
    return node.end ? `(?:${body})?` : body;
  };
  return emit(root);
}

/** Sorted, overlapping and touching ranges joined: each is replaced once. */
function mergeRanges(ranges: readonly MaskRange[]): readonly MaskRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [start, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

interface CompiledCustom {
  readonly regex: RegExp;
  readonly groups: number;
  readonly replacement: SanitizerPattern['replacement'];
}

function compileCustom(pattern: SanitizerPattern): CompiledCustom {
  const flags = `${pattern.pattern.flags.replace(/[gy]/g, '')}g`;
  return {
    regex: new RegExp(pattern.pattern.source, flags),
    groups: countGroups(pattern.pattern.source, flags),
    replacement: pattern.replacement,
  };
}

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_. ]/g, '');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function checkLimit(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`ErrorSanitizer: ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

function describeFunction(fn: (...args: never[]) => unknown): string {
  return fn.name === '' ? '[Function]' : `[Function ${fn.name}]`;
}

/**
 * Masks secrets and personal data in strings, values and errors before they reach logs or the wire.
 *
 * Text is masked by the preset's rules: secretlint's recommended credential rules (a maintained dependency), the
 * issuer-prefixed token formats that set lacks, and ONEX's structural rules (secret keys' values, auth headers,
 * passwords in URLs, private keys, JWTs, Luhn-checked card numbers), plus host details and, when asked for,
 * personal data. Each rule runs only on a text that holds one of its keywords (all found in one scan), so a text
 * with none costs one scan; custom patterns run first. Objects are deep-copied with their keys masked and values
 * under sensitive keys masked whole; errors are walked through their `cause` chain and `AggregateError.errors`.
 * The sanitizing methods never throw and always return JSON-safe data.
 *
 * @example
 * ```ts
 * import { ErrorSanitizer } from '@onex/core';
 * const sanitizer = new ErrorSanitizer();
 * sanitizer.sanitizeText('connect postgres://app:hunter2@db:5432 failed');
 * // 'connect postgres://app:[REDACTED]@db:5432 failed'
 * sanitizer.sanitizeValue({ user: 'ann', dbPassword: 'hunter2' }); // { user: 'ann', dbPassword: '[REDACTED]' }
 * ```
 * @see toWireError — pass {@link ErrorSanitizer.forWire} as its `sanitize` option.
 */
export class ErrorSanitizer {
  /**
   * The text and value maskers, bound to this sanitizer, for `toWireError`'s `sanitize` option.
   *
   * @example
   * ```ts
   * import { ErrorCode, ErrorSanitizer, OnexError, toWireError } from '@onex/core';
   * const sanitizer = new ErrorSanitizer();
   * toWireError(new OnexError(ErrorCode.Internal, 'token=abc'), { sanitize: sanitizer.forWire }).error.message; // 'token=[REDACTED]'
   * ```
   */
  readonly forWire: WireSanitize;

  readonly #rules: readonly CompiledRule[];
  readonly #prefilter: KeywordPrefilter;
  /** Which rules the text being masked needs; reused by every call (the sanitizer is synchronous). */
  readonly #active: Uint8Array;
  readonly #custom: readonly CompiledCustom[];
  readonly #keyFragments: RegExp | undefined;
  readonly #keyPatterns: readonly RegExp[];
  readonly #replacement: string;
  readonly #maxDepth: number;
  readonly #maxStringLength: number;
  readonly #maxEntries: number;

  /**
   * @throws RangeError when `maxDepth`, `maxStringLength` or `maxEntries` is not a suitable integer.
   */
  constructor(options: ErrorSanitizerOptions = {}) {
    const preset = options.preset ?? SanitizerPreset.Default;
    this.#replacement = options.replacement ?? DEFAULT_REPLACEMENT;
    this.#maxDepth = checkLimit('maxDepth', options.maxDepth, 8, 0);
    this.#maxStringLength = checkLimit('maxStringLength', options.maxStringLength, 10_000, 1);
    this.#maxEntries = checkLimit('maxEntries', options.maxEntries, 1_000, 1);
    const pii = piiKinds(options.pii);
    const ruleSet = compiledRuleSet(preset, pii);
    this.#rules = ruleSet.rules;
    this.#prefilter = ruleSet.prefilter;
    this.#active = new Uint8Array(ruleSet.rules.length);
    this.#custom = (options.patterns ?? []).map(compileCustom);

    const keys = [...sensitiveKeysFor(preset, pii), ...(options.sensitiveKeys ?? [])];
    const fragments = keys.filter((k): k is string => typeof k === 'string').map(normalizeKey).filter((k) => k !== '');
    this.#keyFragments = fragments.length === 0 ? undefined : new RegExp(fragments.map(escapeRegExp).join('|'));
    this.#keyPatterns = keys
      .filter((k): k is RegExp => k instanceof RegExp)
      .map((k) => new RegExp(k.source, k.flags.replace(/[gy]/g, '')));

    this.forWire = Object.freeze({
      text: (text: string): string => this.sanitizeText(text),
      value: (value: unknown): unknown => this.sanitizeValue(value),
    });
  }

  /**
   * Masks every secret the preset and custom patterns recognise in `text`. Idempotent for strings within
   * `maxStringLength`; longer strings are cut first (and a cut-off token is dropped, not half-shown).
   *
   * @example
   * ```ts
   * new ErrorSanitizer().sanitizeText('login failed: password=hunter2 for ann@example.com');
   * // 'login failed: password=[REDACTED] for [REDACTED]'
   * ```
   */
  sanitizeText(text: string): string {
    try {
      if (text.length <= this.#maxStringLength) return this.#mask(text);
      let cut = this.#maxStringLength;
      // Never show half a secret: if the cut falls inside a token, drop that token's head too.
      const stop = Math.max(0, cut - TRUNCATE_BACKOFF);
      while (cut > stop && /\S/.test(text.charAt(cut)) && /\S/.test(text.charAt(cut - 1))) cut--;
      return `${this.#mask(text.slice(0, cut))}…[truncated ${text.length - cut} chars]`;
    } catch {
      return this.#replacement;
    }
  }

  /**
   * A masked, JSON-safe deep copy of `value`. Values under sensitive keys become the replacement; strings, keys
   * included, go through {@link ErrorSanitizer.sanitizeText}; cycles become `'[Circular]'`, levels past `maxDepth`
   * `'[MaxDepth]'`. Maps become objects, Sets arrays, Dates ISO strings, bigints strings, binary data
   * a `'[Binary: n bytes]'` note, errors {@link SanitizedError}s. Never throws.
   *
   * @example
   * ```ts
   * new ErrorSanitizer().sanitizeValue({ headers: { Authorization: 'Bearer abc' }, n: 1n });
   * // { headers: { Authorization: '[REDACTED]' }, n: '1' }
   * ```
   */
  sanitizeValue(value: unknown): unknown {
    return this.#value(value, 0, new Set());
  }

  /**
   * A masked, JSON-safe description of anything thrown: name, message, code, stack, an {@link OnexError}'s
   * context and details, `AggregateError.errors` and the `cause` chain (bounded by `maxDepth`, cycles
   * cut). Never throws.
   *
   * @example
   * ```ts
   * const error = new Error('query failed', { cause: new Error('password=hunter2 rejected') });
   * new ErrorSanitizer().sanitizeError(error).cause;
   * // { name: 'Error', message: 'password=[REDACTED] rejected', stack: '…' }
   * ```
   */
  sanitizeError(error: unknown): SanitizedError {
    return this.#error(error, 0, new Set());
  }

  #mask(text: string): string {
    if (this.#custom.length === 0 && text.length < SHORT_SAFE_LENGTH && SHORT_SAFE.test(text)) return text;
    let out = text;
    for (const custom of this.#custom) out = this.#applyCustom(out, custom);
    // Rules look at the characters around a match (look-behinds such as "not after a letter"), and one rule's
    // replacement changes what the next one sees, so a second pass can find what the first could not; masking to
    // a fixed point is what makes sanitizeText idempotent. A pass that changes nothing ends the loop, so text
    // without secrets costs one pass.
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const next = this.#rulesPass(out);
      if (next === out) break;
      out = next;
    }
    return out;
  }

  #rulesPass(text: string): string {
    const rules = this.#rules;
    const active = this.#active;
    if (!this.#prefilter.activeRules(text, active)) return text;
    const replacement = this.#replacement;
    let out = text;
    for (let i = 0; i < rules.length; i++) {
      if (active[i] === 1) out = (rules[i] as CompiledRule).apply(out, replacement);
    }
    return out;
  }

  #applyCustom(text: string, custom: CompiledCustom): string {
    const { regex, groups, replacement } = custom;
    if (replacement === undefined) return text.replace(regex, () => this.#replacement);
    if (typeof replacement === 'string') return text.replace(regex, replacement);
    return text.replace(regex, (...args: unknown[]): string => {
      const match = args[0] as string;
      const captured = args.slice(1, 1 + groups).map((g) => (typeof g === 'string' ? g : ''));
      try {
        return String(replacement(match, ...captured));
      } catch {
        return this.#replacement;
      }
    });
  }

  #isSensitiveKey(key: string): boolean {
    if (this.#keyFragments?.test(normalizeKey(key)) === true) return true;
    return this.#keyPatterns.some((pattern) => pattern.test(key));
  }

  #value(value: unknown, depth: number, ancestors: Set<object>): unknown {
    try {
      switch (typeof value) {
        case 'string':
          return this.sanitizeText(value);
        case 'number':
        case 'boolean':
        case 'undefined':
          return value;
        case 'bigint':
          return this.sanitizeText(value.toString());
        case 'symbol':
          return this.sanitizeText(value.toString());
        case 'function':
          return describeFunction(value as (...args: never[]) => unknown);
        case 'object':
          return value === null ? null : this.#object(value, depth, ancestors);
      }
    } catch {
      return UNREADABLE;
    }
  }

  #object(value: object, depth: number, ancestors: Set<object>): unknown {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (value instanceof RegExp) return this.sanitizeText(value.toString());
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
      // Binary data is never shown: it may hold anything, and masking rules do not apply to bytes.
      return `[Binary: ${value.byteLength} bytes]`;
    }
    // Only real errors: a plain `{ name, message }` object in a value is data, not an error.
    if (value instanceof Error || Object.prototype.toString.call(value) === '[object Error]') {
      return this.#error(value, depth, ancestors);
    }
    if (ancestors.has(value)) return CIRCULAR;
    if (depth >= this.#maxDepth) return MAX_DEPTH;
    ancestors.add(value);
    try {
      return this.#container(value, depth + 1, ancestors);
    } finally {
      ancestors.delete(value);
    }
  }

  #container(value: object, depth: number, ancestors: Set<object>): unknown {
    const max = this.#maxEntries;
    if (Array.isArray(value) || value instanceof Set) {
      const items: unknown[] = [];
      let count = 0;
      for (const item of value as Iterable<unknown>) {
        if (count++ >= max) break;
        items.push(this.#value(item, depth, ancestors));
      }
      const size = Array.isArray(value) ? value.length : value.size;
      if (size > max) items.push(`[${size - max} more items]`);
      return items;
    }
    const out: Record<string, unknown> = {};
    const entries: Iterable<readonly [unknown, unknown]> =
      value instanceof Map ? (value as Map<unknown, unknown>).entries() : ownEntries(value);
    let count = 0;
    let skipped = 0;
    for (const [rawKey, item] of entries) {
      if (count >= max) {
        skipped++;
        continue;
      }
      count++;
      const key = typeof rawKey === 'string' ? rawKey : String(this.#value(rawKey, depth, ancestors));
      const masked =
        this.#isSensitiveKey(key) && item !== undefined && item !== null
          ? this.#replacement
          : this.#value(item, depth, ancestors);
      // Keys are masked too: a caller's unknown JSON key, or a record keyed by a token, is data like any value.
      const outKey = this.sanitizeText(key);
      // A key named `__proto__` must stay data, not replace the prototype: defineProperty for it, assignment (faster)
      // for every other key.
      if (outKey === '__proto__') Object.defineProperty(out, outKey, { value: masked, enumerable: true, writable: true, configurable: true });
      else out[outKey] = masked;
    }
    if (skipped > 0) out['[more]'] = `${skipped} more entries`;
    if (count === 0 && !(value instanceof Map) && hasToJSON(value)) {
      // URL, Decimal and friends keep their data behind toJSON rather than in own properties.
      return this.#value(value.toJSON(), depth, ancestors);
    }
    return out;
  }

  #error(error: unknown, depth: number, ancestors: Set<object>): SanitizedError {
    try {
      if (!isErrorLike(error)) {
        return {
          name: 'NonError',
          message: typeof error === 'string' ? this.sanitizeText(error) : `Non-error value thrown (${describeType(error)})`,
          ...(typeof error === 'string' || error === undefined ? {} : { context: this.#value(error, depth, ancestors) }),
        };
      }
      if (ancestors.has(error)) return { name: readString(error, 'name') ?? 'Error', message: CIRCULAR };
      ancestors.add(error);
      try {
        return this.#errorFields(error, depth, ancestors);
      } finally {
        ancestors.delete(error);
      }
    } catch {
      return { name: 'Error', message: UNREADABLE };
    }
  }

  #errorFields(error: ErrorLike, depth: number, ancestors: Set<object>): SanitizedError {
    const name = this.sanitizeText(readString(error, 'name') ?? 'Error');
    const message = this.sanitizeText(readString(error, 'message') ?? '');
    const rawCode = readField(error, 'code');
    const code = typeof rawCode === 'string' || typeof rawCode === 'number' ? this.sanitizeText(String(rawCode)) : undefined;
    const stack = readString(error, 'stack');
    const nested = depth + 1;
    const deeper = nested > this.#maxDepth;

    let context: unknown;
    let details: unknown;
    if (isOnexError(error)) {
      if (Object.keys(error.context).length > 0) context = this.#value(error.context, nested, ancestors);
      if (error.details !== undefined) details = this.#value(error.details, nested, ancestors);
    } else {
      const extra = extraErrorFields(error);
      if (extra !== undefined) context = this.#value(extra, nested, ancestors);
    }

    let errors: unknown[] | undefined;
    const rawErrors = readField(error, 'errors');
    if (error instanceof AggregateError && Array.isArray(rawErrors)) {
      errors = deeper
        ? [MAX_DEPTH]
        : rawErrors.slice(0, this.#maxEntries).map((inner: unknown) => this.#causeValue(inner, nested, ancestors));
    }

    const hasCause = 'cause' in error && readField(error, 'cause') !== undefined;
    const cause = hasCause ? (deeper ? MAX_DEPTH : this.#causeValue(readField(error, 'cause'), nested, ancestors)) : undefined;

    return {
      name,
      message,
      ...(code === undefined ? {} : { code }),
      ...(context === undefined ? {} : { context }),
      ...(details === undefined ? {} : { details }),
      ...(errors === undefined ? {} : { errors }),
      ...(hasCause ? { cause } : {}),
      ...(stack === undefined ? {} : { stack: this.sanitizeText(stack) }),
    };
  }

  #causeValue(cause: unknown, depth: number, ancestors: Set<object>): unknown {
    if (isErrorLike(cause)) return this.#error(cause, depth, ancestors);
    return this.#value(cause, depth, ancestors);
  }
}

/**
 * A new {@link ErrorSanitizer} with a preset's rules and no other options: a convenience for wiring, not a
 * shared instance (ONEX keeps no module-level singletons).
 *
 * @example
 * ```ts
 * import { createSanitizer } from '@onex/core';
 * const sanitizer = createSanitizer('strict');
 * ```
 */
export function createSanitizer(preset?: SanitizerPreset): ErrorSanitizer {
  return new ErrorSanitizer(preset === undefined ? {} : { preset });
}

const PII_KINDS: readonly PiiKind[] = ['email', 'phone', 'iban'];

function piiKinds(option: ErrorSanitizerOptions['pii']): readonly PiiKind[] {
  if (option === true) return PII_KINDS;
  if (option === false || option === undefined) return [];
  // Known kinds only (a JavaScript caller may pass anything): they also key the shared rule sets.
  return PII_KINDS.filter((kind) => option.includes(kind));
}

type ErrorLike = object & { readonly message?: unknown; readonly name?: unknown };

/** An Error, or an error from another realm or a parsed body: an object with a string `message` and `name`. */
function isErrorLike(value: unknown): value is ErrorLike {
  if (value instanceof Error) return true;
  if (typeof value !== 'object' || value === null) return false;
  const record = value as { message?: unknown; name?: unknown; stack?: unknown };
  return typeof record.message === 'string' && (typeof record.name === 'string' || typeof record.stack === 'string');
}

function readField(source: object, key: string): unknown {
  try {
    return (source as Record<string, unknown>)[key];
  } catch {
    return UNREADABLE;
  }
}

function readString(source: object, key: string): string | undefined {
  const value = readField(source, key);
  return typeof value === 'string' ? value : undefined;
}

const STANDARD_ERROR_FIELDS = new Set(['name', 'message', 'stack', 'cause', 'code', 'errors']);

/** A foreign error's extra own enumerable properties (a Node system error's `syscall`, `address`, …). */
function extraErrorFields(error: object): Record<string, unknown> | undefined {
  let extra: Record<string, unknown> | undefined;
  for (const key of Object.keys(error)) {
    if (STANDARD_ERROR_FIELDS.has(key)) continue;
    extra ??= {};
    Object.defineProperty(extra, key, { value: readField(error, key), enumerable: true, writable: true, configurable: true });
  }
  return extra;
}

function* ownEntries(value: object): Generator<readonly [string, unknown]> {
  for (const key of Object.keys(value)) yield [key, readField(value, key)];
}

function hasToJSON(value: object): value is { toJSON: () => unknown } {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const ctor = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof ctor === 'string' && ctor !== '' ? ctor : 'object';
}
