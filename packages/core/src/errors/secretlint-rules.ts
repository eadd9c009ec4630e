// The maintained credential rule set the sanitizer builds on: secretlint's recommended preset
// (@secretlint/secretlint-rule-preset-recommend, MIT, by azu and the secretlint contributors,
// https://github.com/secretlint/secretlint). Pinned at 12.0.0, the newest release whose `engines` accepts Node 20
// (12.1 and later, 13.x included, declare Node >= 22); it is one bundled ES module with no dependencies.
//
// Why this set and not a port of another scanner's rules: it installs from the npm registry like any dependency,
// so `pnpm update` brings new rules and fixes without anyone copying patterns by hand, and its rules are precise
// (documented prefixes, exact lengths, checks beyond the pattern such as a private key's magic bytes). What it
// lacks for error and log text (payment keys, cloud connection strings, chat webhooks, several registries) is in
// token-rules.ts, and the structural shapes (key=value, auth headers, URLs with passwords) are ONEX's own rules in
// sanitizer-rules.ts. secretlint-rules.test.ts measures what each part covers of the secret corpus.
//
// Its rules are secretlint rule modules, not regular expressions: `create(context)` answers a handler whose
// `file(source)` reports ranges through `context.report`. This adapter runs each handler on one text with a
// context that only collects those ranges, and gives every rule the keyword prefilter below, so a text without
// any of a rule's keywords never reaches it (running all of them on every string costs ~25 µs a string).
import { rules as presetRules } from '@secretlint/secretlint-rule-preset-recommend';
import type { MaskRange, ScannerRule } from './sanitizer-rule.js';

/** The preset's version the keywords below were read from (its package.json pins the same). */
export const SECRETLINT_PRESET_VERSION = '12.0.0';

const PREFIX = '@secretlint/secretlint-rule-';

/**
 * Each preset rule's prefilter: lower-case substrings one of which every text it reports on contains (read from the
 * rule's patterns). A rule of a newer release that is not listed here runs on every text, unfiltered, until it is
 * listed: slower, never blind. `secretlint-rules.test.ts` fails when the preset has a rule this table does not name.
 *
 * @internal
 * @example
 * ```ts
 * SECRETLINT_KEYWORDS['github']; // ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_']
 * ```
 */
export const SECRETLINT_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  aws: ['secret', 'account', 'akia', 'asia', 'aida', 'aroa', 'agpa', 'anpa', 'anva', 'aipa', 'a3t'],
  gcp: ['private_key_id'],
  privatekey: ['private key'],
  npm: ['npm_', '_authtoken', 'x-oauth-basic'],
  slack: ['xoxb-', 'xoxp-', 'xapp-', 'xoxa-', 'xoxo-', 'xoxr-', 'hooks.slack.com'],
  sendgrid: ['sg.'],
  shopify: ['shppa_', 'shpca_', 'shpat_', 'shpss_'],
  github: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
  gitlab: ['glpat-'],
  grafana: ['glc_', 'glsa_'],
  openai: ['t3blbkfj'],
  anthropic: ['sk-ant-api0'],
  groq: ['gsk_'],
  huggingface: ['hf_'],
  linear: ['lin_api_'],
  notion: ['ntn_'],
  '1password': ['ops_ey'],
  'hashicorp-vault': ['hvs.', 'hvb.', 'hvr.'],
  vercel: ['vcp_', 'vci_', 'vca_', 'vcr_', 'vck_'],
  databricks: ['dapi'],
  docker: ['dckr_pat_'],
  figma: ['figd_'],
};

/**
 * Preset rules the sanitizer does not run, and why.
 *
 * @internal
 * @example
 * ```ts
 * Object.keys(SECRETLINT_EXCLUDED).includes('filter-comments'); // true
 * ```
 */
export const SECRETLINT_EXCLUDED: Readonly<Record<string, string>> = {
  'filter-comments':
    'a directive rule, not a detector: it honours `secretlint-disable` comments, which in an error message would let the sender switch masking off',
  'database-connection-string':
    'reports the whole URI; ONEX\'s connection-string rule masks the password of every scheme and keeps host and database readable',
  basicauth: 'reports the whole URL; ONEX\'s connection-string rule masks the password and keeps the host readable',
};

/** Options some rules take. The AWS rule scans for access key ids and account ids only when asked. */
const RULE_OPTIONS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  aws: { enableIDScanRule: true },
};

/** What a rule file of the preset is, as far as this adapter relies on it. */
interface RuleModule {
  readonly meta: { readonly id: string };
  create(context: RuleContext, options: Readonly<Record<string, unknown>>): { file?: (source: RuleSource) => unknown };
}

