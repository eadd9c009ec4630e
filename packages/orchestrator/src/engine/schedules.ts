import { ErrorCode, OnexError, toOnexError, type Clock } from '@onex/core';
import type { ScheduleRecord, ScheduleStore } from '../store/schedule-store.js';
import type { AnyWorkflowDefinition } from '../workflow/definition.js';
import { compileCron, nextTick, type Schedule, type Scheduler, type ScheduleSpec } from './scheduler.js';

const SCHEDULE_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,127}$/;
const OVERLAPS = new Set(['skip', 'buffer-one', 'allow']);
const CATCH_UPS = new Set(['none', 'latest', 'all']);
/** Most times a write is tried again when another instance wrote the schedule first. */
const WRITE_ATTEMPTS = 10;

/** What {@link Schedules} needs from its orchestrator. */
export interface SchedulesDependencies {
  readonly store: ScheduleStore | undefined;
  readonly clock: Clock;
  readonly scheduler: Scheduler | undefined;
  /** The registered definition (throws NOT_FOUND). */
  readonly definition: (type: string, version?: string) => AnyWorkflowDefinition;
}

/**
 * Cron schedules that start workflows, kept in the orchestrator's store (the memory, SQLite and PostgreSQL stores
 * keep them), so every instance on the store runs them and each tick starts one workflow, under the idempotency key
 * `schedule:<id>:<tick as ISO date>`. `orchestrator.schedules` is one; `POST /v1/schedules` and the routes beside it
 * answer the same.
 *
 * @example
 * ```ts
 * await orchestrator.schedules.create({ id: 'fulfil-hourly', cron: '0 * * * *', workflow: 'fulfil', input: order });
 * await orchestrator.schedules.pause('fulfil-hourly');
 * console.log((await orchestrator.schedules.list()).map((s) => `${s.id} paused=${s.paused}`));
 * await orchestrator.schedules.delete('fulfil-hourly');
 * ```
 */
export class Schedules {
  readonly #deps: SchedulesDependencies;

  constructor(deps: SchedulesDependencies) {
    this.#deps = deps;
  }

