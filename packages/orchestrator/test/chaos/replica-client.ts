// One peer served by several replicas (processes of the same effect node on one shared database): the orchestrator
// sees one NodeClient, which sends each call — each attempt of a step, so a retry goes to the next replica — to the
// replicas in turn. Which replica applies an effect is then up to the calls' timing; exactly-once is the shared
// idempotency table's business.
import type { NodeClient, NodeContract } from '@onex/core';

/** A client that spreads calls over `replicas` round robin; reads (health, metrics, contract) ask the first. */
export function roundRobinClient<C extends NodeContract>(replicas: readonly NodeClient<C>[]): NodeClient<C> {
  const [first] = replicas;
  if (first === undefined) throw new Error('roundRobinClient needs at least one replica');
  if (replicas.length === 1) return first;
  let next = 0;
  const pick = (): NodeClient<C> => replicas[next++ % replicas.length]!;
  return {
    contract: first.contract,
    call: (input, options) => pick().call(input, options),
    callOrThrow: (input, options) => pick().callOrThrow(input, options),
    health: () => first.health(),
    metrics: () => first.metrics(),
    fetchContract: () => first.fetchContract(),
    close: async () => {
      await Promise.all(replicas.map((replica) => replica.close()));
    },
  };
}
