import { createHash } from 'node:crypto';
import pg from 'pg';
import { ErrorCode, HealthStatus, isOnexError, OnexError, type ComponentHealth } from '@onex/core';
import { checkSchemaName, classifyPostgresError, createOwnedPool, migrateSchema, POSTGRES_TYPES as TYPES } from '@onex/core/internal/postgres';
import {
  MAX_SIGNALS_PER_WORKFLOW,
  type SignalInput,
  type SignalSendResult,
  type StepRecord,
  type StoredSignal,
  type TraceContext,
  type WorkflowAdmission,
  type WorkflowCommit,
  type WorkflowFilter,
  type WorkflowRecord,
  type WorkflowStatus,
  type WorkflowSummary,
} from './workflow-record.js';
import { RetentionPurge } from './retention-purge.js';
import { MAX_SCHEDULES, type ScheduleRecord, type ScheduleStore } from './schedule-store.js';
import type { ClaimOptions, CreateResult, HeldRun, RenewResult, RunnableType, WorkflowEvent, WorkflowStore } from './workflow-store.js';

/** Options of {@link PostgresWorkflowStore}. Give `pool` or `connectionString`. */
export interface PostgresWorkflowStoreOptions {
  /**
   * A node-postgres pool the application owns: the store runs its queries on it and leaves it open on `close()`.
   * Its connections may be shared with other code (the store sets no session state).
   */
  readonly pool?: pg.Pool;
  /**
   * Where to connect when no `pool` is given: the store creates a pool (`maxConnections` connections, a 10 s connect
   * timeout) and ends it on `close()`.
   */
  readonly connectionString?: string;
  /** Connections of the pool the store creates from `connectionString`. Default 10. */
  readonly maxConnections?: number;
  /**
   * The PostgreSQL schema the tables live in, created by `init()` if missing. A plain identifier (letters, digits,
   * `_`; at most 63 characters, not starting with a digit); anything else is refused. Default `onex`.
   */
  readonly schema?: string;
  /**
   * Finished workflows whose last update is older than this are deleted in the background (see
   * {@link PostgresWorkflowStore.purge}). Default 7 days; 0 keeps them forever.
   */
  readonly retentionMs?: number;
  /** How often the background purge runs, ms. Default 1 hour; 0 runs none. The first run is 1 s after `init()`. */
  readonly purgeIntervalMs?: number;
  /** Told when a background purge fails; the purge never throws out of its timer. Wire it to your logger. */
  readonly onPurgeError?: (error: OnexError) => void;
  /**
   * Group commit: commits waiting while this many commit statements are in flight are written together by the next
   * one (one statement, one round trip, one WAL flush for all of them). Creates are grouped the same way, in their own
   * statements (up to this many in flight too). Default 2.
   */
  readonly commitConcurrency?: number;
  /** At most this many commits (or creates) in one statement. Default 256. */
  readonly maxCommitBatch?: number;
}

/**
 * The finished statuses as the version 1 indexes and statements spell them. Frozen (not derived from
 * TERMINAL_WORKFLOW_STATUSES): the partial indexes store this text, so changing the set needs a migration that
 * recreates them. A test checks the two sets are equal.
 */
export const POSTGRES_FINISHED_STATUSES_V1 = ['completed', 'failed', 'compensated', 'compensation_failed', 'cancelled', 'timed_out'] as const;

const FINISHED_LIST = POSTGRES_FINISHED_STATUSES_V1.map((s) => `'${s}'`).join(', ');

/** The predicate of the partial indexes over unfinished rows, for the table alias `alias`; queries repeat it. */
function unfinished(alias: string): string {
  return `${alias}.status NOT IN (${FINISHED_LIST})`;
}

function finished(alias: string): string {
  return `${alias}.status IN (${FINISHED_LIST})`;
}

/** Which store's migrations a `schema_migrations` row belongs to: other ONEX stores may share the schema. */
const COMPONENT = 'workflow-store';

/**
 * `MIGRATIONS[v]` takes the schema from version v to v + 1; `s` is the quoted schema name.
 *
 * Version 1. Steps live in their own table, one row per step: a commit writes the steps it changes, so its cost does
 * not grow with the workflow's history (a JSONB map column would be rewritten whole at every commit). `claimable_at`
 * is when a row becomes claimable, the later of "free" (no owner: 0; else its lease end) and "due" (its wake-up
 * time). Times are epoch ms as `double precision` (exact for integers, and a clock that answers fractions is kept
 * as is, as the other stores keep it). The indexes claim uses (`workflows_awake`, `workflows_wake`) hold unfinished rows only and no lease
 * column, so a renewal (which changes only the lease) touches no index and can be a HOT update (fillfactor 85).
 */
const MIGRATIONS: readonly ((s: string) => string)[] = [
  (s) => `
CREATE TABLE ${s}.workflows (
  id text PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  type text NOT NULL,
  version text NOT NULL,
  status text NOT NULL,
  input jsonb NOT NULL,
  output jsonb,
  error jsonb,
  idempotency_key text UNIQUE,
  parent_id text,
  correlation_id text NOT NULL,
  created_at double precision NOT NULL,
  updated_at double precision NOT NULL,
  deadline_at double precision,
  owner text,
  lease_expires_at double precision,
  epoch bigint NOT NULL,
  wake_at double precision,
  cancel_requested boolean NOT NULL DEFAULT false,
  claimable_at double precision NOT NULL GENERATED ALWAYS AS
    (GREATEST(CASE WHEN owner IS NULL THEN 0 ELSE COALESCE(lease_expires_at, 0) END, COALESCE(wake_at, 0))) STORED
) WITH (fillfactor = 85);
CREATE TABLE ${s}.workflow_steps (
  workflow_id text NOT NULL REFERENCES ${s}.workflows (id) ON DELETE CASCADE,
  name text NOT NULL,
  data jsonb NOT NULL,
  PRIMARY KEY (workflow_id, name)
);
CREATE INDEX workflows_awake ON ${s}.workflows (created_at, seq) WHERE ${unfinished('workflows')} AND wake_at IS NULL;
CREATE INDEX workflows_wake ON ${s}.workflows (wake_at) WHERE ${unfinished('workflows')} AND wake_at IS NOT NULL;
CREATE INDEX workflows_finished ON ${s}.workflows (updated_at) WHERE ${finished('workflows')};
CREATE INDEX workflows_created ON ${s}.workflows (created_at, seq);
`,
  // Version 2: signals, deduplicated by (workflow, signal id) and numbered in arrival order; the workflow row keeps
  // the last number, so a run knows without a read whether it has signals to read.
  (s) => `
ALTER TABLE ${s}.workflows ADD COLUMN signal_seq bigint NOT NULL DEFAULT 0;
CREATE TABLE ${s}.workflow_signals (
  workflow_id text NOT NULL REFERENCES ${s}.workflows (id) ON DELETE CASCADE,
  signal_id text NOT NULL,
  seq bigint NOT NULL,
  name text NOT NULL,
  payload jsonb NOT NULL,
  sent_at double precision NOT NULL,
  PRIMARY KEY (workflow_id, signal_id),
  UNIQUE (workflow_id, seq)
);
`,
  // Version 3: schedules, one row each (the record as JSON) with the revision writes compare.
  (s) => `
CREATE TABLE ${s}.schedules (
  id text PRIMARY KEY,
  revision bigint NOT NULL,
  data jsonb NOT NULL
);
`,
  // Version 4: how each workflow is admitted (priority, concurrency key and limit), and its trace context.
  (s) => `ALTER TABLE ${s}.workflows ADD COLUMN admission jsonb, ADD COLUMN trace_context jsonb;`,
  // Version 5: unfinished workflows with a concurrency key, by key: what a claim counts a key's slots over.
  (s) => `CREATE INDEX workflows_keyed ON ${s}.workflows ((admission ->> 'concurrencyKey'))
  WHERE ${unfinished('workflows')} AND (admission ->> 'concurrencyKey') IS NOT NULL;`,
  // Version 6: a commit in the middle of a run becomes a HOT update, and a step row costs no foreign-key check.
  // - The purge's index moves from updated_at (which every commit changes, so every commit wrote every index of
  //   the row) to finished_at, generated from status and updated_at: NULL until the run finishes, so a commit that
  //   changes neither status nor wake_at touches no indexed column. (Adding it rewrites the table, once.)
  // - workflow_steps loses its foreign key: each step insert ran the key check, which also locks the workflow row
  //   the same statement had just written. Every statement that inserts steps takes the ids from the workflow rows it
  //   inserted or updated, and the purge deletes a workflow's steps with the workflow.
  // Measured by replaying one sequential workflow's four statements: 1.51 → 1.06-1.11 ms (no fsync, quiet box),
  // 5.86 → 5.29 ms (durable, loaded box).
  (s) => `
ALTER TABLE ${s}.workflows ADD COLUMN finished_at double precision GENERATED ALWAYS AS
  (CASE WHEN ${finished('workflows')} THEN updated_at END) STORED;
CREATE INDEX workflows_finished_at ON ${s}.workflows (finished_at) WHERE finished_at IS NOT NULL;
DROP INDEX ${s}.workflows_finished;
ALTER TABLE ${s}.workflow_steps DROP CONSTRAINT workflow_steps_workflow_id_fkey;
`,
];

