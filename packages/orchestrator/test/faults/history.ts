// What happened to each workflow during a seed, for the report of a violation: the store calls every instance made
// for it (with the epoch and the steps they carried, and whether the answer came back), and the effects the peers
// applied. Bounded: the last LINES_PER_WORKFLOW lines of each workflow.
import type { StepRecord } from '../../src/store/workflow-record.js';

const LINES_PER_WORKFLOW = 40;

/** Per-workflow event lines, shared by every store wrapper and the peers' ledger of one seed. */
export class WorkflowHistory {
  readonly #lines = new Map<string, string[]>();
  readonly #started = performance.now();

  /** Adds one line to `id`'s history, stamped with the ms since the seed began. */
  add(id: string, line: string): void {
    let lines = this.#lines.get(id);
    if (lines === undefined) {
      lines = [];
      this.#lines.set(id, lines);
    }
    if (lines.length >= LINES_PER_WORKFLOW) lines.shift();
    lines.push(`${(performance.now() - this.#started).toFixed(0).padStart(6)} ms  ${line}`);
  }

  /** `id`'s lines, oldest first. */
  lines(id: string): readonly string[] {
    return this.#lines.get(id) ?? [];
  }
}

/** Steps as `name:status/attempts`, the part of a record that tells what was dispatched. */
export function stepsLine(steps: Readonly<Record<string, StepRecord>> | readonly StepRecord[] | undefined): string {
  if (steps === undefined) return '[]';
  const list = Array.isArray(steps) ? (steps as readonly StepRecord[]) : Object.values(steps as Readonly<Record<string, StepRecord>>);
  return `[${list.map((s) => `${s.name}:${s.status}/${s.attempts}`).join(' ')}]`;
}