  /**
   * Creates a schedule, or updates the one with its id (keeping how far it got and whether it is paused). Its first
   * tick is the cron's first time after now.
   *
   * @throws OnexError `VALIDATION` (a bad id, cron, time zone, policy or input), `NOT_FOUND` (the workflow type or
   *   version is not registered, or the store keeps no schedules), `OVERLOADED` (the store holds the most
   *   schedules).
   */
  async create(spec: ScheduleSpec): Promise<Schedule> {
    const store = this.#store();
    const checked = this.#check(spec);
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt += 1) {
      const now = this.#deps.clock.now();
      const current = await store.getSchedule(checked.id);
      const record: ScheduleRecord =
        current === undefined
          ? { ...checked, paused: false, createdAt: now, updatedAt: now, lastTickAt: now, revision: 1 }
          : { ...withoutSpec(current), ...checked, updatedAt: now, revision: current.revision + 1 };
      if (await store.putSchedule(record, current?.revision ?? null)) {
        this.#deps.scheduler?.poke();
        return withNext(record);
      }
      if (current === undefined && (await store.getSchedule(checked.id)) === undefined) {
        throw new OnexError(ErrorCode.Overloaded, 'The store holds the most schedules it may', { retryable: false });
      }
    }
    throw new OnexError(ErrorCode.Conflict, `Schedule ${spec.id} kept changing while it was written`, { retryable: true, context: { id: spec.id } });
  }

  /**
   * The schedule.
   *
   * @throws OnexError `NOT_FOUND`.
   */
  async get(id: string): Promise<Schedule> {
    const record = await this.#store().getSchedule(id);
    if (record === undefined) throw notFound(id);
    return withNext(record);
  }

  /** Every schedule, by id. */
  async list(): Promise<readonly Schedule[]> {
    return (await this.#store().listSchedules()).map(withNext);
  }

  /**
   * Pauses a schedule: no tick starts anything until it is resumed.
   *
   * @throws OnexError `NOT_FOUND`.
   */
  async pause(id: string): Promise<Schedule> {
    return this.#update(id, (record, now) => ({ ...record, paused: true, updatedAt: now }));
  }

  /**
   * Resumes a paused schedule from now: the ticks that passed while it was paused start nothing.
   *
   * @throws OnexError `NOT_FOUND`.
   */
  async resume(id: string): Promise<Schedule> {
    const resumed = await this.#update(id, (record, now) => (record.paused ? { ...record, paused: false, lastTickAt: now, updatedAt: now } : record));
    this.#deps.scheduler?.poke();
    return resumed;
  }

  /**
   * Deletes a schedule (the workflows it started go on).
   *
   * @throws OnexError `NOT_FOUND`.
   */
  async delete(id: string): Promise<void> {
    if (!(await this.#store().deleteSchedule(id))) throw notFound(id);
  }

  async #update(id: string, change: (record: ScheduleRecord, now: number) => ScheduleRecord): Promise<Schedule> {
    const store = this.#store();
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt += 1) {
      const current = await store.getSchedule(id);
      if (current === undefined) throw notFound(id);
      const next = change(current, this.#deps.clock.now());
      if (next === current) return withNext(current);
      const written = { ...next, revision: current.revision + 1 };
      if (await store.putSchedule(written, current.revision)) return withNext(written);
    }
    throw new OnexError(ErrorCode.Conflict, `Schedule ${id} kept changing while it was written`, { retryable: true, context: { id } });
  }

  #store(): ScheduleStore {
    const store = this.#deps.store;
    if (store === undefined) throw new OnexError(ErrorCode.NotFound, "This orchestrator's store keeps no schedules (give it a scheduleStore)");
    return store;
  }

  /** The spec's fields as stored, checked. */
  #check(spec: ScheduleSpec): Pick<ScheduleRecord, 'id' | 'cron' | 'timezone' | 'workflow' | 'version' | 'input' | 'overlap' | 'catchUp'> {
    if (typeof spec.id !== 'string' || !SCHEDULE_ID.test(spec.id)) {
      throw new OnexError(ErrorCode.Validation, "Schedule id must be 1-128 letters, digits, '_', '.', ':' or '-'", { context: { id: String(spec.id) } });
    }
    const overlap = spec.overlap ?? 'skip';
    const catchUp = spec.catchUp ?? 'none';
    if (!OVERLAPS.has(overlap)) throw new OnexError(ErrorCode.Validation, `Schedule overlap must be skip, buffer-one or allow (got ${String(overlap)})`);
    if (!CATCH_UPS.has(catchUp)) throw new OnexError(ErrorCode.Validation, `Schedule catchUp must be none, latest or all (got ${String(catchUp)})`);
    const cron = compileCron(spec.cron, spec.timezone);
    if (nextTick(cron, this.#deps.clock.now()) === undefined) throw new OnexError(ErrorCode.Validation, `Schedule cron '${spec.cron}' has no time to come`);
    const definition = this.#deps.definition(spec.workflow, spec.version);
    const parsed = definition.input.safeParse(spec.input);
    if (!parsed.success) throw toOnexError(parsed.error);
    return {
      id: spec.id,
      cron: spec.cron,
      workflow: spec.workflow,
      input: spec.input,
      overlap,
      catchUp,
      ...(spec.timezone === undefined ? {} : { timezone: spec.timezone }),
      ...(spec.version === undefined ? {} : { version: spec.version }),
    };
  }
}

/** A stored record without the fields a create sets again (so an update drops a cleared timezone or version). */
function withoutSpec(record: ScheduleRecord): Omit<ScheduleRecord, 'timezone' | 'version'> {
  const { timezone: _timezone, version: _version, ...rest } = record;
  return rest;
}

function withNext(record: ScheduleRecord): Schedule {
  if (record.paused) return record;
  const next = nextTick(compileCron(record.cron, record.timezone), record.lastTickAt);
  return next === undefined ? record : { ...record, nextTickAt: next };
}

function notFound(id: string): OnexError {
  return new OnexError(ErrorCode.NotFound, `Schedule ${id} not found`, { context: { id } });
}