interface RuleContext {
  report(descriptor: { readonly range?: readonly number[] }): void;
  createTranslator(): () => string;
  ignore(): void;
  registerRule(): void;
}

interface RuleSource {
  readonly content: string;
  readonly ext: string;
  readonly contentType: 'text';
}

function isRuleModule(value: unknown): value is RuleModule {
  if (typeof value !== 'object' || value === null) return false;
  const { meta, create } = value as { meta?: { id?: unknown }; create?: unknown };
  return typeof meta?.id === 'string' && typeof create === 'function';
}

/**
 * The preset's rule modules, by short id (`github` for `@secretlint/secretlint-rule-github`).
 *
 * @internal
 * @example
 * ```ts
 * presetRuleIds().includes('github'); // true
 * ```
 */
export function presetRuleIds(): readonly string[] {
  return presetModules().map(([id]) => id);
}

function presetModules(): readonly (readonly [string, RuleModule])[] {
  const list: unknown = presetRules;
  if (!Array.isArray(list)) return [];
  return list.filter(isRuleModule).map((rule) => [rule.meta.id.startsWith(PREFIX) ? rule.meta.id.slice(PREFIX.length) : rule.meta.id, rule] as const);
}

/** Characters a token is made of: a reported range that stops inside a run of them is widened to the run's end. */
const TOKEN_CHAR = /[A-Za-z0-9+/=_-]/;
/** Backwards only over letters and digits: a `key=` or `"` before a token stays. */
const TOKEN_HEAD = /[A-Za-z0-9]/;

/**
 * The preset's detectors as {@link ScannerRule}s (ids `secretlint/<rule>`), each with its prefilter. Each call makes
 * new ones: a rule handler is created once, here, and then only run, one synchronous scan at a time.
 *
 * A reported range is widened to the end of the token it ends in (a rule may report a key's length from the start
 * of `KEY=`, which would leave the key's tail visible), and back over letters and digits it starts among. A handler that throws reports nothing for that text; a
 * report made after the handler returned (an asynchronous one) is ignored.
 *
 * @internal
 * @example
 * ```ts
 * const github = secretlintRules().find((rule) => rule.id === 'secretlint/github');
 * github?.scan('ghp_' + 'a1B2'.repeat(9)); // [[0, 40]]
 * ```
 */
export function secretlintRules(): readonly ScannerRule[] {
  const scanners: ScannerRule[] = [];
  for (const [id, module] of presetModules()) {
    if (id in SECRETLINT_EXCLUDED) continue;
    const scanner = adapt(id, module);
    if (scanner !== undefined) scanners.push(scanner);
  }
  return scanners;
}

function adapt(id: string, module: RuleModule): ScannerRule | undefined {
  let collected: MaskRange[] | undefined;
  const context: RuleContext = {
    report(descriptor) {
      const [start, end] = descriptor.range ?? [];
      if (collected !== undefined && typeof start === 'number' && typeof end === 'number' && end > start) collected.push([start, end]);
    },
    createTranslator: () => () => '',
    ignore: () => undefined,
    registerRule: () => undefined,
  };
  let handler: ((source: RuleSource) => unknown) | undefined;
  try {
    handler = module.create(context, RULE_OPTIONS[id] ?? {}).file;
  } catch {
    return undefined;
  }
  if (handler === undefined) return undefined;
  const file = handler;
  // The GCP rule looks only at JSON files: a text that parses as JSON is offered as one.
  const ext = id === 'gcp' ? '.json' : '';
  const keywords = SECRETLINT_KEYWORDS[id];
  return {
    id: `secretlint/${id}`,
    ...(keywords === undefined ? {} : { keywords }),
    scan(text) {
      const ranges: MaskRange[] = [];
      collected = ranges;
      try {
        const pending = file({ content: text, ext, contentType: 'text' });
        // A rule that answers a promise has reported what it found synchronously; the rest is never awaited.
        if (pending instanceof Promise) pending.catch(() => undefined);
      } catch {
        return [];
      } finally {
        collected = undefined;
      }
      return ranges.map(([start, end]) => widen(text, start, end));
    },
  };
}

function widen(text: string, start: number, end: number): MaskRange {
  let from = Math.max(0, start);
  let to = Math.min(text.length, end);
  while (from > 0 && TOKEN_HEAD.test(text.charAt(from - 1)) && TOKEN_HEAD.test(text.charAt(from))) from--;
  while (to < text.length && TOKEN_CHAR.test(text.charAt(to)) && TOKEN_CHAR.test(text.charAt(to - 1))) to++;
  return [from, to];
}
