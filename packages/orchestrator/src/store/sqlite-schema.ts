import type Database from 'better-sqlite3';
import { ErrorCode, OnexError } from '@onex/core';

// The schema of SqliteWorkflowStore and the statements whose speed depends on its indexes. They live together
// because a partial index is only used when the query repeats the index's WHERE term literally, and an expression
// index only when the query repeats the expression: an index and its queries must change in the same commit.
// The hot statements name their index (INDEXED BY): the planner cannot trade it for a scan in created_at order,
// and a query whose WHERE drifts from its partial index's fails at prepare time instead of scanning silently.
// Internal to the package (not exported from index.ts); the store tests read it to check query plans.

/**
 * The finished statuses as the version 2 indexes spell them. Frozen here (not derived from
 * TERMINAL_WORKFLOW_STATUSES) because the index text is stored in existing database files: changing the set needs a
 * migration that recreates the indexes. A test checks the two sets are equal.
 */
export const FINISHED_STATUSES_V2 = ['completed', 'failed', 'compensated', 'compensation_failed', 'cancelled', 'timed_out'] as const;

const FINISHED_LIST = FINISHED_STATUSES_V2.map((s) => `'${s}'`).join(', ');
/** The predicate of the partial indexes over unfinished rows; queries repeat it verbatim. */
const UNFINISHED = `status NOT IN (${FINISHED_LIST})`;
const FINISHED = `status IN (${FINISHED_LIST})`;
/**
 * When a row becomes claimable: the later of "free" (no owner: 0; else its lease end, 0 when unset) and "due" (its
 * wake-up time, 0 when unset). `claim` then is one range `<= now` over one index, and the rows held by live
 * instances or parked for later are never visited.
 */
const CLAIMABLE_AT = 'MAX(CASE WHEN owner IS NULL THEN 0 ELSE COALESCE(lease_expires_at, 0) END, COALESCE(wake_at, 0))';
/** `@runnable` is a JSON array of `[type, version]` pairs: one prepared statement for any number of types. */
const RUNNABLE = '(type, version) IN (SELECT value ->> 0, value ->> 1 FROM json_each(@runnable))';

/** Version 1: the schema of the first release, which created it with `IF NOT EXISTS` and left `user_version` at 0. */
const V1 = `
CREATE TABLE IF NOT EXISTS onex_workflows (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  version TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT NOT NULL,
  output TEXT,
  error TEXT,
  idempotency_key TEXT UNIQUE,
  parent_id TEXT,
  correlation_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deadline_at INTEGER,
  owner TEXT,
  lease_expires_at INTEGER,
  epoch INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS onex_workflows_status ON onex_workflows (status, created_at);
CREATE TABLE IF NOT EXISTS onex_workflow_steps (
  workflow_id TEXT NOT NULL REFERENCES onex_workflows (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (workflow_id, name)
) WITHOUT ROWID;
`;

/** Version 2: wake-up times, durable cancel requests, and indexes so claim, renew, wake-up and purge never scan the table. */
const V2 = `
ALTER TABLE onex_workflows ADD COLUMN wake_at INTEGER;
ALTER TABLE onex_workflows ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
CREATE INDEX onex_workflows_claimable ON onex_workflows (${CLAIMABLE_AT}) WHERE ${UNFINISHED};
CREATE INDEX onex_workflows_unfinished_owner ON onex_workflows (owner) WHERE ${UNFINISHED};
CREATE INDEX onex_workflows_wake ON onex_workflows (wake_at) WHERE ${UNFINISHED} AND wake_at IS NOT NULL;
CREATE INDEX onex_workflows_finished ON onex_workflows (status, updated_at) WHERE ${FINISHED};
CREATE INDEX onex_workflows_created ON onex_workflows (created_at);
`;

/**
 * Version 3: signals. Each workflow's accepted signals, deduplicated by (workflow, signal id) and numbered in
 * arrival order (`seq`); the workflow row keeps the last number, so a run knows without a read whether it has
 * signals to read.
 */
const V3 = `
ALTER TABLE onex_workflows ADD COLUMN signal_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE onex_workflow_signals (
  workflow_id TEXT NOT NULL REFERENCES onex_workflows (id) ON DELETE CASCADE,
  signal_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  PRIMARY KEY (workflow_id, signal_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX onex_workflow_signals_seq ON onex_workflow_signals (workflow_id, seq);
`;

