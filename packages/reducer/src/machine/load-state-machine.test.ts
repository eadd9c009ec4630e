import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, isOnexError, loadManifest, type OnexError } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { orderMachine } from '../../test/order-machine.js';
import { orderRegistry } from '../../test/order-registry.js';
import { loadStateMachine, loadStateMachineFile } from './load-state-machine.js';
import { reduce } from './reduce.js';
import type { AnyStateMachine, MachineSnapshot } from './state-machine.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');
const orderYaml = readFileSync(join(fixtures, 'order-fsm.yaml'), 'utf8');

function loadError(load: () => unknown): OnexError {
  try {
    load();
  } catch (error) {
    if (isOnexError(error)) return error;
    throw error;
  }
  throw new Error('expected the YAML to be rejected');
}

function replay(machine: AnyStateMachine, events: { type: string; payload: unknown }[]): { snapshot: MachineSnapshot; intents: string[] } {
  let snapshot: MachineSnapshot = machine.initialSnapshot();
  const intents: string[] = [];
  for (const event of events) {
    const r = reduce(machine, snapshot, event);
    if (!r.ok) throw r.error;
    snapshot = { state: r.value.state, context: r.value.context };
    intents.push(...r.value.intents.map((i) => i.type));
  }
  return { snapshot, intents };
}

describe('loadStateMachine', () => {
  it('loads the YAML subcontract into a machine that behaves like the TypeScript one', () => {
    const machine = loadStateMachine(orderYaml, { ...orderRegistry, source: 'order-fsm.yaml' });
    expect(machine.name).toBe('order');
    expect(machine.description).toBe('Order lifecycle');
    expect(machine.terminal).toEqual(orderMachine.terminal);
    const events = [
      { type: 'PRICE', payload: { total: 30 } },
      { type: 'RESERVE', payload: { reservationId: 'r-1' } },
      { type: 'PAY', payload: { amount: 10 } },
      { type: 'PAY', payload: { amount: 20 } },
      { type: 'CANCEL', payload: {} },
    ];
    const fromYaml = replay(machine, events);
    const fromTs = replay(orderMachine, events);
    expect(fromYaml).toEqual(fromTs);
    expect(fromYaml.snapshot.state).toBe('refunded');
    expect(fromYaml.intents).toEqual(['charge', 'ship', 'refund', 'release-stock']);
  });

  it('names the YAML path and line of an unknown function', () => {
    const yaml = orderYaml.replace('guard: paidInFull', 'guard: paidInFul');
    const error = loadError(() => loadStateMachine(yaml, { ...orderRegistry, source: 'order-fsm.yaml' }));
    expect(error.code).toBe(ErrorCode.Contract);
    expect(error.message).toBe(
      "Invalid state machine 'order' (order-fsm.yaml): transitions[2].guard (line 15, col 12): unknown guard 'paidInFul' (guards: paidInFull)",
    );
    expect(error.context).toMatchObject({ source: 'order-fsm.yaml', machine: 'order' });
  });

  it('names the YAML path of a graph error found by the definition checks', () => {
    const yaml = orderYaml.replace('{ from: paid, on: FULFIL, to: fulfilled', '{ from: paid, on: FULFIL, to: fulfiled');
    const error = loadError(() => loadStateMachine(yaml, orderRegistry));
    expect(error.message).toMatch(/^Invalid state machine 'order' \(fsm\.yaml\): transitions\[5\]\.to \(line 20, col 35\): unknown state 'fulfiled' .* \(and 1 more\)$/);
    expect(error.details).toContainEqual({ path: 'states[4] (line 4, col 43)', message: "state 'fulfilled' is unreachable from the initial state 'created'" });
  });

  it('names the path of a malformed document, and reports YAML syntax errors with their line', () => {
    const shape = loadError(() => loadStateMachine('name: m\nstates: [a]\ninitial: a\ntransitions:\n  - { from: a, on: GO, to: a, when: x }\n', orderRegistry));
    expect(shape.message).toContain("transitions[0] (line 5, col 5): Unrecognized key: \"when\"");
    const syntax = loadError(() => loadStateMachine('name: m\nstates: [a\n', orderRegistry));
    expect(syntax.message).toMatch(/^Invalid state machine \(fsm\.yaml\): YAML syntax error at line \d+, col \d+/);
  });

  it('composes lists of guards (all must pass) and updates (in order)', () => {
    const machine = loadStateMachine(
      `
name: counter
states: [open, closed]
initial: open
terminal: [closed]
transitions:
  - { from: open, on: ADD, to: open, guard: [positive, small], update: [add, double] }
  - { from: open, on: CLOSE, to: closed }
`,
      {
        context: z.object({ n: z.number().default(0) }),
        events: { ADD: z.object({ by: z.number() }), CLOSE: z.object({}) },
        guards: { positive: (_ctx, p: { by: number }) => p.by > 0, small: (_ctx, p: { by: number }) => p.by < 10 },
        updates: { add: (ctx, p: { by: number }) => ({ n: ctx.n + p.by }), double: (ctx) => ({ n: ctx.n * 2 }) },
      },
    );
    const r = reduce(machine, machine.initialSnapshot(), { type: 'ADD', payload: { by: 3 } });
    expect(r.ok && r.value.context).toEqual({ n: 6 });
    const big = reduce(machine, machine.initialSnapshot(), { type: 'ADD', payload: { by: 30 } });
    expect(!big.ok && big.error.context['reason']).toBe('GUARD_REJECTED');
  });

  it("loads the file a manifest's subcontracts name, relative to the manifest", async () => {
    const manifestPath = join(fixtures, 'manifest.yaml');
    const manifest = await loadManifest(manifestPath);
    const machine = await loadStateMachineFile(manifest.subcontracts['fsm']!, orderRegistry, { baseDir: dirname(manifestPath) });
    expect(machine.states).toEqual(orderMachine.states);
    await expect(loadStateMachineFile('missing.yaml', orderRegistry, { baseDir: fixtures })).rejects.toMatchObject({ code: ErrorCode.NotFound });
  });
});
