import { ErrorCode, OnexError } from '@onex/core';
import type { AnyWorkflowDefinition } from '../workflow/definition.js';
import { validateWorkflowDefinition } from '../workflow/validate-definition.js';

/**
 * What an orchestrator is, as a pure value: its name and contract version, and the workflows it runs. The first
 * argument of `new Orchestrator(definition, options)`; everything it runs with (store, peers, limits, logger,
 * clock) comes with the options, so one definition can be served, tested and run in replicas alike.
 *
 * @example
 * ```ts
 * const definition: OrchestratorDefinition = { name: 'fulfilment', version: '1.0.0', workflows: [fulfil] };
 * const orchestrator = new Orchestrator(definition, { store, peers });
 * ```
 */
export interface OrchestratorDefinition {
  /** Node name (kebab-case) in health, metrics, logs and `GET /contract`. Default `orchestrator`. */
  readonly name?: string;
  /** Version of the node's contract. Default `0.1.0`. */
  readonly version?: string;
  /** What the node does, for `GET /contract`. */
  readonly description?: string;
  /** The workflow definitions it runs; nested workflows their steps use are registered with them. */
  readonly workflows: readonly AnyWorkflowDefinition[];
}

/**
 * Checks and freezes an {@link OrchestratorDefinition}: every workflow a valid DAG, no type and version given twice.
 * The orchestrator checks the rest (every peer a step names is among its `peers`) when it is constructed.
 *
 * @throws OnexError `CONTRACT` naming the workflow (and step) at fault.
 * @example
 * ```ts
 * import { createNodeClient, defineContract, NodeKind } from '@onex/core';
 * import { defineOrchestrator, defineWorkflow, MemoryWorkflowStore, Orchestrator, peer } from '@onex/orchestrator';
 * import { z } from 'zod';
 *
 * const echo = peer('echo', defineContract({ name: 'echo', kind: NodeKind.Compute, version: '1.0.0', input: z.string(), output: z.string() }));
 * const shout = defineWorkflow({ type: 'shout', version: '1.0.0', input: z.string(), output: z.string() })
 *   .step('echo', { target: echo, input: ({ input }) => input.toUpperCase() })
 *   .returns(({ steps }) => steps.echo);
 *
 * const definition = defineOrchestrator({ name: 'shouter', workflows: [shout] });
 * const echoClient = createNodeClient('http://127.0.0.1:4001', echo.contract);
 * const orchestrator = new Orchestrator(definition, { store: new MemoryWorkflowStore(), peers: { echo: echoClient } });
 * await echoClient.close();
 * ```
 */
export function defineOrchestrator(definition: OrchestratorDefinition): OrchestratorDefinition {
  const seen = new Set<string>();
  for (const workflow of definition.workflows) {
    validateWorkflowDefinition(workflow);
    const key = `${workflow.type}@${workflow.version}`;
    if (seen.has(key)) {
      throw new OnexError(ErrorCode.Contract, `Orchestrator '${definition.name ?? 'orchestrator'}' lists workflow '${workflow.type}' version ${workflow.version} twice`, {
        context: { workflow: workflow.type, version: workflow.version },
      });
    }
    seen.add(key);
  }
  return Object.freeze({ ...definition, workflows: Object.freeze([...definition.workflows]) });
}
