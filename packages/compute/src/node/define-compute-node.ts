import type { AnyComputation } from '../computation/computation.js';
import { NodeCompute, type NodeComputeOptions } from './node-compute.js';

/**
 * Makes a compute node from its options, for the common case with no behaviour of its own: a {@link NodeCompute}
 * typed by its computations (so `compute('name', input)` checks the name and input). Initialise it, or serve it
 * with `serveNode`, which does.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { serveNode } from '@onex/core';
 * import { defineComputation, defineComputeNode } from '@onex/compute';
 *
 * const slugify = defineComputation({
 *   name: 'slugify', input: z.string(), output: z.string(),
 *   compute: (s) => s.toLowerCase().trim().replace(/[^a-z0-9]+/g, '-'),
 * });
 * const node = defineComputeNode({ name: 'text', version: '1.0.0', computations: [slugify] });
 * const served = await serveNode(node);
 * ```
 */
export function defineComputeNode<const TComputations extends readonly AnyComputation[]>(options: NodeComputeOptions<TComputations>): NodeCompute<TComputations> {
  return new DefinedComputeNode(options);
}

class DefinedComputeNode<TComputations extends readonly AnyComputation[]> extends NodeCompute<TComputations> {}
