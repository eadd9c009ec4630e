import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ErrorSanitizer } from './error-sanitizer.js';
import { SHORT_SAFE_LENGTH } from './sanitizer-rules.js';
import { presetRuleIds, SECRETLINT_EXCLUDED, SECRETLINT_KEYWORDS, SECRETLINT_PRESET_VERSION, secretlintRules } from './secretlint-rules.js';

const PRESET = '@secretlint/secretlint-rule-preset-recommend';

describe("secretlint's recommended preset", () => {
  it('is the version the keyword table was read from, pinned exactly', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
    expect(manifest.dependencies[PRESET]).toBe(SECRETLINT_PRESET_VERSION);
    const installed = createRequire(import.meta.url)(`${PRESET}/package.json`) as { version: string; engines: { node: string } };
    expect(installed.version).toBe(SECRETLINT_PRESET_VERSION);
    // A core library must run where ONEX runs: Node 20.
    expect(installed.engines.node).toBe('>=20.0.0');
  });

  it('has every rule either listed with its prefilter or excluded with a reason, and the tables name only real rules', () => {
    const ids = presetRuleIds();
    expect(ids.length).toBeGreaterThan(20);
    for (const id of ids) expect(id in SECRETLINT_KEYWORDS || id in SECRETLINT_EXCLUDED, id).toBe(true);
    for (const id of [...Object.keys(SECRETLINT_KEYWORDS), ...Object.keys(SECRETLINT_EXCLUDED)]) expect(ids).toContain(id);
    for (const keywords of Object.values(SECRETLINT_KEYWORDS)) {
      expect(keywords.length).toBeGreaterThan(0);
      for (const keyword of keywords) expect(keyword).toBe(keyword.toLowerCase());
    }
  });

  it('runs every listed rule as a scanner, none of the excluded ones', () => {
    const scanners = new Set(secretlintRules().map((rule) => rule.id));
    expect(scanners).toEqual(new Set(Object.keys(SECRETLINT_KEYWORDS).map((id) => `secretlint/${id}`)));
    expect(scanners.has('secretlint/filter-comments')).toBe(false);
  });

  it('reports ranges widened to the whole token, and never throws', () => {
    const github = secretlintRules().find((rule) => rule.id === 'secretlint/github');
    const token = ['ghp', 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'].join('_');
    expect(github?.scan(`token="${token}"`)).toEqual([[7, 7 + token.length]]);
    const aws = secretlintRules().find((rule) => rule.id === 'secretlint/aws');
    // The AWS rule reports 40 characters from the start of the key name: the range runs to the end of the value.
    const line = `AWS_SECRET_ACCESS_KEY=${'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY12'}`;
    expect(aws?.scan(line)).toEqual([[0, line.length]]);
    for (const rule of secretlintRules()) expect(() => rule.scan('\u0000{"private_key_id": 1, "private_key": 2}')).not.toThrow();
  });

  it('cannot be switched off from inside a message', () => {
    const token = ['ghp', 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'].join('_');
    const out = new ErrorSanitizer({ preset: 'lenient' }).sanitizeText(`// secretlint-disable\n${token}\n// secretlint-enable`);
    expect(out).not.toContain(token);
  });

  it('needs at least the short-safe length, so short identifiers skip every rule', () => {
    const short = 'A'.repeat(SHORT_SAFE_LENGTH - 1);
    for (const rule of secretlintRules()) expect(rule.scan(short)).toEqual([]);
  });
});
