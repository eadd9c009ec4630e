/**
 * What a schedule does when a tick comes while the workflow it started last is still unfinished:
 * - `skip`: starts nothing for that tick;
 * - `buffer-one`: keeps that tick (one at most; later ones are skipped) and starts it once the last one finished;
 * - `allow`: starts it anyway (runs may overlap).
 */
export type ScheduleOverlap = 'skip' | 'buffer-one' | 'allow';

/**
 * What a schedule does with ticks that passed while no instance ran it (downtime; a tick is on time while less than
 * a minute late, or one period when shorter):
 * - `none`: starts none of them;
 * - `latest`: starts the most recent one;
 * - `all`: starts every one, oldest first (at most {@link MAX_CATCH_UP_TICKS} per look).
 */
export type ScheduleCatchUp = 'none' | 'latest' | 'all';

/** Most missed ticks one look of the scheduler starts under `catchUp: 'all'` (the rest at the next look). */
export const MAX_CATCH_UP_TICKS = 1_000;

/** Most schedules a store keeps. */
export const MAX_SCHEDULES = 10_000;

/**
 * A stored schedule: its definition, and how far it got. `lastTickAt` is the last tick handled (started, skipped or
 * buffered); the next tick is the cron's first time after it. `revision` is bumped at every write: writes carry the
 * revision they read, so two instances handling the same tick write it once.
 */
export interface ScheduleRecord {
  readonly id: string;
  readonly cron: string;
  /** IANA time zone the cron is read in (`Europe/Stockholm`); absent: UTC. */
  readonly timezone?: string;
  /** The workflow type it starts, and its version (absent: the highest registered at each start). */
  readonly workflow: string;
  readonly version?: string;
  readonly input: unknown;
  readonly overlap: ScheduleOverlap;
  readonly catchUp: ScheduleCatchUp;
  readonly paused: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly lastTickAt: number;
  /** The workflow it started last (for `overlap`). */
  readonly lastWorkflowId?: string;
  /** The tick `buffer-one` keeps until the last workflow finished. */
  readonly bufferedTickAt?: number;
  readonly revision: number;
}

/**
 * Where schedules live: the memory, SQLite and PostgreSQL workflow stores implement it beside `WorkflowStore`, in
 * the same database. Every instance reads them; a write carries the revision it read, so concurrent writers of
 * one schedule never both win.
 */
export interface ScheduleStore {
  /** The schedule, or undefined. */
  getSchedule(id: string): Promise<ScheduleRecord | undefined>;
  /** Every schedule (at most {@link MAX_SCHEDULES}), by id. */
  listSchedules(): Promise<readonly ScheduleRecord[]>;
  /**
   * Writes `record` if the stored revision is `expectedRevision` (`null`: only if no schedule has its id). The
   * record carries its new revision. False when another write came first (or, to create, the id is taken, or the
   * store holds {@link MAX_SCHEDULES}).
   */
  putSchedule(record: ScheduleRecord, expectedRevision: number | null): Promise<boolean>;
  /** Deletes the schedule; false when there was none. */
  deleteSchedule(id: string): Promise<boolean>;
}

/** True when `store` keeps schedules as well (the bundled workflow stores do). */
export function isScheduleStore(store: unknown): store is ScheduleStore {
  const s = store as Partial<ScheduleStore> | null;
  return typeof s?.getSchedule === 'function' && typeof s.listSchedules === 'function' && typeof s.putSchedule === 'function' && typeof s.deleteSchedule === 'function';
}
