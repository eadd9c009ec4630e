// The shape of one masking rule, as data: what the sanitizer's walker (error-sanitizer.ts) applies and every rule
// table (sanitizer-rules.ts, token-rules.ts, secretlint-rules.ts) is written in.

/**
 * One masking rule given as a regular expression: where it comes from, the words that must be in a text for it to
 * run (its prefilter), what it matches and what a match becomes.
 *
 * @internal
 * @example
 * ```ts
 * const rule: PatternRule = {
 *   id: 'stripe-secret-key',
 *   keywords: ['sk_live_', 'sk_test_'],
 *   pattern: String.raw`(?<![A-Za-z0-9])sk_(?:live|test)_[A-Za-z0-9]{20,}`,
 * };
 * ```
 */
export interface PatternRule {
  /** A stable name, for tests and for people reading the table. */
  readonly id: string;
  /**
   * Lower-case substrings, one of which must occur in the (lower-cased) text for the rule to run at all: a text
   * with none of them costs nothing for this rule. Absent: the rule runs on every text.
   */
  readonly keywords?: readonly string[];
  /** The expression's source. Matched globally; no backreferences to named groups. */
  readonly pattern: string;
  /** Extra flags (`i`, `u`, `m`, `s`); `g` is always added. */
  readonly flags?: string;
  /**
   * What a match becomes: `$1`…`$9` are its groups (an unmatched group is empty), `$mask` the sanitizer's
   * replacement; anything else is literal. Default: `'$mask'`, the whole match masked.
   */
  readonly replace?: string;
  /** A match is masked only when this holds (a checksum); otherwise it is left as it was. */
  readonly check?: (match: string) => boolean;
}

/**
 * A half-open range `[start, end)` of a text to mask, as a {@link ScannerRule} reports it.
 *
 * @internal
 * @example
 * ```ts
 * const range: MaskRange = [6, 46];
 * ```
 */
export type MaskRange = readonly [start: number, end: number];

/**
 * One masking rule given as a scanner: a function that reports the ranges of a text to mask. Rule modules of a
 * maintained scanner (secretlint's) are adapted to this shape.
 *
 * @internal
 * @example
 * ```ts
 * const rule: ScannerRule = { id: 'digits', keywords: [], scan: (text) => (/\d+/.test(text) ? [[0, text.length]] : []) };
 * ```
 */
export interface ScannerRule {
  /** A stable name. */
  readonly id: string;
  /** As {@link PatternRule.keywords}. */
  readonly keywords?: readonly string[];
  /** The ranges to mask in `text`; never throws (a failure reports nothing). */
  readonly scan: (text: string) => readonly MaskRange[];
}

/**
 * A masking rule: a {@link PatternRule} or a {@link ScannerRule}.
 *
 * @internal
 * @example
 * ```ts
 * const rules: readonly SanitizerRule[] = [{ id: 'pin', keywords: ['pin'], pattern: String.raw`(pin=)\d{4}`, replace: '$1$mask' }];
 * ```
 */
export type SanitizerRule = PatternRule | ScannerRule;
