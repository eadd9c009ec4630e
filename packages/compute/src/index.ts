/**
 * `@onex/compute`: ONEX compute nodes — pure, deterministic transforms served by name, each with its own zod
 * input and output, an optional LRU/TTL result cache, batch mode and slow-run warnings.
 *
 * @packageDocumentation
 */

// Computations
export {
  defineComputation,
  type AnyComputation,
  type Computation,
  type ComputationCacheOptions,
  type ComputationDefinition,
  type ComputationInput,
  type ComputationName,
  type ComputationNamed,
  type ComputationOutput,
  type ComputeContext,
} from './computation/computation.js';

// Nodes
export { NodeCompute, type ComputationCacheStats, type ComputationStats, type ComputeStats } from './node/node-compute.js';
export type { ComputeBatchOptions, NodeComputeOptions } from './node/node-compute-options.js';
export {
  defineComputeNode,
  type AnyComputeNodeDefinition,
  type ComputationDefaults,
  type ComputationsOf,
  type ComputeNodeDefinition,
} from './node/define-compute-node.js';
export { BatchItemError, BatchItemResult, ComputeRequest, ComputeResponse } from './node/compute-protocol.js';

// Cache
export { canonicalize, stableKey } from './cache/stable-key.js';
export type { CacheStats } from './cache/ttl-lru-cache.js';

// Contracts
export {
  computeContract,
  type ComputationContract,
  type ComputationRequestSchema,
  type ComputationResponseSchema,
  type ComputeContract,
  type ComputeContractDefinition,
} from './contract/compute-contract.js';