/** The schema version this release writes. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Takes `schema` to `version` with this store's migrations, as `init()` would with an older release. Internal to the
 * package (not exported from `postgres.ts`): the store tests use it to check an upgrade over existing rows.
 */
export function migratePostgresSchemaTo(pool: pg.Pool, schema: string, version: number): Promise<void> {
  return migrateSchema(pool, checkSchemaName(schema, OWNER), { component: COMPONENT, owner: OWNER, steps: MIGRATIONS.slice(0, version) });
}

/** Columns of a record, for the table alias `a`, steps as one JSONB object read in the same statement. */
function recordColumns(a: string, steps: string): string {
  // has_output tells SQL NULL (no output) from JSON null (an output of null): both parse to null.
  return `${summaryColumns(a)}, ${a}.input, ${a}.output, ${a}.output IS NOT NULL AS has_output,
    COALESCE((SELECT jsonb_object_agg(st.name, st.data) FROM ${steps} st WHERE st.workflow_id = ${a}.id), '{}'::jsonb) AS steps`;
}

/**
 * A record's columns without its steps, for statements that lock or update the row. Their steps must not be read in
 * the same statement: under READ COMMITTED the locked row is its newest version (re-read after a concurrent commit
 * that ended while the statement ran), but a subquery reads the statement's snapshot, which misses that commit's
 * step rows. A claim that took over a workflow right after its last commit would then answer steps without the
 * dispatch that commit recorded (seen in the fault campaign: a step applied by the peer, its attempt lost, never
 * compensated). {@link postgresStatements}' `stepsOf` reads them afterwards, in a snapshot that holds every commit of
 * the epochs before the one the row now has.
 */
function lockedColumns(a: string): string {
  return `${summaryColumns(a)}, ${a}.input, ${a}.output, ${a}.output IS NOT NULL AS has_output`;
}

function summaryColumns(a: string): string {
  return ['id', 'type', 'version', 'status', 'error', 'idempotency_key', 'parent_id', 'correlation_id', 'created_at', 'updated_at', 'deadline_at', 'owner', 'lease_expires_at', 'epoch', 'wake_at', 'cancel_requested', 'signal_seq', 'admission', 'trace_context']
    .map((c) => `${a}.${c}`)
    .join(', ');
}

/** `$n` and `$n + 1` are parallel arrays of types and versions: one statement for any number of runnable types. */
function runnableIn(a: string, n: number): string {
  return `(${a}.type, ${a}.version) IN (SELECT * FROM unnest($${n}::text[], $${n + 1}::text[]))`;
}

/**
 * The store's statements for one schema, by name. Every value is a parameter; only the (validated, quoted) schema name
 * is spliced in. Internal to the package (not exported from `postgres.ts`): the store tests read it to check plans.
 */