/** Version 4: schedules, one row each (the record as JSON) with the revision writes compare. */
const V4 = `
CREATE TABLE onex_schedules (
  id TEXT PRIMARY KEY,
  revision INTEGER NOT NULL,
  data TEXT NOT NULL
) WITHOUT ROWID;
`;

/** Version 5: how each workflow is admitted (priority, concurrency key and limit) and its trace context, as JSON. */
const V5 = `
ALTER TABLE onex_workflows ADD COLUMN admission TEXT;
ALTER TABLE onex_workflows ADD COLUMN trace_context TEXT;
`;

/** The concurrency key of a row (SQL NULL when none). */
const KEY = "json_extract(admission, '$.concurrencyKey')";

/** Version 6: unfinished workflows with a concurrency key, by key: what a claim counts a key's slots over. */
const V6 = `
CREATE INDEX onex_workflows_keyed ON onex_workflows (${KEY}) WHERE ${UNFINISHED} AND ${KEY} IS NOT NULL;
`;

/** `MIGRATIONS[v]` takes a database from `user_version` v to v + 1. */
const MIGRATIONS: readonly string[] = [V1, V2, V3, V4, V5, V6];

/** The schema version this release writes (`PRAGMA user_version`). */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function assertNotNewer(version: number): void {
  if (version > SQLITE_SCHEMA_VERSION) {
    throw new OnexError(ErrorCode.Contract, `Workflow database has schema version ${version}; this release knows up to ${SQLITE_SCHEMA_VERSION}`, {
      context: { version, supported: SQLITE_SCHEMA_VERSION },
    });
  }
}

/**
 * Brings the database to {@link SQLITE_SCHEMA_VERSION} in place. Up to date: a read, no lock taken. Otherwise one
 * IMMEDIATE transaction (the write lock first, then the version is read again), so two processes opening the same
 * file at once migrate it once: the second waits for the lock and finds nothing left to do.
 */
export function migrateSqliteSchema(db: Database.Database): void {
  const seen = userVersion(db);
  assertNotNewer(seen);
  if (seen === SQLITE_SCHEMA_VERSION) return;
  try {
    db.transaction(() => {
      const from = userVersion(db);
      assertNotNewer(from);
      for (let version = from; version < SQLITE_SCHEMA_VERSION; version += 1) db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
    }).immediate();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== 'SQLITE_BUSY' && code !== 'SQLITE_LOCKED') throw error;
    throw new OnexError(ErrorCode.Unavailable, 'Workflow database stayed locked by another connection: schema not migrated', {
      cause: error,
      context: { from: seen, to: SQLITE_SCHEMA_VERSION },
    });
  }
}

/** Columns in the order the insert statement binds them. */
const COLUMNS = [
  'id',
  'type',
  'version',
  'status',
  'input',
  'output',
  'error',
  'idempotency_key',
  'parent_id',
  'correlation_id',
  'created_at',
  'updated_at',
  'deadline_at',
  'owner',
  'lease_expires_at',
  'epoch',
  'wake_at',
  'cancel_requested',
  'admission',
  'trace_context',
] as const;

/**
 * Rows no concurrency limit applies to (no key, a child, a cancelled workflow): the plain claim takes only those;
 * keyed ones go through `keyedCandidates`, counted against `keySlots` in the claim's transaction.
 */
const UNLIMITED = `(${KEY} IS NULL OR cancel_requested = 1 OR parent_id IS NOT NULL)`;

/** Rows of the claimable set, oldest first. `seq` (the rowid) breaks ties in creation time by insertion order. */
const CLAIM_SET = `UPDATE onex_workflows SET owner = @owner, lease_expires_at = @leaseExpiresAt, epoch = epoch + 1
  WHERE rowid IN (SELECT rowid FROM onex_workflows INDEXED BY onex_workflows_claimable
    WHERE ${UNFINISHED} AND ${CLAIMABLE_AT} <= @now AND ${RUNNABLE} AND ${UNLIMITED}
    ORDER BY created_at, rowid LIMIT @limit)
  RETURNING rowid AS seq, *`;

