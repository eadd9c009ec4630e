import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ExampleBlock } from './block.js';

/** One entry of `known-broken.json`: a block that fails today, and why. */
export const KnownBrokenEntry = z.object({
  /** The source file, relative to the repository root. */
  file: z.string().min(1),
  /** The line of the block's opening fence. */
  line: z.int().positive(),
  /** {@link fingerprint} of the block's code: finds the block again when lines above it move. */
  fingerprint: z.string().regex(/^[0-9a-f]{8}$/),
  /** What is wrong, and what fixes it. */
  reason: z.string().min(1),
});
/** One entry of `known-broken.json`. */
export type KnownBrokenEntry = z.output<typeof KnownBrokenEntry>;

const KnownBrokenFile = z.object({ about: z.string().optional(), blocks: z.array(KnownBrokenEntry) });

/** Reads and validates `known-broken.json`. */
export function readKnownBroken(path: string): readonly KnownBrokenEntry[] {
  const parsed = KnownBrokenFile.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: ${z.prettifyError(parsed.error)}`);
  return parsed.data.blocks;
}

/**
 * A short hash of a block's code, whitespace at the line ends ignored: it stays the same when the block moves and
 * changes when the block is edited.
 *
 * @example
 * ```ts
 * fingerprint('const a = 1;'); // 8 hex digits
 * ```
 */
export function fingerprint(code: string): string {
  const normalized = code
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .trim();
  return createHash('sha256').update(normalized).digest('hex').slice(0, 8);
}

/** The entries matched to blocks, and the entries that match none. */
export interface KnownBrokenMatch {
  /** Block id → its entry. */
  readonly byBlock: ReadonlyMap<string, KnownBrokenEntry>;
  /** Entries that match no block (the block was removed, or both edited and moved): the list is stale. */
  readonly stale: readonly KnownBrokenEntry[];
  /** Entries found by fingerprint at another line: the block moved (the list should follow). */
  readonly moved: readonly { readonly entry: KnownBrokenEntry; readonly line: number }[];
}

/**
 * Matches entries to blocks of the same file: by fingerprint (the block, wherever it moved; the nearest to the
 * entry's line when several match), else by line (the block at that line, edited but still there).
 */
export function matchKnownBroken(entries: readonly KnownBrokenEntry[], blocks: readonly ExampleBlock[]): KnownBrokenMatch {
  const byBlock = new Map<string, KnownBrokenEntry>();
  const stale: KnownBrokenEntry[] = [];
  const moved: { entry: KnownBrokenEntry; line: number }[] = [];
  const prints = new Map(blocks.map((b) => [b.id, fingerprint(b.code)]));
  for (const entry of entries) {
    const candidates = blocks.filter((b) => b.file === entry.file && !byBlock.has(b.id));
    const same = candidates
      .filter((b) => prints.get(b.id) === entry.fingerprint)
      .sort((a, b) => Math.abs(a.line - entry.line) - Math.abs(b.line - entry.line))[0];
    const block = same ?? candidates.find((b) => b.line === entry.line);
    if (block === undefined) {
      stale.push(entry);
      continue;
    }
    byBlock.set(block.id, entry);
    if (block.line !== entry.line) moved.push({ entry, line: block.line });
  }
  return { byBlock, stale, moved };
}

/** The entry to add to `known-broken.json` for a failing block (its reason to be written by whoever adds it). */
export function entryFor(block: ExampleBlock, reason: string): KnownBrokenEntry {
  return { file: block.file, line: block.line, fingerprint: fingerprint(block.code), reason };
}
