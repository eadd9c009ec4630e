import { ErrorCode, OnexError } from '@onex/core';
import type { AnyWorkflowDefinition } from './definition.js';

const NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

/** A `CONTRACT` error naming the workflow (and the step, when there is one). */
export function definitionError(type: string, message: string, step?: string): OnexError {
  return new OnexError(ErrorCode.Contract, `Invalid workflow '${type}': ${message}`, {
    context: step === undefined ? { workflow: type } : { workflow: type, step },
  });
}

/**
 * Checks a definition: step names valid and unique, dependencies known, no cycles, one payload schema per signal
 * name. Errors name the step.
 * Runs in `returns()`, and again on registration for definitions built by hand.
 *
 * @throws OnexError `CONTRACT` naming the workflow and the step at fault.
 * @example
 * ```ts
 * const handBuilt: AnyWorkflowDefinition = { ...fulfil, steps: [...fulfil.steps, ...fulfil.steps] };
 * try {
 *   validateWorkflowDefinition(handBuilt);
 * } catch (error) {
 *   console.log((error as Error).message); // Invalid workflow 'fulfil': duplicate step 'price'
 * }
 * ```
 */
export function validateWorkflowDefinition(definition: AnyWorkflowDefinition): void {
  const names = new Set<string>();
  for (const step of definition.steps) {
    if (!NAME.test(step.name)) throw definitionError(definition.type, `step name '${step.name}' is invalid`, step.name);
    if (names.has(step.name)) throw definitionError(definition.type, `duplicate step '${step.name}'`, step.name);
    names.add(step.name);
  }
  if (definition.steps.length === 0) throw definitionError(definition.type, 'a workflow needs at least one step');
  // A signal is checked once, when it is sent, by the schema of the waits for its name: they must share one.
  const schemas = new Map<string, unknown>();
  for (const step of definition.steps) {
    if (step.target.kind !== 'signal') continue;
    const known = schemas.get(step.target.signal);
    if (known !== undefined && known !== step.target.schema) {
      throw definitionError(definition.type, `waits for signal '${step.target.signal}' must share one schema`, step.name);
    }
    schemas.set(step.target.signal, step.target.schema);
  }
  for (const step of definition.steps) {
    for (const dep of step.dependsOn) {
      if (!names.has(dep)) throw definitionError(definition.type, `step '${step.name}' depends on unknown step '${dep}'`, step.name);
      if (dep === step.name) throw definitionError(definition.type, `step '${step.name}' depends on itself`, step.name);
    }
  }
  // Kahn's algorithm: whatever is left once no step is free is on a cycle.
  const remaining = new Map(definition.steps.map((s) => [s.name, new Set(s.dependsOn)]));
  let progressed = true;
  while (progressed && remaining.size > 0) {
    progressed = false;
    for (const [name, deps] of remaining) {
      if (deps.size === 0) {
        remaining.delete(name);
        for (const other of remaining.values()) other.delete(name);
        progressed = true;
      }
    }
  }
  if (remaining.size > 0) {
    const cycle = [...remaining.keys()];
    throw definitionError(definition.type, `dependency cycle through steps ${cycle.map((s) => `'${s}'`).join(', ')}`, cycle[0]);
  }
}