// includeOwn adds the owner's own due rows whose lease still runs. A UNION ALL of two indexed halves (the second
// excludes what the first takes) rather than an OR, which the planner would answer with a scan.
const CLAIM_SET_WITH_OWN = `UPDATE onex_workflows SET owner = @owner, lease_expires_at = @leaseExpiresAt, epoch = epoch + 1
  WHERE rowid IN (SELECT rowid FROM (
      SELECT rowid, created_at FROM onex_workflows INDEXED BY onex_workflows_claimable
        WHERE ${UNFINISHED} AND ${CLAIMABLE_AT} <= @now AND ${RUNNABLE} AND ${UNLIMITED}
      UNION ALL
      SELECT rowid, created_at FROM onex_workflows INDEXED BY onex_workflows_unfinished_owner
        WHERE ${UNFINISHED} AND owner = @owner AND ${CLAIMABLE_AT} > @now
        AND COALESCE(wake_at, 0) <= @now AND ${RUNNABLE}
    ) ORDER BY created_at, rowid LIMIT @limit)
  RETURNING rowid AS seq, *`;

/** The workflow fields a commit sets, as bits: {@link commitStatement} writes only those. */
export const CommitField = {
  Status: 1,
  Output: 2,
  Error: 4,
  UpdatedAt: 8,
  DeadlineAt: 16,
  WakeAt: 32,
  All: 63,
} as const;

/**
 * The UPDATE of a commit that sets the fields in `fields` (a {@link CommitField} mask) and no other. A SET clause
 * that names a column rewrites every index over it, a partial index's WHERE included, even when the value does not
 * change: most commits only move `updated_at` and write step rows, and touch no index over `status` or `wake_at`.
 * Parameters: `@id`, `@epoch`, then `@status`, `@output`, `@error`, `@updatedAt`, `@deadlineAt`, and for a wake-up
 * `@wakeAt`, `@seenSignalSeq` (with `@updatedAt`), each only when its field is set.
 */
export function commitStatement(fields: number): string {
  const set: string[] = [];
  if ((fields & CommitField.Status) !== 0) set.push('status = @status');
  if ((fields & CommitField.Output) !== 0) set.push('output = @output');
  if ((fields & CommitField.Error) !== 0) set.push('error = @error');
  if ((fields & CommitField.UpdatedAt) !== 0) set.push('updated_at = @updatedAt');
  if ((fields & CommitField.DeadlineAt) !== 0) set.push('deadline_at = @deadlineAt');
  // Parking on a signal wait: a signal accepted after the last one the run read makes the workflow due at once.
  if ((fields & CommitField.WakeAt) !== 0) {
    set.push('wake_at = CASE WHEN @wakeAt IS NOT NULL AND @seenSignalSeq IS NOT NULL AND signal_seq > @seenSignalSeq THEN COALESCE(@updatedAt, @wakeAt) ELSE @wakeAt END');
  }
  // Nothing to set still fences the write: the row must be held at this epoch and unfinished.
  if (set.length === 0) set.push('epoch = epoch');
  return `UPDATE onex_workflows SET ${set.join(', ')} WHERE id = @id AND epoch = @epoch AND ${UNFINISHED}`;
}

/**
 * The statements of the store, by name. Those over `onex_workflows` that run often or on large tables are checked
 * with EXPLAIN QUERY PLAN in the store tests (`issue 9 #13`).
 */
