import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { ErrorCode, OnexError, type Schema } from '@onex/core';
import { isCollection, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { checkDefinition, type DefinitionIssue } from './check-definition.js';
import { buildMachine, definitionError, type EmittedIntent, type EventSchemas, type IntentSchemas, type StateMachine, type StateMachineDefinition } from './state-machine.js';

/** The union of a machine's parsed payloads. */
type PayloadUnion<TEvents extends EventSchemas> = { [K in keyof TEvents]: z.output<TEvents[K]> }[keyof TEvents];

// Declared through a method so the parameters are checked bivariantly: a function written for one trigger's payload
// (`(ctx, p: { amount: number }) => …`) fits, and an inline one sees the union of every payload.
type Bivariant<TFn extends (...args: never[]) => unknown> = { fn(...args: Parameters<TFn>): ReturnType<TFn> }['fn'];

/**
 * The code a YAML state machine refers to by name: the schemas (context, events, intents) and the guard, update
 * and emit functions its transitions name. A YAML file holds the graph; the functions stay typed TypeScript.
 *
 * A function may be named by transitions on several triggers, so its payload is typed as the union of every
 * trigger's payload; a function written for one trigger (`(ctx, p: { amount: number }) => …`) is accepted too —
 * reduce parses the payload with the trigger's schema before any function sees it.
 *
 * @example
 * ```ts
 * const registry: StateMachineRegistry<typeof events, typeof Context, typeof intents> = {
 *   context: Context, events, intents,
 *   guards: { paidInFull: (ctx, p: { amount: number }) => ctx.paid + p.amount >= ctx.total },
 *   updates: { addPayment: (ctx, p: { amount: number }) => ({ ...ctx, paid: ctx.paid + p.amount }) },
 *   emitters: { ship: (ctx) => [{ type: 'ship', payload: { reservation: ctx.reservation ?? '' } }] },
 * };
 * ```
 */
export interface StateMachineRegistry<TEvents extends EventSchemas, TContext extends Schema, TIntents extends IntentSchemas> {
  readonly context: TContext;
  readonly initialContext?: z.input<TContext>;
  readonly events: TEvents;
  readonly intents?: TIntents;
  readonly guards?: Readonly<Record<string, Bivariant<(context: z.output<TContext>, payload: PayloadUnion<TEvents>) => boolean>>>;
  readonly updates?: Readonly<Record<string, Bivariant<(context: z.output<TContext>, payload: PayloadUnion<TEvents>) => z.output<TContext>>>>;
  readonly emitters?: Readonly<
    Record<string, Bivariant<(context: z.output<TContext>, payload: PayloadUnion<TEvents>, previous: z.output<TContext>) => readonly EmittedIntent<TIntents>[]>>
  >;
}

/**
 * Options of {@link loadStateMachine}: the registry, and the name of the source for error messages.
 *
 * @example
 * ```ts
 * const options: LoadStateMachineOptions<typeof events, typeof Context, typeof intents> = { ...registry, source: 'order-fsm.yaml' };
 * ```
 */
export interface LoadStateMachineOptions<TEvents extends EventSchemas, TContext extends Schema, TIntents extends IntentSchemas>
  extends StateMachineRegistry<TEvents, TContext, TIntents> {
  /** Where the YAML came from, named in errors. Default `'fsm.yaml'`. */
  readonly source?: string;
}

const names = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const YamlMachine = z
  .object({
    name: z.string(),
    description: z.string().optional(),
    states: z.array(z.string()).min(1),
    initial: z.string(),
    terminal: z.array(z.string()).optional(),
    error: z.array(z.string()).optional(),
    transitions: z
      .array(
        z
          .object({
            from: z.union([z.string(), z.array(z.string())]),
            on: z.string(),
            to: z.string(),
            guard: names.optional(),
            update: names.optional(),
            emit: names.optional(),
            priority: z.number().optional(),
            description: z.string().optional(),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

type PathSegment = string | number;

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out === '' ? '(root)' : out;
}

function parsePath(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(match[2] === undefined ? match[1]! : Number(match[2]));
  return out;
}

type AnyFn = (...args: never[]) => unknown;

/**
 * Loads a state machine from a YAML subcontract — states, initial, terminal and error states, and transitions
 * whose `guard`, `update` and `emit` name functions of the registry (a name or a list: guards must all pass,
 * updates run in order, intents are concatenated). The machine is validated like {@link defineStateMachine}'s;
 * errors are `CONTRACT` and name the YAML path and line, e.g.
 * `Invalid state machine 'order' (order-fsm.yaml): transitions[2].guard (line 18, col 12): unknown guard 'paidInFul' (guards: paidInFull)`.
 *
 * It fits a node manifest's `subcontracts: { fsm: ./order-fsm.yaml }` (see {@link loadStateMachineFile}).
 *
 * @example
 * ```ts
 * import { loadStateMachine } from '@onex/reducer';
 * const machine = loadStateMachine(`
 * name: door
 * states: [closed, open]
 * initial: closed
 * transitions:
 *   - { from: closed, on: OPEN, to: open, update: countOpen }
 *   - { from: open, on: CLOSE, to: closed }
 * `, {
 *   context: z.object({ opened: z.number().default(0) }),
 *   events: { OPEN: z.object({}), CLOSE: z.object({}) },
 *   updates: { countOpen: (ctx) => ({ opened: ctx.opened + 1 }) },
 * });
 * ```
 */
export function loadStateMachine<TEvents extends EventSchemas, TContext extends Schema, TIntents extends IntentSchemas = Readonly<Record<string, z.ZodUnknown>>>(
  yamlText: string,
  options: LoadStateMachineOptions<TEvents, TContext, TIntents>,
): StateMachine<string, TEvents, TContext, TIntents> {
  const source = options.source ?? 'fsm.yaml';
  const lines = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter: lines, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const pos = lines.linePos(syntax.pos[0]);
    throw new OnexError(ErrorCode.Contract, `Invalid state machine (${source}): YAML syntax error at line ${pos.line}, col ${pos.col}: ${syntax.message.split('\n')[0] ?? ''}`, {
      context: { source },
    });
  }
  const where = (path: string): string => {
    const node: unknown = doc.getIn(parsePath(path), true);
    const offset = isScalar(node) || isCollection(node) ? node.range?.[0] : undefined;
    if (offset === undefined) return path;
    const { line, col } = lines.linePos(offset);
    return `${path} (line ${line}, col ${col})`;
  };
  const locate = (issues: readonly DefinitionIssue[]): DefinitionIssue[] => issues.map((issue) => ({ path: where(issue.path), message: issue.message }));

  const raw: unknown = doc.toJS();
  const shape = YamlMachine.safeParse(raw);
  const name = typeof (raw as { name?: unknown } | null)?.name === 'string' ? (raw as { name: string }).name : '(unnamed)';
  if (!shape.success) {
    throw definitionError(name, locate(shape.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }))), source);
  }
  const yaml = shape.data;

  const issues: DefinitionIssue[] = [];
  const resolve = (kind: 'guard' | 'update' | 'emit', registry: Readonly<Record<string, AnyFn>> | undefined, value: string | string[] | undefined, at: string): AnyFn[] | undefined => {
    if (value === undefined) return undefined;
    const list = typeof value === 'string' ? [value] : value;
    const fns: AnyFn[] = [];
    list.forEach((fnName, i) => {
      const fn = registry !== undefined && Object.hasOwn(registry, fnName) ? registry[fnName] : undefined;
      if (typeof fn === 'function') fns.push(fn);
      else {
        const known = Object.keys(registry ?? {});
        const label = kind === 'emit' ? 'emitter' : kind;
        issues.push({
          path: typeof value === 'string' ? `${at}.${kind}` : `${at}.${kind}[${i}]`,
          message: `unknown ${label} '${fnName}' (${label}s: ${known.length === 0 ? 'none registered' : known.join(', ')})`,
        });
      }
    });
    return fns;
  };

  type Ctx = z.output<TContext>;
  const transitions = yaml.transitions.map((t, index) => {
    const at = `transitions[${index}]`;
    const guards = resolve('guard', options.guards, t.guard, at) as ((c: Ctx, p: unknown) => boolean)[] | undefined;
    const updates = resolve('update', options.updates, t.update, at) as ((c: Ctx, p: unknown) => Ctx)[] | undefined;
    const emitters = resolve('emit', options.emitters, t.emit, at) as ((c: Ctx, p: unknown, prev: Ctx) => readonly unknown[])[] | undefined;
    return {
      from: t.from,
      on: t.on,
      to: t.to,
      ...(t.priority === undefined ? {} : { priority: t.priority }),
      ...(t.description === undefined ? {} : { description: t.description }),
      ...(guards === undefined ? {} : { guard: guards.length === 1 ? guards[0]! : (c: Ctx, p: unknown) => guards.every((g) => g(c, p)) }),
      ...(updates === undefined ? {} : { update: updates.length === 1 ? updates[0]! : (c: Ctx, p: unknown) => updates.reduce((acc, u) => u(acc, p), c) }),
      ...(emitters === undefined ? {} : { emit: emitters.length === 1 ? emitters[0]! : (c: Ctx, p: unknown, prev: Ctx) => emitters.flatMap((e) => e(c, p, prev)) }),
    };
  });

  const definition = {
    name: yaml.name,
    ...(yaml.description === undefined ? {} : { description: yaml.description }),
    states: yaml.states,
    initial: yaml.initial,
    ...(yaml.terminal === undefined ? {} : { terminal: yaml.terminal }),
    ...(yaml.error === undefined ? {} : { error: yaml.error }),
    context: options.context,
    ...(options.initialContext === undefined ? {} : { initialContext: options.initialContext }),
    events: options.events,
    ...(options.intents === undefined ? {} : { intents: options.intents }),
    transitions,
  };
  const checked = checkDefinition(definition);
  const all = [...issues, ...checked.issues];
  if (all.length > 0) throw definitionError(yaml.name, locate(all), source);
  return buildMachine(definition as unknown as StateMachineDefinition<string, TEvents, TContext, TIntents>, checked.initialContext as z.output<TContext>);
}

/**
 * Reads a YAML state machine file and loads it with {@link loadStateMachine}; a relative path is resolved against
 * `baseDir` (the manifest's folder, for a manifest's `subcontracts.fsm`).
 *
 * @example
 * ```ts
 * import { dirname } from 'node:path';
 * import { loadManifest } from '@onex/core';
 * const manifestPath = new URL('./manifest.yaml', import.meta.url).pathname;
 * const manifest = await loadManifest(manifestPath);
 * const machine = await loadStateMachineFile(manifest.subcontracts['fsm']!, registry, { baseDir: dirname(manifestPath) });
 * ```
 */
export async function loadStateMachineFile<TEvents extends EventSchemas, TContext extends Schema, TIntents extends IntentSchemas = Readonly<Record<string, z.ZodUnknown>>>(
  path: string,
  registry: StateMachineRegistry<TEvents, TContext, TIntents>,
  options: { readonly baseDir?: string } = {},
): Promise<StateMachine<string, TEvents, TContext, TIntents>> {
  const file = options.baseDir === undefined || isAbsolute(path) ? path : resolvePath(options.baseDir, path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new OnexError(ErrorCode.NotFound, `State machine file not found: ${file}`, { cause: error, context: { path: file } });
  }
  return loadStateMachine(text, { ...registry, source: path });
}
