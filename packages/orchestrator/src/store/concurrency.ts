import type { WorkflowRecord } from './workflow-record.js';

/**
 * The concurrency key whose limit a claim of `record` must respect, or undefined when none applies: no key, or a
 * workflow exempt from its key's limit — a child (its parent holds a slot while it waits for it: counting the child
 * would deadlock the key) and a cancelled workflow (its run only compensates and ends). Every store applies this.
 */
export function limitedKeyOf(record: Pick<WorkflowRecord, 'admission' | 'parentId' | 'cancelRequested'>): string | undefined {
  const key = record.admission?.concurrencyKey;
  if (key === undefined || record.parentId !== undefined || record.cancelRequested === true) return undefined;
  return key;
}

/**
 * True when `record` (whose key's limit applies: {@link limitedKeyOf}) holds a slot of its key at `now`: unfinished
 * (the caller checks), owned with a live lease, and not parked for later. Exempt workflows hold none. A released lease (a parked workflow, a run that stopped) holds none, nor does an
 * expired one (a crashed instance's).
 */
export function holdsKeySlot(record: Pick<WorkflowRecord, 'owner' | 'leaseExpiresAt' | 'wakeAt'>, now: number): boolean {
  return record.owner !== undefined && (record.leaseExpiresAt ?? 0) > now && (record.wakeAt ?? 0) <= now;
}