export const SQLITE_STATEMENTS = {
  insert: `INSERT INTO onex_workflows (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`,
  byKey: 'SELECT * FROM onex_workflows WHERE idempotency_key = ?',
  byId: 'SELECT * FROM onex_workflows WHERE id = ?',
  stateOf: 'SELECT epoch, status FROM onex_workflows WHERE id = ?',
  steps: 'SELECT data FROM onex_workflow_steps WHERE workflow_id = ?',
  /** Steps of several workflows (`?` is a JSON array of ids): a claim loads its batch in one query. */
  stepsOfMany: 'SELECT workflow_id, data FROM onex_workflow_steps WHERE workflow_id IN (SELECT value FROM json_each(?))',
  upsertStep:
    'INSERT INTO onex_workflow_steps (workflow_id, name, data) VALUES (?, ?, ?) ON CONFLICT (workflow_id, name) DO UPDATE SET data = excluded.data',
  /** The commit setting every field (see {@link commitStatement}): its plan is the plan of each narrower one. */
  commit: commitStatement(CommitField.All),
  claim: CLAIM_SET,
  claimWithOwn: CLAIM_SET_WITH_OWN,
  /** Claimable rows a concurrency limit applies to, the higher priority then the oldest first, with key and limit. */
  keyedCandidates: `SELECT rowid AS seq, ${KEY} AS k, COALESCE(json_extract(admission, '$.concurrencyLimit'), 1) AS lim
    FROM onex_workflows WHERE ${UNFINISHED} AND ${KEY} IS NOT NULL AND cancel_requested = 0 AND parent_id IS NULL
    AND ${CLAIMABLE_AT} <= @now AND ${RUNNABLE}
    ORDER BY COALESCE(json_extract(admission, '$.priority'), 0) DESC, created_at, rowid`,
  /** Slots held per key: owned with a live lease, not parked for later, not exempt (a child, a cancelled one). */
  keySlots: `SELECT ${KEY} AS k, count(*) AS n FROM onex_workflows
    WHERE ${UNFINISHED} AND ${KEY} IS NOT NULL AND cancel_requested = 0 AND parent_id IS NULL
    AND owner IS NOT NULL AND lease_expires_at > @now AND COALESCE(wake_at, 0) <= @now
    GROUP BY ${KEY}`,
  /** Claims one row picked by the keyed part of a claim. */
  claimRow: `UPDATE onex_workflows SET owner = @owner, lease_expires_at = @leaseExpiresAt, epoch = epoch + 1 WHERE rowid = @seq
    RETURNING rowid AS seq, *`,
  // A released lease (0) is not renewed: a renewal read before the run ended must not take the workflow back.
  renew: `UPDATE onex_workflows SET lease_expires_at = @leaseExpiresAt
    WHERE id = @id AND epoch = @epoch AND owner = @owner AND lease_expires_at <> 0 AND ${UNFINISHED} RETURNING cancel_requested, signal_seq`,
  release: `UPDATE onex_workflows SET lease_expires_at = 0 WHERE id = @id AND epoch = @epoch AND owner = @owner AND ${UNFINISHED}`,
  requestCancel: `UPDATE onex_workflows SET cancel_requested = 1, wake_at = NULL WHERE id = ? AND ${UNFINISHED}`,
  signalState: 'SELECT status, signal_seq, wake_at FROM onex_workflows WHERE id = ?',
  signalExists: 'SELECT 1 AS found FROM onex_workflow_signals WHERE workflow_id = ? AND signal_id = ?',
  insertSignal: 'INSERT INTO onex_workflow_signals (workflow_id, signal_id, seq, name, payload, sent_at) VALUES (@id, @signalId, @seq, @name, @payload, @sentAt)',
  bumpSignal: 'UPDATE onex_workflows SET signal_seq = @seq, wake_at = CASE WHEN @wake = 1 THEN @sentAt ELSE wake_at END WHERE id = @id',
  signalsAfter: 'SELECT signal_id, seq, name, payload, sent_at FROM onex_workflow_signals WHERE workflow_id = ? AND seq > ? ORDER BY seq',
  scheduleById: 'SELECT data FROM onex_schedules WHERE id = ?',
  schedules: 'SELECT data FROM onex_schedules ORDER BY id LIMIT 10000',
  scheduleCount: 'SELECT COUNT(*) AS n FROM onex_schedules',
  insertSchedule: 'INSERT INTO onex_schedules (id, revision, data) VALUES (@id, @revision, @data) ON CONFLICT (id) DO NOTHING',
  updateSchedule: 'UPDATE onex_schedules SET revision = @revision, data = @data WHERE id = @id AND revision = @expected',
  deleteSchedule: 'DELETE FROM onex_schedules WHERE id = ?',
  nextWakeAt: `SELECT wake_at FROM onex_workflows INDEXED BY onex_workflows_wake WHERE ${UNFINISHED} AND wake_at IS NOT NULL AND ${RUNNABLE} ORDER BY wake_at LIMIT 1`,
  /** One bounded batch: a long purge never holds the write lock for long, and yields between batches. */
  purgeBatch: `DELETE FROM onex_workflows WHERE rowid IN (
      SELECT rowid FROM onex_workflows INDEXED BY onex_workflows_finished WHERE ${FINISHED} AND updated_at < @cutoff LIMIT @limit)`,
  count: 'SELECT COUNT(*) AS n FROM onex_workflows',
} as const;

/** `@runnable` of the claim and wake-up statements. */
export function runnableParam(runnable: readonly { readonly type: string; readonly version: string }[]): string {
  return JSON.stringify(runnable.map((r) => [r.type, r.version]));
}
