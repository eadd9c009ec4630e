import Database from 'better-sqlite3';
import { ErrorCode, HealthStatus, OnexError, type ComponentHealth } from '@onex/core';
import {
  TERMINAL_WORKFLOW_STATUSES,
  type StepRecord,
  type WorkflowCommit,
  type WorkflowFilter,
  type WorkflowRecord,
  type WorkflowStatus,
  type WorkflowSummary,
} from './workflow-record.js';
import type { ClaimOptions, CreateResult, WorkflowStore } from './workflow-store.js';

/** Options of {@link SqliteWorkflowStore}. */
export interface SqliteWorkflowStoreOptions {
  /** Database file (created if missing), or `:memory:`. */
  readonly path: string;
  /**
   * `normal` (default): WAL with synchronous=NORMAL — survives a process crash, may lose the last commits on power
   * loss. `full`: fsync at every commit — survives power loss, ~10× slower per commit.
   */
  readonly synchronous?: 'normal' | 'full';
  /** Finished workflows older than this are deleted at start and hourly. Default 7 days; 0 keeps them forever. */
  readonly retentionMs?: number;
}

interface WorkflowRow {
  id: string;
  type: string;
  version: string;
  status: WorkflowStatus;
  input: string;
  output: string | null;
  error: string | null;
  idempotency_key: string | null;
  parent_id: string | null;
  correlation_id: string;
  created_at: number;
  updated_at: number;
  deadline_at: number | null;
  owner: string | null;
  lease_expires_at: number | null;
  epoch: number;
}

const TERMINAL = [...TERMINAL_WORKFLOW_STATUSES];
const TERMINAL_SQL = TERMINAL.map((s) => `'${s}'`).join(', ');