export function postgresStatements(schema: string) {
  const s = pg.escapeIdentifier(schema);
  const wf = `${s}.workflows`;
  const ws = `${s}.workflow_steps`;
  const sg = `${s}.workflow_signals`;
  // Two kinds of candidates, each from an index that yields them without visiting finished rows: awake rows in
  // creation order (`workflows_awake`: only rows held by live instances are passed over), and due parked rows (the
  // `workflows_wake` range up to now, sorted; `+ 0` keeps the planner from walking the whole table in creation
  // order instead). Each kind is locked with SKIP LOCKED as it is found, so concurrent claimers take disjoint rows
  // and never wait; the oldest `$4` of both are claimed (the rest stay free at the end of the statement).
  const NO_LIMIT = "(f.admission ->> 'concurrencyKey' IS NULL OR f.cancel_requested OR f.parent_id IS NOT NULL)";
  // The plain claim takes the rows no concurrency limit applies to (no key, a child, a cancelled workflow; with
  // includeOwn also the owner's own live ones, which hold their slot); `keyedClaim` takes the others.
  const claimSet = (free: string, unlimited: string) => `WITH awake AS (
        SELECT f.id, f.created_at, f.seq FROM ${wf} f
        WHERE ${unfinished('f')} AND f.wake_at IS NULL AND ${free} AND ${unlimited} AND ${runnableIn('f', 5)}
        ORDER BY f.created_at, f.seq LIMIT $4
        FOR UPDATE SKIP LOCKED),
      due AS (
        SELECT f.id, f.created_at, f.seq FROM ${wf} f
        WHERE ${unfinished('f')} AND f.wake_at IS NOT NULL AND f.wake_at <= $3 AND ${free} AND ${unlimited} AND ${runnableIn('f', 5)}
        ORDER BY f.created_at + 0, f.seq LIMIT $4
        FOR UPDATE SKIP LOCKED),
      pick AS (
        SELECT id FROM (SELECT * FROM awake UNION ALL SELECT * FROM due) candidates ORDER BY created_at, seq LIMIT $4),
      claimed AS (
        UPDATE ${wf} w SET owner = $1, lease_expires_at = $2, epoch = w.epoch + 1 FROM pick WHERE w.id = pick.id
        RETURNING w.*)
    SELECT ${lockedColumns('c')} FROM claimed c ORDER BY c.created_at, c.seq`;
  return {
    create: `WITH ins AS (
        INSERT INTO ${wf} (id, type, version, status, input, output, error, idempotency_key, parent_id, correlation_id,
          created_at, updated_at, deadline_at, owner, lease_expires_at, epoch, wake_at, cancel_requested, admission, trace_context)
        VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $20::jsonb, $21::jsonb)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id),
      steps AS (INSERT INTO ${ws} (workflow_id, name, data) SELECT ins.id, e.key, e.value FROM ins CROSS JOIN jsonb_each($19::jsonb) e)
      SELECT count(*)::int AS created FROM ins`,
    // Many creates in one statement (group commit of creates): $1 is a JSON array (see createJson), ids distinct. JSON
    // values are wrapped (`{"v": …}`) so a JSON null input or output stays JSON null. Rows go in in `ord` order (their
    // `seq`, the claim order's tie-break, follows it). A used idempotency key inserts nothing for that row (also one
    // used by an earlier row of the same statement); the answer lists the rows inserted.
    createBatch: `WITH r AS (
        SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(ord int, id text, type text, version text, status text, input jsonb,
          output jsonb, error jsonb, idempotency_key text, parent_id text, correlation_id text, created_at double precision,
          updated_at double precision, deadline_at double precision, owner text, lease_expires_at double precision, epoch bigint,
          wake_at double precision, cancel_requested boolean, admission jsonb, trace_context jsonb, steps jsonb)),
      ins AS (
        INSERT INTO ${wf} (id, type, version, status, input, output, error, idempotency_key, parent_id, correlation_id,
          created_at, updated_at, deadline_at, owner, lease_expires_at, epoch, wake_at, cancel_requested, admission, trace_context)
        SELECT r.id, r.type, r.version, r.status, r.input -> 'v', r.output -> 'v', r.error, r.idempotency_key, r.parent_id,
          r.correlation_id, r.created_at, r.updated_at, r.deadline_at, r.owner, r.lease_expires_at, r.epoch, r.wake_at,
          r.cancel_requested, r.admission, r.trace_context
        FROM r ORDER BY r.ord
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id),
      steps AS (
        INSERT INTO ${ws} (workflow_id, name, data)
        SELECT r.id, e.key, e.value FROM r JOIN ins ON ins.id = r.id CROSS JOIN LATERAL jsonb_each(r.steps) e)
      SELECT r.ord FROM r JOIN ins ON ins.id = r.id`,
    byId: `SELECT ${recordColumns('w', ws)} FROM ${wf} w WHERE w.id = $1`,
    byKey: `SELECT ${recordColumns('w', ws)} FROM ${wf} w WHERE w.idempotency_key = $1`,
    // The steps of rows a statement locked or updated, read after it (see lockedColumns).
    stepsOf: `SELECT st.workflow_id AS id, jsonb_object_agg(st.name, st.data) AS steps FROM ${ws} st
      WHERE st.workflow_id = ANY($1::text[]) GROUP BY st.workflow_id`,
    // $1 is a JSON array of commits (see commitRowJson), $3 their ids. Rows are locked in id order (`locked`), as renew locks them, so
    // two multi-row statements never wait on each other in a cycle. The last SELECT reads the statement's snapshot
    // (before the update): for a commit not applied it tells a stale epoch, a finished row and an unknown id apart.
    commit: `WITH c AS (
        SELECT * FROM jsonb_to_recordset($1::jsonb) AS c(ord int, id text, epoch bigint, status text,
          set_output boolean, output jsonb, set_error boolean, error jsonb, updated_at double precision,
          set_deadline boolean, deadline_at double precision, set_wake boolean, wake_at double precision,
          seen_signal_seq bigint, steps jsonb)),
      locked AS (
        SELECT w.id FROM ${wf} w WHERE w.id = ANY($3::text[]) AND ${unfinished('w')} ORDER BY w.id FOR UPDATE OF w),
      upd AS (
        UPDATE ${wf} w SET
          status = COALESCE(c.status, w.status),
          output = CASE WHEN c.set_output THEN c.output -> 'v' ELSE w.output END,
          error = CASE WHEN c.set_error THEN c.error -> 'v' ELSE w.error END,
          updated_at = COALESCE(c.updated_at, w.updated_at),
          deadline_at = CASE WHEN c.set_deadline THEN c.deadline_at ELSE w.deadline_at END,
          -- A signal accepted after the last one the parking run read: due at once (the locked row's own number).
          wake_at = CASE WHEN NOT c.set_wake THEN w.wake_at
            WHEN c.wake_at IS NOT NULL AND c.seen_signal_seq IS NOT NULL AND w.signal_seq > c.seen_signal_seq THEN COALESCE(c.updated_at, c.wake_at)
            ELSE c.wake_at END
        FROM c JOIN locked l ON l.id = c.id
        WHERE w.id = l.id AND w.epoch = c.epoch AND ${unfinished('w')}
        RETURNING w.id, w.wake_at),
      ins AS (
        INSERT INTO ${ws} (workflow_id, name, data)
        SELECT c.id, e.key, e.value FROM c JOIN upd ON upd.id = c.id CROSS JOIN LATERAL jsonb_each(c.steps) e
        ON CONFLICT (workflow_id, name) DO UPDATE SET data = EXCLUDED.data),
      -- Other instances hear of finished and parked workflows at commit (NOTIFY is transactional; $2 is the channel).
      notes AS MATERIALIZED (
        SELECT pg_notify($2, CASE WHEN c.status IN (${FINISHED_LIST}) THEN json_build_object('k', 'finished', 'id', c.id)::text
          ELSE json_build_object('k', 'wake', 'at', upd.wake_at)::text END) AS sent
        FROM c JOIN upd ON upd.id = c.id
        WHERE c.status IN (${FINISHED_LIST}) OR (c.set_wake AND c.wake_at IS NOT NULL))
      SELECT c.ord, upd.id IS NOT NULL AS applied, w.epoch, w.status, (SELECT count(*) FROM notes) AS notified
      FROM c LEFT JOIN upd ON upd.id = c.id LEFT JOIN ${wf} w ON w.id = c.id AND w.id = ANY($3::text[])`,
    // One commit alone (no other was waiting): the same change as `commit` in a plain UPDATE by primary key, which
    // locks the one row itself (no lock order to keep) and re-checks the epoch on the row's newest version. The last
    // SELECT reads the statement's snapshot as `commit`'s does. Values as in CommitValues, one parameter each.
    commitOne: `WITH upd AS (
        UPDATE ${wf} w SET
          status = COALESCE($3::text, w.status),
          output = CASE WHEN $4::boolean THEN $5::jsonb ELSE w.output END,
          error = CASE WHEN $6::boolean THEN $7::jsonb ELSE w.error END,
          updated_at = COALESCE($8::double precision, w.updated_at),
          deadline_at = CASE WHEN $9::boolean THEN $10::double precision ELSE w.deadline_at END,
          wake_at = CASE WHEN NOT $11::boolean THEN w.wake_at
            WHEN $12::double precision IS NOT NULL AND $13::bigint IS NOT NULL AND w.signal_seq > $13::bigint THEN COALESCE($8::double precision, $12::double precision)
            ELSE $12::double precision END
        WHERE w.id = $1::text AND w.epoch = $2::bigint AND ${unfinished('w')}
        RETURNING w.id, w.wake_at),
      ins AS (
        INSERT INTO ${ws} (workflow_id, name, data)
        SELECT upd.id, e.key, e.value FROM upd CROSS JOIN LATERAL jsonb_each($14::jsonb) e
        ON CONFLICT (workflow_id, name) DO UPDATE SET data = EXCLUDED.data),
      notes AS MATERIALIZED (
        SELECT pg_notify($15::text, CASE WHEN $3::text IN (${FINISHED_LIST}) THEN json_build_object('k', 'finished', 'id', upd.id)::text
          ELSE json_build_object('k', 'wake', 'at', upd.wake_at)::text END) AS sent
        FROM upd WHERE $3::text IN (${FINISHED_LIST}) OR ($11::boolean AND $12::double precision IS NOT NULL))
      SELECT 0 AS ord, (SELECT count(*) FROM upd)::int > 0 AS applied, w.epoch, w.status, (SELECT count(*) FROM notes) AS notified
      FROM (SELECT 1) one LEFT JOIN ${wf} w ON w.id = $1::text`,
    claim: claimSet('f.claimable_at <= $3', NO_LIMIT),
    // includeOwn adds the owner's own rows whose lease still runs ($7 is the owner again; due is checked above).
    claimWithOwn: claimSet('(f.claimable_at <= $3 OR f.owner = $7::text)', `(${NO_LIMIT} OR (f.owner = $7::text AND f.lease_expires_at > $3))`),
    // The keyed part of a claim, run in a transaction under the schema's keyed-claim lock (so concurrent claims
    // never together pass a limit), after the plain part: first whether anything keyed is claimable at all ($1 now,
    // $2, $3 the runnable types and versions), then the claim — per key, the claimable rows of the highest priority, then the oldest, while the slots
    // held (owned, lease live, not parked for later, not exempt) plus those picked stay within its limit. The UPDATE re-checks
    // that each picked row is still claimable (no row lock is taken before it).
    keyedDue: `SELECT EXISTS (SELECT 1 FROM ${wf} f WHERE ${unfinished('f')} AND f.admission ->> 'concurrencyKey' IS NOT NULL
        AND NOT f.cancel_requested AND f.parent_id IS NULL AND f.claimable_at <= $1 AND ${runnableIn('f', 2)}) AS due`,
    keyedLock: 'SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))',
    keyedClaim: `WITH held AS (
        SELECT h.admission ->> 'concurrencyKey' AS k, count(*)::int AS n FROM ${wf} h
        WHERE ${unfinished('h')} AND h.admission ->> 'concurrencyKey' IS NOT NULL AND NOT h.cancel_requested AND h.parent_id IS NULL
          AND h.owner IS NOT NULL
          AND h.lease_expires_at > $3 AND COALESCE(h.wake_at, 0) <= $3
        GROUP BY 1),
      candidates AS (
        SELECT f.id, f.created_at, f.seq, f.admission ->> 'concurrencyKey' AS k, COALESCE((f.admission ->> 'concurrencyLimit')::int, 1) AS lim,
          COALESCE((f.admission ->> 'priority')::int, 0) AS priority
        FROM ${wf} f WHERE ${unfinished('f')} AND f.admission ->> 'concurrencyKey' IS NOT NULL AND NOT f.cancel_requested
          AND f.parent_id IS NULL AND f.claimable_at <= $3 AND ${runnableIn('f', 5)}),
      ranked AS (SELECT c.*, row_number() OVER (PARTITION BY c.k ORDER BY c.priority DESC, c.created_at, c.seq) AS rk FROM candidates c),
      pick AS (
        SELECT r.id FROM ranked r LEFT JOIN held ON held.k = r.k WHERE COALESCE(held.n, 0) + r.rk <= r.lim
        ORDER BY r.priority DESC, r.created_at, r.seq LIMIT $4),
      claimed AS (
        UPDATE ${wf} w SET owner = $1, lease_expires_at = $2, epoch = w.epoch + 1 FROM pick
        WHERE w.id = pick.id AND ${unfinished('w')} AND w.claimable_at <= $3
        RETURNING w.*)
    SELECT ${lockedColumns('c')} FROM claimed c ORDER BY c.created_at, c.seq`,
    renew: `WITH h AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS h(id, epoch)),
      locked AS (
        SELECT w.id FROM ${wf} w JOIN h ON h.id = w.id AND h.epoch = w.epoch
        WHERE w.owner = $3 AND w.lease_expires_at IS DISTINCT FROM 0 AND ${unfinished('w')} ORDER BY w.id FOR UPDATE OF w)
      UPDATE ${wf} w SET lease_expires_at = $4 FROM locked l WHERE w.id = l.id
      RETURNING w.id, w.cancel_requested, w.signal_seq`,
    // One signal: the workflow row locked (so the number and a parking commit's check are serialised), the signal
    // inserted unless its id is known (ON CONFLICT also covers a concurrent duplicate the snapshot did not see), the
    // row's number bumped and a parked running workflow made due; holders hear of it at commit.
    sendSignal: `WITH w AS (
        SELECT w.id, w.status, w.signal_seq, w.wake_at FROM ${wf} w WHERE w.id = $1 FOR UPDATE),
      dup AS (SELECT 1 FROM ${sg} g WHERE g.workflow_id = $1 AND g.signal_id = $2),
      ok AS (
        SELECT w.* FROM w WHERE NOT EXISTS (SELECT 1 FROM dup) AND ${unfinished('w')} AND w.signal_seq < $7),
      ins AS (
        INSERT INTO ${sg} (workflow_id, signal_id, seq, name, payload, sent_at)
        SELECT ok.id, $2, ok.signal_seq + 1, $3, $4::jsonb, $5 FROM ok
        ON CONFLICT DO NOTHING RETURNING seq),
      upd AS (
        UPDATE ${wf} t SET signal_seq = ins.seq,
          wake_at = CASE WHEN ok.status = 'running' AND ok.wake_at > $5 THEN $5 ELSE t.wake_at END
        FROM ok, ins WHERE t.id = ok.id
        RETURNING t.id, ins.seq, (ok.status = 'running' AND ok.wake_at IS NOT NULL AND ok.wake_at > $5) AS woke),
      notes AS MATERIALIZED (
        SELECT pg_notify($6, json_build_object('k', 'signal', 'id', upd.id, 'seq', upd.seq)::text) AS sent FROM upd
        UNION ALL SELECT pg_notify($6, json_build_object('k', 'wake', 'at', $5::double precision)::text) FROM upd WHERE upd.woke)
      SELECT w.status, w.signal_seq, (SELECT count(*) FROM dup)::int AS dup, upd.seq AS accepted, upd.woke,
        (SELECT count(*) FROM notes)::int AS notified
      FROM w LEFT JOIN upd ON true`,
    scheduleById: `SELECT data FROM ${s}.schedules WHERE id = $1`,
    schedules: `SELECT data FROM ${s}.schedules ORDER BY id LIMIT ${MAX_SCHEDULES}`,
    // Insert only below the limit and only if the id is free; one statement, so two creators cannot both pass.
    // Each write tells every instance (NOTIFY at commit), so none has to poll often for schedules made elsewhere.
    insertSchedule: `WITH ins AS (
        INSERT INTO ${s}.schedules (id, revision, data)
        SELECT $1, $2, $3::jsonb WHERE (SELECT count(*) FROM ${s}.schedules) < ${MAX_SCHEDULES}
        ON CONFLICT (id) DO NOTHING RETURNING id),
      notes AS MATERIALIZED (SELECT pg_notify($4, '{"k":"schedules"}') AS sent FROM ins)
      SELECT ins.id, (SELECT count(*) FROM notes) AS notified FROM ins`,
    updateSchedule: `WITH upd AS (UPDATE ${s}.schedules SET revision = $2, data = $3::jsonb WHERE id = $1 AND revision = $4 RETURNING id),
      notes AS MATERIALIZED (SELECT pg_notify($5, '{"k":"schedules"}') AS sent FROM upd)
      SELECT upd.id, (SELECT count(*) FROM notes) AS notified FROM upd`,
    deleteSchedule: `WITH del AS (DELETE FROM ${s}.schedules WHERE id = $1 RETURNING id),
      notes AS MATERIALIZED (SELECT pg_notify($2, '{"k":"schedules"}') AS sent FROM del)
      SELECT del.id, (SELECT count(*) FROM notes) AS notified FROM del`,
    signals: `SELECT g.signal_id, g.seq, g.name, g.payload, g.sent_at FROM ${sg} g WHERE g.workflow_id = $1 AND g.seq > $2 ORDER BY g.seq`,
    release: `WITH r AS (
        UPDATE ${wf} w SET lease_expires_at = 0 WHERE w.id = $1 AND w.epoch = $2 AND w.owner = $3 AND ${unfinished('w')} RETURNING w.id)
      SELECT pg_notify($4, json_build_object('k', 'claimable', 'id', r.id)::text) AS sent FROM r`,
    // The record after the change; when nothing changed (finished, unknown) the second branch reads it as it is.
    requestCancel: `WITH upd AS (
        UPDATE ${wf} w SET cancel_requested = true, wake_at = NULL WHERE w.id = $1 AND ${unfinished('w')} RETURNING w.*),
      notes AS MATERIALIZED (SELECT pg_notify($2, json_build_object('k', 'cancel', 'id', upd.id)::text) AS sent FROM upd)
      SELECT ${lockedColumns('r')}, (SELECT count(*) FROM notes) AS notified FROM (
        SELECT * FROM upd UNION ALL SELECT * FROM ${wf} w WHERE w.id = $1 AND NOT EXISTS (SELECT 1 FROM upd)) r`,
    nextWakeAt: `SELECT w.wake_at FROM ${wf} w
      WHERE ${unfinished('w')} AND w.wake_at IS NOT NULL AND ${runnableIn('w', 1)} ORDER BY w.wake_at LIMIT 1`,
    // A finished workflow in status $2 back to $3, held by nobody (claimable now), its steps upserted, `claimable` sent.
    reopen: `WITH upd AS (
        UPDATE ${wf} w SET status = COALESCE($3, w.status), updated_at = COALESCE($4, w.updated_at), owner = NULL, lease_expires_at = NULL, wake_at = NULL
        WHERE w.id = $1 AND w.status = $2 RETURNING w.id),
      ins AS (
        INSERT INTO ${ws} (workflow_id, name, data) SELECT upd.id, e.key, e.value FROM upd CROSS JOIN LATERAL jsonb_each($5::jsonb) e
        ON CONFLICT (workflow_id, name) DO UPDATE SET data = EXCLUDED.data),
      notes AS MATERIALIZED (SELECT pg_notify($6, json_build_object('k', 'claimable', 'id', upd.id)::text) AS sent FROM upd)
      SELECT (SELECT count(*) FROM upd)::int AS reopened, (SELECT count(*) FROM notes)::int AS notified`,
    // Finished rows past the cutoff, and their steps (workflow_steps has no foreign key since version 6).
    purgeBatch: `WITH del AS (
        DELETE FROM ${wf} w WHERE w.id IN (SELECT f.id FROM ${wf} f WHERE f.finished_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING w.id),
      steps AS (DELETE FROM ${ws} st USING del WHERE st.workflow_id = del.id)
      SELECT count(*)::int AS deleted FROM del`,
    ping: 'SELECT 1 AS ok',
    list: (where: string, limitParam: number) =>
      `SELECT ${summaryColumns('w')} FROM ${wf} w ${where} ORDER BY w.created_at DESC, w.seq DESC LIMIT $${limitParam}`,
  } as const;
}

