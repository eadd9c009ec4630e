import type { LooseDefinition } from './state-machine.js';

/**
 * One problem found in a state machine definition: where (`transitions[3].to`, `states[2]`) and what.
 *
 * @example
 * ```ts
 * const issue: DefinitionIssue = { path: 'transitions[3].to', message: "unknown state 'shiped'" };
 * ```
 */
export interface DefinitionIssue {
  readonly path: string;
  readonly message: string;
}

const MACHINE_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const MAX_MACHINE_NAME = 40;
const STATE_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const TRIGGER_NAME = /^[A-Za-z][A-Za-z0-9_.:-]*$/;

interface SchemaLike {
  safeParse(value: unknown): { success: true; data: unknown } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

function isSchema(value: unknown): value is SchemaLike {
  return typeof value === 'object' && value !== null && typeof (value as { safeParse?: unknown }).safeParse === 'function';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const quote = (value: unknown): string => (typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value));

interface CheckedTransition {
  readonly index: number;
  /** Explicit source states, or undefined for `'*'`. */
  readonly from: readonly string[] | undefined;
  readonly to: string;
  readonly on: string;
  readonly priority: number;
  readonly guarded: boolean;
}

/**
 * Validates a definition without trusting any of it (it may come from YAML or plain JavaScript) and returns every
 * issue found, plus the parsed initial context when it is valid.
 *
 * @internal Used by `defineStateMachine` and `loadStateMachine`.
 */
export function checkDefinition(definition: LooseDefinition): { issues: DefinitionIssue[]; initialContext: unknown } {
  const issues: DefinitionIssue[] = [];
  const add = (path: string, message: string): void => {
    issues.push({ path, message });
  };

  const { name } = definition;
  if (typeof name !== 'string' || !MACHINE_NAME.test(name) || name.length > MAX_MACHINE_NAME) {
    add('name', `${quote(name)} must be kebab-case, at most ${MAX_MACHINE_NAME} characters`);
  }

  // States
  const states = new Map<string, number>(); // name → index in the definition
  if (!Array.isArray(definition.states) || definition.states.length === 0) {
    add('states', 'must be a non-empty list of state names');
  } else {
    definition.states.forEach((state: unknown, i) => {
      if (typeof state !== 'string' || !STATE_NAME.test(state)) add(`states[${i}]`, `${quote(state)} is not a valid state name (a letter, then letters, digits, _ . -)`);
      else if (states.has(state)) add(`states[${i}]`, `duplicate state '${state}'`);
      else states.set(state, i);
    });
  }
  const knownState = (path: string, value: unknown): value is string => {
    if (typeof value === 'string' && states.has(value)) return true;
    add(path, `unknown state ${quote(value)}${states.size > 0 ? ` (states: ${[...states.keys()].join(', ')})` : ''}`);
    return false;
  };
  const initial = knownState('initial', definition.initial) ? definition.initial : undefined;
  const stateList = (field: 'terminal' | 'error'): Set<string> => {
    const out = new Set<string>();
    const value = definition[field];
    if (value === undefined) return out;
    if (!Array.isArray(value)) {
      add(field, 'must be a list of states');
      return out;
    }
    value.forEach((state: unknown, i) => {
      if (knownState(`${field}[${i}]`, state)) out.add(state);
    });
    return out;
  };
  const terminal = stateList('terminal');
  const error = stateList('error');

  // Events, intents, context
  const triggers = new Set<string>();
  if (!isRecord(definition.events) || Object.keys(definition.events).length === 0) {
    add('events', 'must map at least one trigger to the zod schema of its payload');
  } else {
    for (const [trigger, schema] of Object.entries(definition.events)) {
      if (!TRIGGER_NAME.test(trigger)) add(`events.${trigger}`, `'${trigger}' is not a valid trigger name (a letter, then letters, digits, _ . : -)`);
      else if (!isSchema(schema)) add(`events.${trigger}`, 'must be a zod schema');
      else triggers.add(trigger);
    }
  }
  if (definition.intents !== undefined) {
    if (!isRecord(definition.intents)) add('intents', 'must map intent types to zod schemas');
    else for (const [type, schema] of Object.entries(definition.intents)) if (!isSchema(schema)) add(`intents.${type}`, 'must be a zod schema');
  }
  let initialContext: unknown;
  if (!isSchema(definition.context)) {
    add('context', 'must be a zod schema');
  } else {
    const parsed = definition.context.safeParse(definition.initialContext ?? {});
    if (parsed.success) initialContext = parsed.data;
    else {
      const first = parsed.error.issues[0];
      const where = first === undefined || first.path.length === 0 ? '' : `${first.path.map(String).join('.')}: `;
      const hint = definition.initialContext === undefined ? ' (the context schema does not accept {}: give initialContext)' : '';
      add('initialContext', `${where}${first?.message ?? 'invalid'}${hint}`);
    }
  }

  // Transitions
  const checked: CheckedTransition[] = [];
  if (!Array.isArray(definition.transitions) || definition.transitions.length === 0) {
    add('transitions', 'must be a non-empty list');
  } else {
    definition.transitions.forEach((raw: unknown, index) => {
      const at = `transitions[${index}]`;
      if (!isRecord(raw)) {
        add(at, 'must be an object with from, on and to');
        return;
      }
      let ok = true;
      let from: readonly string[] | undefined;
      if (raw['from'] === '*') from = undefined;
      else {
        const list: unknown[] = typeof raw['from'] === 'string' ? [raw['from']] : Array.isArray(raw['from']) ? (raw['from'] as unknown[]) : [];
        if (list.length === 0) {
          add(`${at}.from`, "must be a state, a non-empty list of states, or '*'");
          ok = false;
        }
        const path = (i: number): string => (Array.isArray(raw['from']) ? `${at}.from[${i}]` : `${at}.from`);
        const seen = new Set<string>();
        list.forEach((state, i) => {
          if (!knownState(path(i), state)) ok = false;
          else if (seen.has(state)) {
            add(path(i), `'${state}' is listed twice`);
            ok = false;
          } else if (terminal.has(state)) {
            add(path(i), `'${state}' is terminal: no transition may leave it`);
            ok = false;
          } else seen.add(state);
        });
        from = [...seen];
      }
      const to = raw['to'];
      if (!knownState(`${at}.to`, to)) ok = false;
      const on = raw['on'];
      if (typeof on !== 'string' || !triggers.has(on)) {
        add(`${at}.on`, `unknown trigger ${quote(on)}${triggers.size > 0 ? ` (events: ${[...triggers].join(', ')})` : ''}`);
        ok = false;
      }
      const priority = raw['priority'] ?? 0;
      if (typeof priority !== 'number' || !Number.isFinite(priority)) {
        add(`${at}.priority`, 'must be a finite number');
        ok = false;
      }
      for (const fn of ['guard', 'update', 'emit'] as const) {
        if (raw[fn] !== undefined && typeof raw[fn] !== 'function') {
          add(`${at}.${fn}`, 'must be a function');
          ok = false;
        }
      }
      if (raw['description'] !== undefined && typeof raw['description'] !== 'string') add(`${at}.description`, 'must be a string');
      if (ok) checked.push({ index, from, to: to as string, on: on as string, priority: priority as number, guarded: raw['guard'] !== undefined });
    });
  }

  checkAmbiguity(checked, add);
  if (initial !== undefined && states.size > 0) checkGraph({ states, initial, terminal, error, transitions: checked }, add);
  return { issues, initialContext };
}

/**
 * Two transitions on one trigger, at one priority and specificity, whose sources overlap, are ambiguous unless both
 * are guarded (then the first whose guard passes fires, in definition order).
 */
function checkAmbiguity(transitions: readonly CheckedTransition[], add: (path: string, message: string) => void): void {
  for (let j = 0; j < transitions.length; j += 1) {
    const b = transitions[j]!;
    for (let i = 0; i < j; i += 1) {
      const a = transitions[i]!;
      if (a.on !== b.on || a.priority !== b.priority || (a.from === undefined) !== (b.from === undefined)) continue;
      if (a.guarded && b.guarded) continue;
      const overlap = a.from === undefined ? ['*'] : a.from.filter((s) => b.from!.includes(s));
      if (overlap.length === 0) continue;
      const where = overlap[0] === '*' ? "from '*'" : `from '${overlap[0]}'`;
      const hint = a.guarded || b.guarded ? 'give the guarded one a higher priority' : 'give them guards and different priorities, or remove one';
      add(`transitions[${b.index}]`, `duplicates transitions[${a.index}] (on ${b.on} ${where} at priority ${b.priority}): ${hint}`);
      break;
    }
  }
}

interface Graph {
  readonly states: ReadonlyMap<string, number>;
  readonly initial: string;
  readonly terminal: ReadonlySet<string>;
  readonly error: ReadonlySet<string>;
  readonly transitions: readonly CheckedTransition[];
}

/** Reachability from the initial state (BFS) and dead ends: non-terminal, non-error states nothing leaves. */
function checkGraph(graph: Graph, add: (path: string, message: string) => void): void {
  const live = (state: string): boolean => !graph.terminal.has(state);
  const edges = new Map<string, Set<string>>();
  for (const t of graph.transitions) {
    const sources = t.from ?? [...graph.states.keys()].filter(live);
    for (const s of sources) {
      const out = edges.get(s) ?? new Set<string>();
      out.add(t.to);
      edges.set(s, out);
    }
  }
  const reached = new Set<string>([graph.initial]);
  const queue = [graph.initial];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const to of edges.get(next) ?? []) {
      if (!reached.has(to)) {
        reached.add(to);
        queue.push(to);
      }
    }
  }
  for (const [state, i] of graph.states) {
    if (!reached.has(state)) add(`states[${i}]`, `state '${state}' is unreachable from the initial state '${graph.initial}'`);
    else if (live(state) && !graph.error.has(state) && (edges.get(state)?.size ?? 0) === 0) {
      add(`states[${i}]`, `state '${state}' has no transition out: list it in terminal (or error)`);
    }
  }
}
