import { ErrorCode, OnexError, type NodeClient, type NodeContract } from '@onex/core';
import type { RunnableType } from '../store/workflow-store.js';
import type { AnyWorkflowDefinition } from '../workflow/definition.js';
import { validateWorkflowDefinition } from '../workflow/validate-definition.js';

/** Orders semantic versions by major, minor, patch (a pre-release sorts with its release). */
export function semverCompare(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < 3; i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * What an orchestrator can run: its peers by name, and its workflow definitions by type and version. An instance
 * claims only workflows of the types and versions registered here ({@link WorkflowRegistry.runnable}).
 */
export class WorkflowRegistry {
  readonly #peers = new Map<string, NodeClient<NodeContract>>();
  readonly #definitions = new Map<string, Map<string, AnyWorkflowDefinition>>();
  #runnable: readonly RunnableType[] = [];

  /** The peers by name, as the runs call them. */
  get peers(): ReadonlyMap<string, NodeClient<NodeContract>> {
    return this.#peers;
  }

  /** The types and versions registered, as claims filter on them. */
  get runnable(): readonly RunnableType[] {
    return this.#runnable;
  }

  /** Adds (or replaces) a peer. */
  registerPeer(name: string, client: NodeClient<NodeContract>): void {
    this.#peers.set(name, client);
  }

  /**
   * Registers a definition and the nested workflows it uses. Checks the DAG and that every peer a step or
   * compensation names is registered.
   *
   * @throws OnexError `CONTRACT` naming the step at fault.
   */
  register(definition: AnyWorkflowDefinition): void {
    validateWorkflowDefinition(definition);
    for (const step of definition.steps) {
      const peers = [step.target.kind === 'peer' ? step.target.peer : undefined, step.compensate?.peer];
      for (const name of peers) {
        if (name !== undefined && !this.#peers.has(name)) {
          throw new OnexError(ErrorCode.Contract, `Invalid workflow '${definition.type}': step '${step.name}' names unknown peer '${name}'`, {
            context: { workflow: definition.type, step: step.name, peer: name },
          });
        }
      }
      if (step.target.kind === 'workflow') this.register(step.target.workflow);
    }
    let versions = this.#definitions.get(definition.type);
    if (versions === undefined) {
      versions = new Map();
      this.#definitions.set(definition.type, versions);
    }
    versions.set(definition.version, definition);
    this.#runnable = [...this.#definitions].flatMap(([type, byVersion]) => [...byVersion.keys()].map((version) => ({ type, version })));
  }

  /**
   * The definition for a type (and version, default the highest).
   *
   * @throws OnexError `NOT_FOUND` for a type or version not registered.
   */
  definition(type: string, version?: string): AnyWorkflowDefinition {
    const versions = this.#definitions.get(type);
    if (versions === undefined) throw new OnexError(ErrorCode.NotFound, `Unknown workflow type '${type}'`, { context: { type } });
    if (version !== undefined) {
      const found = versions.get(version);
      if (found === undefined) throw new OnexError(ErrorCode.NotFound, `Unknown version ${version} of workflow '${type}'`, { context: { type, version } });
      return found;
    }
    const latest = [...versions.keys()].sort(semverCompare).at(-1)!;
    return versions.get(latest)!;
  }
}
