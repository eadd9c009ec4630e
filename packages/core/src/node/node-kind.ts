/**
 * The four kinds of ONEX node.
 *
 * @example
 * ```ts
 * import { NodeKind } from '@onex/core';
 * const kind: NodeKind = NodeKind.Compute;
 * ```
 */
export const NodeKind = {
  Compute: 'compute',
  Effect: 'effect',
  Reducer: 'reducer',
  Orchestrator: 'orchestrator',
} as const;

/** One of the {@link NodeKind} values. */
export type NodeKind = (typeof NodeKind)[keyof typeof NodeKind];
