// The acceptance test of the fault issue: seeds × workflows of sagas on 3 orchestrator instances sharing one store
// (memory, SQLite and PostgreSQL in turn), under injected store, peer, crash and clock faults; then the six invariants. One seed is
// reproducible from its number: ONEX_FAULT_SEED=<n>. Sizes: ONEX_FAULT_SEEDS (default 20), ONEX_FAULT_WORKFLOWS
// (default 1000).
import { afterAll, describe, expect, it } from 'vitest';
import { describeSeed, formatSummary, runSeed, seedLine, type CampaignStore, type SeedReport } from './faults/campaign.js';
import { countByInvariant } from './faults/invariants.js';

function envCount(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number.parseInt(raw, 10);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return n;
}

const single = process.env['ONEX_FAULT_SEED'];
const SEEDS = single === undefined || single === '' ? Array.from({ length: envCount('ONEX_FAULT_SEEDS', 20) }, (_, i) => i + 1) : [envCount('ONEX_FAULT_SEED', 1)];
const WORKFLOWS = envCount('ONEX_FAULT_WORKFLOWS', 1_000);
const KINDS: readonly CampaignStore[] = ['sqlite', 'memory', 'postgres'];
const storeOf = (seed: number): CampaignStore => KINDS[seed % KINDS.length]!;

const reports: SeedReport[] = [];
afterAll(() => {
  if (reports.length > 0) console.log(formatSummary(reports));
});

describe('fault campaign', () => {
  it('without faults, every workflow ends and every invariant holds (the harness baseline)', async () => {
    const report = await runSeed({ seed: 0, workflows: 100, store: 'memory', calm: true });
    expect(report.violations, describeSeed(report)).toEqual([]);
    expect(report.drained).toBe(true);
    expect(report.statuses['completed'] ?? 0).toBeGreaterThan(50);
  }, 60_000);

  for (const seed of SEEDS) {
    it(`seed ${seed} (${storeOf(seed)}): ${WORKFLOWS} workflows under faults keep every invariant`, async () => {
      const report = await runSeed({ seed, workflows: WORKFLOWS, store: storeOf(seed) });
      reports.push(report);
      console.log(seedLine(report));
      expect(report.violations.length, describeSeed(report)).toBe(0);
    }, 120_000);
  }

  it('catches a reintroduced bug: commits carrying the freshly read stored epoch, not the caller’s (the old cancel() bug, issue 9 #6)', async () => {
    // The bug shows only when a stale run commits after a takeover, which depends on timing: up to 12 seeds, stopping
    // at the first that shows it (4 seeds missed it once in a 30-seed run on a quiet machine).
    const mutants: SeedReport[] = [];
    let fenced = 0;
    for (let seed = 101; seed <= 112 && fenced === 0; seed += 1) {
      const report = await runSeed({ seed, workflows: 500, store: storeOf(seed), mutant: 'commitWithStoredEpoch' });
      mutants.push(report);
      fenced += countByInvariant(report.violations).fenced;
    }
    console.log(`mutant commitWithStoredEpoch: ${formatSummary(mutants)}`);
    expect(fenced, mutants.map((r) => describeSeed(r, 3)).join('\n')).toBeGreaterThan(0);
  }, 240_000);
});