const SCHEMA = `
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

function json(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function parse(text: string | null): unknown {
  return text === null ? undefined : (JSON.parse(text) as unknown);
}

function summaryOf(row: WorkflowRow): WorkflowSummary {
  const error = parse(row.error) as WorkflowRecord['error'];
  return {
    id: row.id,
    type: row.type,
    version: row.version,
    status: row.status,
    correlationId: row.correlation_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    epoch: row.epoch,
    ...(error === undefined ? {} : { error }),
    ...(row.idempotency_key === null ? {} : { idempotencyKey: row.idempotency_key }),
    ...(row.parent_id === null ? {} : { parentId: row.parent_id }),
    ...(row.deadline_at === null ? {} : { deadlineAt: row.deadline_at }),
    ...(row.owner === null ? {} : { owner: row.owner }),
    ...(row.lease_expires_at === null ? {} : { leaseExpiresAt: row.lease_expires_at }),
  };
}

function prepareStatements(db: Database.Database) {
  return {
    insert: db.prepare<WorkflowRow>(`INSERT INTO onex_workflows VALUES (@id, @type, @version, @status, @input, @output, @error,
      @idempotency_key, @parent_id, @correlation_id, @created_at, @updated_at, @deadline_at, @owner, @lease_expires_at, @epoch)`),
    byKey: db.prepare<[string], WorkflowRow>('SELECT * FROM onex_workflows WHERE idempotency_key = ?'),
    byId: db.prepare<[string], WorkflowRow>('SELECT * FROM onex_workflows WHERE id = ?'),
    steps: db.prepare<[string], { data: string }>('SELECT data FROM onex_workflow_steps WHERE workflow_id = ?'),
    update: db.prepare<{
      id: string;
      epoch: number;
      status: string | null;
      setOutput: number;
      output: string | null;
      setError: number;
      error: string | null;
      updated_at: number | null;
      setDeadline: number;
      deadline_at: number | null;
    }>(`UPDATE onex_workflows SET
        status = COALESCE(@status, status),
        output = CASE WHEN @setOutput THEN @output ELSE output END,
        error = CASE WHEN @setError THEN @error ELSE error END,
        updated_at = COALESCE(@updated_at, updated_at),
        deadline_at = CASE WHEN @setDeadline THEN @deadline_at ELSE deadline_at END
      WHERE id = @id AND epoch = @epoch`),
    epochOf: db.prepare<[string], { epoch: number }>('SELECT epoch FROM onex_workflows WHERE id = ?'),
    upsertStep: db.prepare<[string, string, string]>(
      'INSERT INTO onex_workflow_steps (workflow_id, name, data) VALUES (?, ?, ?) ON CONFLICT (workflow_id, name) DO UPDATE SET data = excluded.data',
    ),
    claimable: db.prepare<[string, number, number], WorkflowRow>(
      `SELECT * FROM onex_workflows WHERE status NOT IN (${TERMINAL_SQL})
         AND (owner IS NULL OR owner = ? OR lease_expires_at IS NULL OR lease_expires_at <= ?) ORDER BY created_at LIMIT ?`,
    ),
    claimableOthers: db.prepare<[string, number, number], WorkflowRow>(
      `SELECT * FROM onex_workflows WHERE status NOT IN (${TERMINAL_SQL})
         AND (owner IS NULL OR (owner <> ? AND (lease_expires_at IS NULL OR lease_expires_at <= ?))) ORDER BY created_at LIMIT ?`,
    ),
    claim: db.prepare<[string, number, string, number]>(
      'UPDATE onex_workflows SET owner = ?, lease_expires_at = ?, epoch = epoch + 1 WHERE id = ? AND epoch = ?',
    ),
    renew: db.prepare<[number, string]>(`UPDATE onex_workflows SET lease_expires_at = ? WHERE owner = ? AND status NOT IN (${TERMINAL_SQL})`),
    purge: db.prepare<[number]>(`DELETE FROM onex_workflows WHERE status IN (${TERMINAL_SQL}) AND updated_at < ?`),
    count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM onex_workflows'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * The embedded default {@link WorkflowStore}: SQLite through better-sqlite3, in WAL mode. Every commit is one
 * SQLite transaction, so a workflow's state is always one the engine wrote as a whole.
 *
 * @example
 * ```ts
 * const store = new SqliteWorkflowStore({ path: './data/workflows.db' });
 * const orchestrator = new Orchestrator({ store, peers, workflows });
 * ```
 */
export class SqliteWorkflowStore implements WorkflowStore {
  readonly #db: Database.Database;
  readonly #retentionMs: number;
  #statements: Statements | undefined;
  // better-sqlite3 compiles a wrapper per transaction() call: make the hot one once.
  #commitTx: Database.Transaction<(id: string, epoch: number, change: WorkflowCommit) => void> | undefined;
  #purgeTimer: NodeJS.Timeout | undefined;

  constructor(options: SqliteWorkflowStoreOptions) {
    this.#db = new Database(options.path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('foreign_keys = ON');
    this.#retentionMs = options.retentionMs ?? 7 * 24 * 3_600_000;
  }

  get #s(): Statements {
    if (this.#statements === undefined) throw new OnexError(ErrorCode.Lifecycle, 'SqliteWorkflowStore used before init()');
    return this.#statements;
  }

  async init(): Promise<void> {
    if (this.#statements !== undefined) return;
    this.#db.exec(SCHEMA);
    this.#statements = prepareStatements(this.#db);
    this.#commitTx = this.#db.transaction((id: string, epoch: number, change: WorkflowCommit) => this.#applyCommit(id, epoch, change));
    if (this.#retentionMs > 0) {
      this.#purge();
      this.#purgeTimer = setInterval(() => this.#purge(), 3_600_000);
      this.#purgeTimer.unref();
    }
  }

  async create(record: WorkflowRecord): Promise<CreateResult> {
    const s = this.#s;
    return this.#db.transaction((): CreateResult => {
      if (record.idempotencyKey !== undefined) {
        const existing = s.byKey.get(record.idempotencyKey);
        if (existing !== undefined) return { created: false, record: this.#load(existing) };
      }
      try {
        s.insert.run({
          id: record.id,
          type: record.type,
          version: record.version,
          status: record.status,
          input: JSON.stringify(record.input ?? null),
          output: json(record.output),
          error: json(record.error),
          idempotency_key: record.idempotencyKey ?? null,
          parent_id: record.parentId ?? null,
          correlation_id: record.correlationId,
          created_at: record.createdAt,
          updated_at: record.updatedAt,
          deadline_at: record.deadlineAt ?? null,
          owner: record.owner ?? null,
          lease_expires_at: record.leaseExpiresAt ?? null,
          epoch: record.epoch,
        });
      } catch (error) {
        if ((error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new OnexError(ErrorCode.Conflict, `Workflow ${record.id} already exists`, { cause: error });
        }
        throw error;
      }
      for (const step of Object.values(record.steps)) s.upsertStep.run(record.id, step.name, JSON.stringify(step));
      return { created: true, record };
    }).immediate();
  }

  async commit(id: string, epoch: number, change: WorkflowCommit): Promise<void> {
    if (this.#commitTx === undefined) throw new OnexError(ErrorCode.Lifecycle, 'SqliteWorkflowStore used before init()');
    this.#commitTx.immediate(id, epoch, change);
  }

  #applyCommit(id: string, epoch: number, change: WorkflowCommit): void {
    const s = this.#s;
    const w = change.workflow ?? {};
    const result = s.update.run({
      id,
      epoch,
      status: w.status ?? null,
      setOutput: 'output' in w ? 1 : 0,
      output: json(w.output),
      setError: 'error' in w ? 1 : 0,
      error: json(w.error),
      updated_at: w.updatedAt ?? null,
      setDeadline: 'deadlineAt' in w ? 1 : 0,
      deadline_at: w.deadlineAt ?? null,
    });
    if (result.changes === 0) {
      const stored = s.epochOf.get(id);
      if (stored === undefined) throw new OnexError(ErrorCode.NotFound, `Workflow ${id} not found`);
      throw new OnexError(ErrorCode.Conflict, `Workflow ${id} is owned by a newer epoch`, { context: { epoch, stored: stored.epoch } });
    }
    for (const step of change.steps ?? []) s.upsertStep.run(id, step.name, JSON.stringify(step));
  }

  async get(id: string): Promise<WorkflowRecord | undefined> {
    const row = this.#s.byId.get(id);
    return row === undefined ? undefined : this.#load(row);
  }

  async list(filter: WorkflowFilter): Promise<readonly WorkflowSummary[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.status !== undefined) {
      const statuses = typeof filter.status === 'string' ? [filter.status] : [...filter.status];
      if (statuses.length === 0) return [];
      where.push(`status IN (${statuses.map(() => '?').join(', ')})`);
      params.push(...statuses);
    }
    if (filter.type !== undefined) {
      where.push('type = ?');
      params.push(filter.type);
    }
    const limit = Math.max(1, Math.min(filter.limit ?? 100, 1000));
    const sql = `SELECT * FROM onex_workflows ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT ${limit}`;
    if (this.#statements === undefined) throw new OnexError(ErrorCode.Lifecycle, 'SqliteWorkflowStore used before init()');
    return this.#db.prepare<(string | number)[], WorkflowRow>(sql).all(...params).map(summaryOf);
  }

  async claim(options: ClaimOptions): Promise<readonly WorkflowRecord[]> {
    const s = this.#s;
    return this.#db.transaction(() => {
      const query = options.includeOwn === false ? s.claimableOthers : s.claimable;
      const rows = query.all(options.owner, options.now, options.limit);
      const claimed: WorkflowRecord[] = [];
      for (const row of rows) {
        const leaseExpiresAt = options.now + options.leaseMs;
        if (s.claim.run(options.owner, leaseExpiresAt, row.id, row.epoch).changes === 1) {
          claimed.push(this.#load({ ...row, owner: options.owner, lease_expires_at: leaseExpiresAt, epoch: row.epoch + 1 }));
        }
      }
      return claimed;
    }).immediate();
  }

  async renewLeases(owner: string, leaseExpiresAt: number): Promise<void> {
    this.#s.renew.run(leaseExpiresAt, owner);
  }

  async health(): Promise<ComponentHealth> {
    try {
      const { n } = this.#s.count.get()!;
      return { status: HealthStatus.Healthy, data: { kind: 'sqlite', workflows: n } };
    } catch (error) {
      return { status: HealthStatus.Unhealthy, detail: error instanceof Error ? error.message : 'sqlite unavailable' };
    }
  }

  async close(): Promise<void> {
    if (this.#purgeTimer !== undefined) clearInterval(this.#purgeTimer);
    if (this.#db.open) this.#db.close();
  }

  #purge(): void {
    this.#s.purge.run(Date.now() - this.#retentionMs);
  }

  #load(row: WorkflowRow): WorkflowRecord {
    const steps: Record<string, StepRecord> = {};
    for (const { data } of this.#s.steps.all(row.id)) {
      const step = JSON.parse(data) as StepRecord;
      steps[step.name] = step;
    }
    const output = parse(row.output);
    return { ...summaryOf(row), input: parse(row.input), ...(output === undefined ? {} : { output }), steps };
  }
}