type Statements = ReturnType<typeof postgresStatements>;
type NamedStatement = { [K in keyof Statements]: Statements[K] extends string ? K : never }[keyof Statements];

interface SummaryRow {
  id: string;
  type: string;
  version: string;
  status: WorkflowStatus;
  error: NonNullable<WorkflowRecord['error']> | null;
  idempotency_key: string | null;
  parent_id: string | null;
  correlation_id: string;
  created_at: number;
  updated_at: number;
  deadline_at: number | null;
  owner: string | null;
  lease_expires_at: number | null;
  epoch: number;
  wake_at: number | null;
  cancel_requested: boolean;
  signal_seq: number;
  admission: WorkflowAdmission | null;
  trace_context: TraceContext | null;
}

interface RecordRow extends SummaryRow {
  input: unknown;
  output: unknown;
  has_output: boolean;
  steps: Record<string, StepRecord>;
}

/** A row a claim or a cancel request locked: its steps are read by a statement of their own (see lockedColumns). */
type LockedRow = Omit<RecordRow, 'steps'>;

interface CommitResultRow {
  ord: number;
  applied: boolean;
  epoch: number | null;
  status: WorkflowStatus | null;
}

/**
 * One commit's values, serialised once by the caller's `commit` call: JSON values as JSON text. The `commit`
 * statement reads them as one object of a JSON array (output and error wrapped as `{"v": …}` so that JSON null
 * survives), `commitOne` as one parameter each.
 */
interface CommitValues {
  readonly status: string | null;
  readonly setOutput: boolean;
  /** JSON text of the output, or null for SQL NULL. */
  readonly output: string | null;
  readonly setError: boolean;
  readonly error: string | null;
  readonly updatedAt: number | null;
  readonly setDeadline: boolean;
  readonly deadlineAt: number | null;
  readonly setWake: boolean;
  readonly wakeAt: number | null;
  readonly seenSignalSeq: number | null;
  /** JSON text of an object of the steps written, by name. */
  readonly steps: string;
}

