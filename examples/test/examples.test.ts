// Every README and TSDoc example is compiled and, where it is a whole program, run (see examples/README.md for
// the conventions). The blocks of known-broken.json are expected to fail, each for its reason; the test fails when
// an unlisted block fails, and when a listed one passes or is gone, so the list only shrinks. Needs `pnpm build`
// first (the examples compile against the built packages, as a user's project does); the root `pnpm test` builds.
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkExamples, formatCounts, type BlockResult, type CheckReport } from '../src/check.js';
import { discoverBlocks } from '../src/discover.js';
import { entryFor, matchKnownBroken, readKnownBroken } from '../src/known-broken.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const KNOWN_BROKEN = join(ROOT, 'examples', 'known-broken.json');
const MINUTE = 60_000;
const envNumber = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};

// The blocks are found when the file is collected (one test each); compiling and running them happens once, below.
const discovery = discoverBlocks(ROOT);
const entries = readKnownBroken(KNOWN_BROKEN);
const match = matchKnownBroken(entries, discovery.blocks);
const checked = discovery.blocks.filter((b) => b.mode === 'program' || b.mode === 'compile-only');
let report: CheckReport | undefined;

beforeAll(async () => {
  report = await checkExamples({
    root: ROOT,
    concurrency: envNumber('ONEX_EXAMPLES_CONCURRENCY', 2),
    timeoutMs: envNumber('ONEX_EXAMPLES_TIMEOUT_MS', 30_000),
    exitGraceMs: 5_000,
  });
}, 10 * MINUTE);

afterAll(() => {
  if (report === undefined) return;
  console.log(formatCounts(report.counts));
  for (const { entry, line } of match.moved) console.log(`known-broken.json: ${entry.file}:${entry.line} is now at line ${line}`);
});

const resultOf = (id: string): BlockResult => {
  const result = report?.blocks.find((r) => r.block.id === id);
  if (result === undefined) throw new Error(`no result for ${id}: the check did not complete`);
  return result;
};

describe('examples', () => {
  it('the setup: every public package is a dependency of @onex/examples and resolves; no @example without code', () => {
    expect(report?.problems).toEqual([]);
  });

  it('the preludes compile and run', () => {
    const problems = report?.preludes.flatMap((p) => p.problems);
    expect(problems, problems?.join('\n\n')).toEqual([]);
  });

  it('known-broken.json names only blocks that exist', () => {
    const stale = match.stale.map((e) => `${e.file}:${e.line} (${e.fingerprint}) matches no block: the block was removed, or edited and moved; remove the entry or point it at the block`);
    expect(stale, stale.join('\n')).toEqual([]);
  });

  it.each(checked.map((b) => [b.id, b] as const))('%s', (id, block) => {
    const result = resultOf(id);
    const entry = match.byBlock.get(id);
    if (entry === undefined) {
      const hint = `\n\nFix the example at its source line. Until then it can be listed in examples/known-broken.json:\n${JSON.stringify(entryFor(block, 'what is wrong, and what fixes it'), null, 2)}`;
      expect(result.problems, result.problems.length === 0 ? '' : `${result.problems.join('\n\n')}${hint}`).toEqual([]);
    } else {
      expect(result.problems.length, `${id} passes now: remove it from examples/known-broken.json (listed as: ${entry.reason})`).toBeGreaterThan(0);
    }
  });
});
