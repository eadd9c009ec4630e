import { ErrorCode, isConnectionError, OnexError, type CallOptions, type NodeClient, type NodeContract } from '@onex/core';

/**
 * One {@link NodeClient} over the replicas of a node: calls go round-robin, and a call whose replica cannot be
 * reached (a refused or dropped connection: the replica is down or was killed mid-call) is sent to the next one at
 * once, with the same idempotency key, so the caller — and its breaker — sees a failure only when every replica is
 * down. That is safe because every effect call of the workflow carries its step's idempotency key: the replica that
 * gets the call after a drop answers the recorded result, or `in_progress` (retryable) while the dead one's key lease
 * runs. A single replica is used as is.
 *
 * @example
 * ```ts
 * const inventory = replicaClient(urls.map((url) => createNodeClient(url, contract, { agent })));
 * ```
 */
export function replicaClient<C extends NodeContract>(replicas: readonly NodeClient<C>[]): NodeClient<C> {
  const [first] = replicas;
  if (first === undefined) throw new OnexError(ErrorCode.Validation, 'replicaClient needs at least one replica');
  if (replicas.length === 1) return first;
  let next = 0;
  const pick = (): number => {
    const at = next;
    next = (next + 1) % replicas.length;
    return at;
  };
  const call: NodeClient<C>['call'] = async (input, options?: CallOptions) => {
    const start = pick();
    let result = await (replicas[start] as NodeClient<C>).call(input, options);
    for (let i = 1; i < replicas.length && !result.ok && isConnectionError(result.error) && options?.signal?.aborted !== true; i += 1) {
      result = await (replicas[(start + i) % replicas.length] as NodeClient<C>).call(input, options);
    }
    return result;
  };
  return {
    contract: first.contract,
    call,
    callOrThrow: async (input, options) => {
      const result = await call(input, options);
      if (!result.ok) throw result.error;
      return result.value;
    },
    health: () => (replicas[pick()] as NodeClient<C>).health(),
    metrics: () => (replicas[pick()] as NodeClient<C>).metrics(),
    fetchContract: () => first.fetchContract(),
    close: async () => {
      await Promise.all(replicas.map((replica) => replica.close()));
    },
  };
}