interface PendingCommit {
  readonly id: string;
  readonly epoch: number;
  readonly values: CommitValues;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface PendingCreate {
  readonly record: WorkflowRecord;
  /** The create row as JSON without its `ord` (given when batched): serialised by the caller's `create` call. */
  readonly json: string;
  readonly resolve: (result: CreateResult) => void;
  readonly reject: (error: unknown) => void;
}

const OWNER = 'PostgresWorkflowStore';

/** The OnexError a failed query is reported as (what the engine acts on: UNAVAILABLE is retryable). */
function classify(error: unknown, operation: string): OnexError {
  return classifyPostgresError(error, operation, OWNER);
}

function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function summaryOf(row: SummaryRow): WorkflowSummary {
  return {
    id: row.id,
    type: row.type,
    version: row.version,
    status: row.status,
    correlationId: row.correlation_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    epoch: row.epoch,
    ...(row.error === null ? {} : { error: row.error }),
    ...(row.idempotency_key === null ? {} : { idempotencyKey: row.idempotency_key }),
    ...(row.parent_id === null ? {} : { parentId: row.parent_id }),
    ...(row.deadline_at === null ? {} : { deadlineAt: row.deadline_at }),
    ...(row.owner === null ? {} : { owner: row.owner }),
    ...(row.lease_expires_at === null ? {} : { leaseExpiresAt: row.lease_expires_at }),
    ...(row.wake_at === null ? {} : { wakeAt: row.wake_at }),
    ...(row.cancel_requested ? { cancelRequested: true } : {}),
    ...(row.signal_seq > 0 ? { signalSeq: row.signal_seq } : {}),
    ...(row.admission === null ? {} : { admission: row.admission }),
    ...(row.trace_context === null ? {} : { traceContext: row.trace_context }),
  };
}

function recordOf(row: RecordRow): WorkflowRecord {
  return { ...summaryOf(row), input: row.input, ...(row.has_output ? { output: row.output } : {}), steps: row.steps };
}

/** JSON text of a value, or null when it has none (undefined, or what JSON cannot show); throws on what JSON cannot hold. */
function jsonText(value: unknown): string | null {
  if (value === undefined) return null;
  // JSON.stringify answers undefined (despite its declared type) for a function or a symbol.
  const text: string | undefined = JSON.stringify(value);
  return text ?? null;
}

/** The values of `change` (see CommitValues); throws (for this caller only) on a value JSON cannot hold. */
function commitValues(change: WorkflowCommit): CommitValues {
  const w = change.workflow ?? {};
  const steps: Record<string, StepRecord> = {};
  for (const step of change.steps ?? []) steps[step.name] = step;
  return {
    status: w.status ?? null,
    setOutput: 'output' in w,
    output: jsonText(w.output),
    setError: 'error' in w,
    error: jsonText(w.error),
    updatedAt: w.updatedAt ?? null,
    setDeadline: 'deadlineAt' in w,
    deadlineAt: w.deadlineAt ?? null,
    setWake: w.wakeAt !== undefined,
    wakeAt: w.wakeAt ?? null,
    seenSignalSeq: w.seenSignalSeq ?? null,
    steps: JSON.stringify(steps),
  };
}

/** One object of the `commit` statement's JSON array. */
function commitRowJson(ord: number, pending: PendingCommit): string {
  const v = pending.values;
  const wrapped = (text: string | null): string => (text === null ? 'null' : `{"v":${text}}`);
  return (
    `{"ord":${ord},"id":${JSON.stringify(pending.id)},"epoch":${pending.epoch},"status":${JSON.stringify(v.status)},` +
    `"set_output":${v.setOutput},"output":${wrapped(v.output)},"set_error":${v.setError},"error":${wrapped(v.error)},` +
    `"updated_at":${JSON.stringify(v.updatedAt)},"set_deadline":${v.setDeadline},"deadline_at":${JSON.stringify(v.deadlineAt)},` +
    `"set_wake":${v.setWake},"wake_at":${JSON.stringify(v.wakeAt)},"seen_signal_seq":${JSON.stringify(v.seenSignalSeq)},"steps":${v.steps}}`
  );
}

/** The create row of `record` as JSON, without `ord` (see the `createBatch` statement); throws on a value JSON cannot hold. */
function createJson(record: WorkflowRecord): string {
  const steps: Record<string, StepRecord> = {};
  for (const step of Object.values(record.steps)) steps[step.name] = step;
  return JSON.stringify({
    id: record.id,
    type: record.type,
    version: record.version,
    status: record.status,
    input: { v: record.input ?? null },
    output: record.output === undefined ? null : { v: record.output },
    error: record.error ?? null,
    idempotency_key: record.idempotencyKey ?? null,
    parent_id: record.parentId ?? null,
    correlation_id: record.correlationId,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    deadline_at: record.deadlineAt ?? null,
    owner: record.owner ?? null,
    lease_expires_at: record.leaseExpiresAt ?? null,
    epoch: record.epoch,
    wake_at: record.wakeAt ?? null,
    cancel_requested: record.cancelRequested === true,
    admission: record.admission ?? null,
    trace_context: record.traceContext ?? null,
    steps,
  });
}

function runnableArrays(runnable: readonly RunnableType[]): [string[], string[]] {
  return [runnable.map((r) => r.type), runnable.map((r) => r.version)];
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1) throw new OnexError(ErrorCode.Validation, `PostgresWorkflowStore option ${name} must be a positive integer`, { context: { [name]: n } });
  return n;
}

/**
 * A {@link WorkflowStore} on PostgreSQL through node-postgres: any number of orchestrator instances share one
 * database. Claims take rows with `FOR UPDATE SKIP LOCKED` (two instances never claim the same workflow, and never
 * wait on each other's claims), every write carries the epoch it holds (`WHERE epoch = $n`), and a finished workflow
 * refuses every commit.
 *
 * `init()` creates the schema (default `onex`) or migrates it, in one transaction under a transaction-level advisory
 * lock, so instances starting together migrate once; the applied versions are rows of `schema_migrations`.
 *
 * Each commit is one statement and one round trip; commits of different workflows that wait while earlier ones are
 * in flight share the next statement (group commit: one round trip and one WAL flush for the batch); creates are
 * grouped the same way. Commits of one workflow are applied in call order. Finished workflows past `retentionMs` are
 * deleted in the background.
 *
 * @experimental The schema (version 1) and the options may still change before 1.0.
 *
 * @example
 * ```ts
 * import { defineOrchestrator, Orchestrator } from '@onex/orchestrator';
 * import { PostgresWorkflowStore } from '@onex/orchestrator/postgres';
 *
 * const postgres = new PostgresWorkflowStore({ connectionString: process.env['DATABASE_URL'] ?? 'postgres://localhost/onex', schema: 'onex' });
 * // Any number of replicas, each with its own instance id, share the store.
 * const orchestrator = new Orchestrator(defineOrchestrator({ workflows }), { store: postgres, peers, instanceId: 'replica-1' });
 * ```
 */
export class PostgresWorkflowStore implements WorkflowStore, ScheduleStore {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #schema: string;
  readonly #sql: Statements;
  /** Prepared-statement names, unique per schema (a pool may serve stores of several schemas). */
  readonly #names: Readonly<Record<NamedStatement, string>>;
  readonly #purge: RetentionPurge;
  readonly #commitConcurrency: number;
  readonly #maxCommitBatch: number;
  readonly #queue: PendingCommit[] = [];
  /** Workflows with a commit statement in flight: their next commit waits, so one workflow's commits keep their order. */
  readonly #inFlight = new Set<string>();
  readonly #batchFigures = { statements: 0, commits: 0, largest: 0 };
  #lanesBusy = 0;
  #pumpScheduled = false;
  /** Creates waiting for a statement, and creates' statements in flight (group commit of creates). */
  readonly #creates: PendingCreate[] = [];
  readonly #createFigures = { statements: 0, creates: 0, largest: 0 };
  #createLanesBusy = 0;
  #createPumpScheduled = false;
  #drained: (() => void) | undefined;
  #initializing: Promise<void> | undefined;
  #ready = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** The NOTIFY channel of this schema's events (derived from the schema name, so always a short identifier). */
  readonly #channel: string;
  readonly #listeners = new Set<(event: WorkflowEvent) => void>();
  /** The connection held for LISTEN while anyone subscribes; re-established after a drop. */
  #listener: pg.PoolClient | undefined;
  #listening: Promise<void> | undefined;
  #relistenTimer: NodeJS.Timeout | undefined;
  #relistenFailures = 0;
  /** The listening connection was lost since the last LISTEN: events sent meanwhile went to nobody. */
  #eventGap = false;

  constructor(options: PostgresWorkflowStoreOptions) {
    const schema = checkSchemaName(options.schema ?? 'onex', OWNER);
    if (options.pool === undefined && (options.connectionString === undefined || options.connectionString === '')) {
      throw new OnexError(ErrorCode.Validation, 'PostgresWorkflowStore needs a pool or a connectionString');
    }
    this.#schema = schema;
    this.#sql = postgresStatements(schema);
    const tag = createHash('sha256').update(schema).digest('hex').slice(0, 12);
    const names = {} as Record<NamedStatement, string>;
    for (const [key, value] of Object.entries(this.#sql)) if (typeof value === 'string') names[key as NamedStatement] = `onexwf_${tag}_${key}`;
    this.#names = names;
    this.#channel = `onexwf_${tag}`;
    this.#purge = new RetentionPurge({
      retentionMs: options.retentionMs ?? 7 * 24 * 3_600_000,
      intervalMs: options.purgeIntervalMs ?? 3_600_000,
      deleteBatch: async (cutoff, limit) => (await this.#run<{ deleted: number }>('purgeBatch', [cutoff, limit]))[0]?.deleted ?? 0,
      toError: (error) => classify(error, 'purge'),
      onError: options.onPurgeError,
    });
    this.#commitConcurrency = positiveInt(options.commitConcurrency, 2, 'commitConcurrency');
    this.#maxCommitBatch = positiveInt(options.maxCommitBatch, 256, 'maxCommitBatch');
    if (options.pool !== undefined) {
      this.#pool = options.pool;
      this.#ownsPool = false;
    } else {
      this.#pool = createOwnedPool(options.connectionString ?? '', positiveInt(options.maxConnections, 10, 'maxConnections'));
      this.#ownsPool = true;
    }
  }

  /** The schema the tables live in. */
  get schema(): string {
    return this.#schema;
  }

  async init(): Promise<void> {
    this.#assertOpen();
    if (this.#ready) return;
    this.#initializing ??= this.#migrate().then(
      () => {
        this.#ready = true;
        this.#purge.start();
      },
      (error: unknown) => {
        this.#initializing = undefined;
        throw error;
      },
    );
    return this.#initializing;
  }

  /** Creates or migrates the schema (the migration convention every ONEX PostgreSQL store shares). */
  #migrate(): Promise<void> {
    return migrateSchema(this.#pool, this.#schema, { component: COMPONENT, owner: OWNER, steps: MIGRATIONS });
  }

  async create(record: WorkflowRecord): Promise<CreateResult> {
    this.#assertReady();
    const json = createJson(record);
    return new Promise<CreateResult>((resolve, reject) => {
      this.#creates.push({ record, json, resolve, reject });
      this.#scheduleCreates();
    });
  }

  /** As {@link #schedulePump} for creates: the creates of one event-loop turn share a statement. */
  #scheduleCreates(): void {
    if (this.#createPumpScheduled) return;
    this.#createPumpScheduled = true;
    queueMicrotask(() => {
      this.#createPumpScheduled = false;
      this.#pumpCreates();
    });
  }

  #pumpCreates(): void {
    while (this.#createLanesBusy < this.#commitConcurrency && this.#creates.length > 0) {
      const batch = this.#takeCreates();
      this.#createLanesBusy += 1;
      void this.#writeCreates(batch).finally(() => {
        this.#createLanesBusy -= 1;
        this.#pumpCreates();
        this.#settle();
      });
    }
  }

  /** The oldest queued creates with distinct ids (a repeated id waits for the next statement: its answer is its own). */
  #takeCreates(): PendingCreate[] {
    const batch: PendingCreate[] = [];
    const ids = new Set<string>();
    let kept = 0;
    for (const pending of this.#creates) {
      if (batch.length < this.#maxCommitBatch && !ids.has(pending.record.id)) {
        batch.push(pending);
        ids.add(pending.record.id);
      } else this.#creates[kept++] = pending;
    }
    this.#creates.length = kept;
    return batch;
  }

  /** Writes a batch of creates; never rejects (each caller's promise is settled instead). */
  async #writeCreates(batch: readonly PendingCreate[]): Promise<void> {
    this.#createFigures.statements += 1;
    this.#createFigures.creates += batch.length;
    this.#createFigures.largest = Math.max(this.#createFigures.largest, batch.length);
    const [only] = batch;
    if (batch.length === 1 && only !== undefined) return this.#createAlone(only);
    const payload = `[${batch.map((p, ord) => `{"ord":${ord},${p.json.slice(1)}`).join(',')}]`;
    let inserted: Set<number>;
    try {
      inserted = new Set((await this.#run<{ ord: number }>('createBatch', [payload])).map((row) => row.ord));
    } catch (error) {
      // A taken id or a value PostgreSQL refuses fails the whole statement: one by one, so only that create fails. A
      // failure of the server or the connection is every caller's.
      if (isOnexError(error) && (error.code === ErrorCode.Validation || error.code === ErrorCode.Internal)) {
        for (const pending of batch) await this.#createAlone(pending);
        return;
      }
      for (const pending of batch) pending.reject(error);
      return;
    }
    const existing: Promise<void>[] = [];
    batch.forEach((pending, ord) => {
      if (inserted.has(ord)) pending.resolve({ created: true, record: pending.record });
      else existing.push(this.#existing(pending.record).then(pending.resolve, pending.reject));
    });
    await Promise.all(existing);
  }

  /** One create in its own statement; settles the caller's promise. */
  async #createAlone(pending: PendingCreate): Promise<void> {
    try {
      pending.resolve(await this.#createOne(pending.record));
    } catch (error) {
      pending.reject(error);
    }
  }

  async #createOne(record: WorkflowRecord): Promise<CreateResult> {
    const steps: Record<string, StepRecord> = {};
    for (const step of Object.values(record.steps)) steps[step.name] = step;
    let created: number;
    try {
      const rows = await this.#run<{ created: number }>('create', [
        record.id,
        record.type,
        record.version,
        record.status,
        JSON.stringify(record.input ?? null),
        jsonOrNull(record.output),
        jsonOrNull(record.error),
        record.idempotencyKey ?? null,
        record.parentId ?? null,
        record.correlationId,
        record.createdAt,
        record.updatedAt,
        record.deadlineAt ?? null,
        record.owner ?? null,
        record.leaseExpiresAt ?? null,
        record.epoch,
        record.wakeAt ?? null,
        record.cancelRequested === true,
        JSON.stringify(steps),
        record.admission === undefined ? null : JSON.stringify(record.admission),
        record.traceContext === undefined ? null : JSON.stringify(record.traceContext),
      ]);
      created = rows[0]?.created ?? 0;
    } catch (error) {
      const cause = (isOnexError(error) ? error.cause : error) as { code?: unknown; constraint?: unknown } | undefined;
      if (cause?.code === '23505' && cause.constraint === 'workflows_pkey') {
        throw new OnexError(ErrorCode.Conflict, `Workflow ${record.id} already exists`, { cause });
      }
      throw error;
    }
    if (created === 1) return { created: true, record };
    return this.#existing(record);
  }

  /** The answer for a create its idempotency key was already used for: that workflow (committed, since ON CONFLICT waited for its insert). */
  async #existing(record: WorkflowRecord): Promise<CreateResult> {
    const [existing] = await this.#run<RecordRow>('byKey', [record.idempotencyKey ?? null]);
    if (existing === undefined) throw new OnexError(ErrorCode.Internal, `Workflow with idempotency key ${record.idempotencyKey ?? ''} vanished`);
    return { created: false, record: recordOf(existing) };
  }

  async commit(id: string, epoch: number, change: WorkflowCommit): Promise<void> {
    this.#assertReady();
    const values = commitValues(change);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ id, epoch, values, resolve, reject });
      this.#schedulePump();
    });
  }

  /** Batches queued commits on the next microtask, so the commits of one event-loop turn share a statement. */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#lanesBusy < this.#commitConcurrency && this.#queue.length > 0) {
      const batch = this.#takeBatch();
      if (batch.length === 0) break;
      this.#lanesBusy += 1;
      void this.#writeBatch(batch).finally(() => {
        this.#lanesBusy -= 1;
        for (const pending of batch) this.#inFlight.delete(pending.id);
        this.#pump();
        this.#settle();
      });
    }
  }

  /** Tells a waiting close() once nothing is queued or being written. */
  #settle(): void {
    if (this.#queue.length === 0 && this.#lanesBusy === 0 && this.#creates.length === 0 && this.#createLanesBusy === 0) this.#drained?.();
  }

  /** The oldest queued commits, at most one per workflow and none of a workflow with a commit in flight. */
  #takeBatch(): PendingCommit[] {
    const batch: PendingCommit[] = [];
    const blocked = new Set(this.#inFlight);
    let kept = 0;
    for (const pending of this.#queue) {
      if (batch.length < this.#maxCommitBatch && !blocked.has(pending.id)) batch.push(pending);
      else this.#queue[kept++] = pending;
      // A later commit of the same workflow waits for this one, whether taken or kept.
      blocked.add(pending.id);
    }
    this.#queue.length = kept;
    for (const pending of batch) this.#inFlight.add(pending.id);
    return batch;
  }

  /** Writes a batch; never rejects (each caller's promise is settled instead). */
  async #writeBatch(batch: readonly PendingCommit[]): Promise<void> {
    this.#batchFigures.statements += 1;
    this.#batchFigures.commits += batch.length;
    this.#batchFigures.largest = Math.max(this.#batchFigures.largest, batch.length);
    let rows: CommitResultRow[];
    try {
      const [only] = batch;
      if (batch.length === 1 && only !== undefined) {
        const v = only.values;
        rows = await this.#run<CommitResultRow>('commitOne', [
          only.id,
          only.epoch,
          v.status,
          v.setOutput,
          v.output,
          v.setError,
          v.error,
          v.updatedAt,
          v.setDeadline,
          v.deadlineAt,
          v.setWake,
          v.wakeAt,
          v.seenSignalSeq,
          v.steps,
          this.#channel,
        ]);
      } else {
        // $3, the batch's ids, lets the planner use the primary key whatever its (fixed) guess of the batch size: on a
        // small table it would otherwise scan it whole at every commit.
        const payload = `[${batch.map((p, ord) => commitRowJson(ord, p)).join(',')}]`;
        rows = await this.#run<CommitResultRow>('commit', [payload, this.#channel, batch.map((p) => p.id)]);
      }
    } catch (error) {
      // A value one commit carries that PostgreSQL refuses fails the whole statement: write them one by one, so only
      // that commit fails. A failure of the server or the connection is every caller's.
      if (batch.length > 1 && isOnexError(error) && (error.code === ErrorCode.Validation || error.code === ErrorCode.Internal)) {
        for (const pending of batch) await this.#writeBatch([pending]);
        return;
      }
      for (const pending of batch) pending.reject(error);
      return;
    }
    const byOrd = new Map(rows.map((row) => [row.ord, row]));
    batch.forEach((pending, ord) => {
      const row = byOrd.get(ord);
      if (row?.applied === true) return pending.resolve();
      if (row === undefined || row.epoch === null) return pending.reject(new OnexError(ErrorCode.NotFound, `Workflow ${pending.id} not found`));
      if (row.epoch !== pending.epoch) {
        return pending.reject(
          new OnexError(ErrorCode.Conflict, `Workflow ${pending.id} is owned by a newer epoch`, { context: { epoch: pending.epoch, stored: row.epoch } }),
        );
      }
      // Finished (or, during the statement, claimed again or finished by the new owner): refused either way.
      pending.reject(new OnexError(ErrorCode.Conflict, `Workflow ${pending.id} is already finished`, { context: { status: row.status } }));
    });
  }

  async get(id: string): Promise<WorkflowRecord | undefined> {
    this.#assertReady();
    const [row] = await this.#run<RecordRow>('byId', [id]);
    return row === undefined ? undefined : recordOf(row);
  }

  async list(filter: WorkflowFilter): Promise<readonly WorkflowSummary[]> {
    this.#assertReady();
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.status !== undefined) {
      const statuses = typeof filter.status === 'string' ? [filter.status] : [...filter.status];
      if (statuses.length === 0) return [];
      values.push(statuses);
      where.push(`w.status = ANY($${values.length}::text[])`);
    }
    if (filter.type !== undefined) {
      values.push(filter.type);
      where.push(`w.type = $${values.length}`);
    }
    values.push(Math.max(1, Math.min(Math.floor(filter.limit ?? 100), 1000)));
    const text = this.#sql.list(where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`, values.length);
    const rows = await this.#query<SummaryRow>({ text, values, types: TYPES }, 'list');
    return rows.map(summaryOf);
  }

  async claim(options: ClaimOptions): Promise<readonly WorkflowRecord[]> {
    this.#assertReady();
    if (options.runnable.length === 0 || options.limit <= 0) return [];
    const [types, versions] = runnableArrays(options.runnable);
    const limit = Number.isFinite(options.limit) ? Math.floor(options.limit) : null;
    const values: unknown[] = [options.owner, options.now + options.leaseMs, options.now, limit, types, versions];
    const rows = options.includeOwn === true ? await this.#run<LockedRow>('claimWithOwn', [...values, options.owner]) : await this.#run<LockedRow>('claim', values);
    const room = limit === null ? null : limit - rows.length;
    if (room !== null && room <= 0) return this.#withSteps(rows);
    const [probe] = await this.#run<{ due: boolean }>('keyedDue', [options.now, types, versions]);
    if (probe?.due !== true) return this.#withSteps(rows);
    const keyed = await this.#keyedClaim([options.owner, options.now + options.leaseMs, options.now, room, types, versions]);
    if (keyed.length === 0) return this.#withSteps(rows);
    const all = [...rows, ...keyed];
    all.sort((a, b) => a.created_at - b.created_at);
    return this.#withSteps(all);
  }

  /**
   * Records of rows a statement locked, their steps read now: after that statement's commit, so every commit of an
   * earlier epoch is in this read, and none of a later one can be (a commit carrying an older epoch is refused).
   */
  async #withSteps(rows: readonly LockedRow[]): Promise<WorkflowRecord[]> {
    if (rows.length === 0) return [];
    const found = await this.#run<{ id: string; steps: Record<string, StepRecord> }>('stepsOf', [rows.map((r) => r.id)]);
    const steps = new Map(found.map((f) => [f.id, f.steps]));
    return rows.map((row) => recordOf({ ...row, steps: steps.get(row.id) ?? {} }));
  }

  /** The keyed part of a claim: one transaction under the schema's keyed-claim lock (see `keyedClaim`). */
  async #keyedClaim(values: unknown[]): Promise<LockedRow[]> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw classify(error, 'keyedClaim');
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query({ name: this.#names.keyedLock, text: this.#sql.keyedLock, values: [`${this.#schema}.concurrency-keys`] });
      const result = await client.query<LockedRow>({ name: this.#names.keyedClaim, text: this.#sql.keyedClaim, values, types: TYPES });
      await client.query('COMMIT');
      return result.rows;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollback: unknown) => {
        broken = rollback instanceof Error ? rollback : new Error(String(rollback));
      });
      throw classify(error, 'keyedClaim');
    } finally {
      client.release(broken ?? false);
    }
  }

  async renew(owner: string, held: readonly HeldRun[], leaseExpiresAt: number): Promise<RenewResult> {
    this.#assertReady();
    if (held.length === 0) return { lost: [], cancelRequested: [] };
    const rows = await this.#run<{ id: string; cancel_requested: boolean; signal_seq: number }>('renew', [
      held.map((h) => h.id),
      held.map((h) => h.epoch),
      owner,
      leaseExpiresAt,
    ]);
    const renewed = new Map(rows.map((row) => [row.id, row]));
    const lost: string[] = [];
    const cancelRequested: string[] = [];
    let signals: Record<string, number> | undefined;
    for (const { id } of held) {
      const row = renewed.get(id);
      if (row === undefined) {
        lost.push(id);
        continue;
      }
      if (row.cancel_requested) cancelRequested.push(id);
      if (row.signal_seq > 0) (signals ??= {})[id] = row.signal_seq;
    }
    return signals === undefined ? { lost, cancelRequested } : { lost, cancelRequested, signals };
  }

  async sendSignal(id: string, signal: SignalInput): Promise<SignalSendResult> {
    this.#assertReady();
    const [row] = await this.#run<{ status: WorkflowStatus; signal_seq: number; dup: number; accepted: number | null; woke: boolean | null }>('sendSignal', [
      id,
      signal.signalId,
      signal.name,
      JSON.stringify(signal.payload ?? null),
      signal.sentAt,
      this.#channel,
      MAX_SIGNALS_PER_WORKFLOW,
    ]);
    if (row === undefined) return { status: 'not_found' };
    if (row.accepted !== null) return { status: 'accepted', seq: row.accepted, woke: row.woke === true };
    if (row.dup > 0) return { status: 'duplicate' };
    if (POSTGRES_FINISHED_STATUSES_V1.includes(row.status as (typeof POSTGRES_FINISHED_STATUSES_V1)[number])) return { status: 'finished' };
    if (row.signal_seq >= MAX_SIGNALS_PER_WORKFLOW) return { status: 'full' };
    // Unfinished, room left, not seen in the snapshot, yet not inserted: a concurrent send of the same id won.
    return { status: 'duplicate' };
  }

  async getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    this.#assertReady();
    const [row] = await this.#run<{ data: ScheduleRecord }>('scheduleById', [id]);
    return row?.data;
  }

  async listSchedules(): Promise<readonly ScheduleRecord[]> {
    this.#assertReady();
    return (await this.#run<{ data: ScheduleRecord }>('schedules', [])).map((row) => row.data);
  }

  async putSchedule(record: ScheduleRecord, expectedRevision: number | null): Promise<boolean> {
    this.#assertReady();
    const data = JSON.stringify(record);
    const rows =
      expectedRevision === null
        ? await this.#run('insertSchedule', [record.id, record.revision, data, this.#channel])
        : await this.#run('updateSchedule', [record.id, record.revision, data, expectedRevision, this.#channel]);
    return rows.length === 1;
  }

  async deleteSchedule(id: string): Promise<boolean> {
    this.#assertReady();
    return (await this.#run('deleteSchedule', [id, this.#channel])).length === 1;
  }

  async signals(id: string, afterSeq: number): Promise<readonly StoredSignal[]> {
    this.#assertReady();
    const rows = await this.#run<{ signal_id: string; seq: number; name: string; payload: unknown; sent_at: number }>('signals', [id, afterSeq]);
    return rows.map((row) => ({ signalId: row.signal_id, seq: row.seq, name: row.name, payload: row.payload, sentAt: row.sent_at }));
  }

  async release(owner: string, held: HeldRun): Promise<void> {
    this.#assertReady();
    await this.#run('release', [held.id, held.epoch, owner, this.#channel]);
  }

  async requestCancel(id: string): Promise<WorkflowRecord | undefined> {
    this.#assertReady();
    const [row] = await this.#run<LockedRow>('requestCancel', [id, this.#channel]);
    return row === undefined ? undefined : (await this.#withSteps([row]))[0];
  }

  async reopen(id: string, from: WorkflowStatus, change: WorkflowCommit): Promise<boolean> {
    this.#assertReady();
    const w = change.workflow ?? {};
    const steps = Object.fromEntries((change.steps ?? []).map((step) => [step.name, step]));
    const [row] = await this.#run<{ reopened: number }>('reopen', [id, from, w.status ?? null, w.updatedAt ?? null, JSON.stringify(steps), this.#channel]);
    return (row?.reopened ?? 0) > 0;
  }

  async nextWakeAt(runnable: readonly RunnableType[]): Promise<number | undefined> {
    this.#assertReady();
    if (runnable.length === 0) return undefined;
    const [row] = await this.#run<{ wake_at: number }>('nextWakeAt', runnableArrays(runnable));
    return row?.wake_at;
  }

  /**
   * Deletes now the finished workflows (and their steps) last updated more than `retentionMs` ago, in batches of 500
   * rows (`FOR UPDATE SKIP LOCKED`: instances purging at once split the work), yielding to the event loop between
   * batches. Resolves with the number deleted (0 when `retentionMs` is 0); rejects with an OnexError (UNAVAILABLE when
   * the database is unreachable). The background purge calls it; a call during a run joins that run.
   *
   * @example
   * ```ts
   * // @example-compile-only
   * // (it needs a PostgreSQL server)
   * import { PostgresWorkflowStore } from '@onex/orchestrator/postgres';
   * const workflows = new PostgresWorkflowStore({ connectionString: 'postgres://localhost/onex', retentionMs: 7 * 86_400_000 });
   * await workflows.init();
   * const deleted = await workflows.purge();
   * ```
   */
  async purge(): Promise<number> {
    this.#assertReady();
    return this.#purge.run();
  }

  async health(): Promise<ComponentHealth> {
    const pool = { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount };
    try {
      this.#assertReady();
      await this.#run('ping', []);
      return {
        status: HealthStatus.Healthy,
        data: {
          kind: 'postgres',
          schema: this.#schema,
          schemaVersion: POSTGRES_SCHEMA_VERSION,
          pool,
          commits: { ...this.#batchFigures, queued: this.#queue.length },
          creates: { ...this.#createFigures, queued: this.#creates.length },
          purge: this.#purge.figures(),
        },
      };
    } catch (error) {
      return { status: HealthStatus.Unhealthy, detail: error instanceof Error ? error.message : 'postgres unavailable', data: { kind: 'postgres', pool } };
    }
  }

  /**
   * Delivers the events of every instance's writes on this schema through LISTEN/NOTIFY: finished workflows, given-up
   * leases, cancel requests and wake-up times (each sent at its transaction's commit). One pool connection is held
   * while anyone listens; after a dropped connection it listens again, with backoff, and then delivers `resync`:
   * events sent meanwhile are lost, so subscribers look again at once (instead of waiting for their rare polls).
   */
  async subscribe(listener: (event: WorkflowEvent) => void): Promise<() => Promise<void>> {
    this.#assertReady();
    this.#listeners.add(listener);
    try {
      await this.#listen();
    } catch (error) {
      this.#listeners.delete(listener);
      throw error;
    }
    return async () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) await this.#unlisten();
    };
  }

  #listen(): Promise<void> {
    if (this.#listener !== undefined) return Promise.resolve();
    this.#listening ??= (async () => {
      let client: pg.PoolClient;
      try {
        client = await this.#pool.connect();
      } catch (error) {
        throw classify(error, 'listen');
      }
      const lost = (error?: unknown): void => {
        if (this.#listener !== client) return;
        this.#listener = undefined;
        this.#eventGap = true;
        client.removeListener('notification', onNotification);
        client.release(error instanceof Error ? error : true);
        this.#relisten();
      };
      const onNotification = (message: pg.Notification): void => this.#deliver(message.payload);
      client.on('notification', onNotification);
      client.on('error', lost);
      client.on('end', () => lost());
      try {
        await client.query(`LISTEN ${pg.escapeIdentifier(this.#channel)}`);
      } catch (error) {
        client.removeListener('notification', onNotification);
        client.release(true);
        throw classify(error, 'listen');
      }
      this.#listener = client;
      this.#relistenFailures = 0;
      if (this.#eventGap) {
        // Listening again: what was sent while no connection listened is lost, so subscribers look again.
        this.#eventGap = false;
        this.#deliverEvent({ kind: 'resync' });
      }
    })().finally(() => {
      this.#listening = undefined;
    });
    return this.#listening;
  }

  #relisten(): void {
    if (this.#closed || this.#listeners.size === 0 || this.#relistenTimer !== undefined) return;
    const delay = Math.min(100 * 2 ** this.#relistenFailures, 10_000);
    this.#relistenTimer = setTimeout(() => {
      this.#relistenTimer = undefined;
      this.#listen().catch(() => {
        this.#relistenFailures += 1;
        this.#relisten();
      });
    }, delay);
    this.#relistenTimer.unref();
  }

  async #unlisten(): Promise<void> {
    if (this.#relistenTimer !== undefined) clearTimeout(this.#relistenTimer);
    this.#relistenTimer = undefined;
    await this.#listening?.catch(() => undefined);
    this.#eventGap = false;
    const client = this.#listener;
    if (client === undefined) return;
    this.#listener = undefined;
    client.removeAllListeners('notification');
    try {
      await client.query(`UNLISTEN ${pg.escapeIdentifier(this.#channel)}`);
      client.release();
    } catch {
      client.release(true);
    }
  }

  #deliver(payload: string | undefined): void {
    let event: WorkflowEvent | undefined;
    try {
      const note = JSON.parse(payload ?? '') as { k?: unknown; id?: unknown; at?: unknown; seq?: unknown };
      if (note.k === 'wake' && typeof note.at === 'number') event = { kind: 'wake', at: note.at };
      else if (note.k === 'signal' && typeof note.id === 'string' && typeof note.seq === 'number') event = { kind: 'signal', id: note.id, seq: note.seq };
      else if (note.k === 'schedules') event = { kind: 'schedules' };
      else if ((note.k === 'finished' || note.k === 'claimable' || note.k === 'cancel') && typeof note.id === 'string') event = { kind: note.k, id: note.id };
    } catch {
      return;
    }
    if (event === undefined) return;
    this.#deliverEvent(event);
  }

  #deliverEvent(event: WorkflowEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /** Writes the commits already asked for, stops the purge, and ends the pool when the store created it. */
  async close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    // The purge stops before its next batch; awaited once the commits are written.
    const purgeStopped = this.#purge.stop();
    this.#listeners.clear();
    await this.#unlisten();
    if (this.#queue.length > 0 || this.#lanesBusy > 0 || this.#creates.length > 0 || this.#createLanesBusy > 0) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
    }
    await purgeStopped;
    await this.#initializing?.catch(() => undefined);
    if (this.#ownsPool) await this.#pool.end();
  }

  #assertOpen(): void {
    if (this.#closed) throw new OnexError(ErrorCode.Lifecycle, 'PostgresWorkflowStore is closed');
  }

  #assertReady(): void {
    this.#assertOpen();
    if (!this.#ready) throw new OnexError(ErrorCode.Lifecycle, 'PostgresWorkflowStore used before init()');
  }

  /** Runs a named (prepared once per connection) statement. */
  async #run<R extends pg.QueryResultRow>(name: NamedStatement, values: unknown[]): Promise<R[]> {
    return this.#query<R>({ name: this.#names[name], text: this.#sql[name], values, types: TYPES }, name);
  }

  async #query<R extends pg.QueryResultRow>(config: pg.QueryConfig, operation: string): Promise<R[]> {
    try {
      const result = await this.#pool.query<R>(config);
      return result.rows;
    } catch (error) {
      throw classify(error, operation);
    }
  }
}
