import { randomBytes } from 'node:crypto';
import { AUTH_KEY_ID_ENV, AUTH_KEYS_ENV, Keyring, type AuthKeyOptions, type ClientAuthOptions, type NodeAuthOptions } from '@onex/core';

/** The scopes of the operator's key: start and cancel workflows, reconfigure the warehouse. */
export const OPERATOR_SCOPES = ['workflows:start', 'workflows:admin', 'workflows:signal', 'schedules:admin', 'inventory:admin'] as const;

/** The keys of one demo run: one the orchestrator signs its peer calls with, one for the launcher and the CLI. */
export interface DemoAuth {
  /** What every node process gets in its environment: the keyring (`ONEX_AUTH_KEYS`) and the key the orchestrator signs with. */
  readonly env: Readonly<Record<string, string>>;
  /** How the launcher signs (the operator's key). */
  readonly operator: ClientAuthOptions;
  /** The operator's key in `ONEX_AUTH_KEYS` format, for the CLI (written to a 0600 file). */
  readonly operatorKeys: string;
}

/** Fresh random keys for one run: nothing to configure, nothing that outlives the run. */
export function createDemoAuth(): DemoAuth {
  const run = randomBytes(4).toString('hex');
  const orchestrator: AuthKeyOptions = { id: `orchestrator-${run}`, secret: randomBytes(32).toString('base64url'), principal: 'order-fulfilment' };
  const operator: AuthKeyOptions = { id: `operator-${run}`, secret: randomBytes(32).toString('base64url'), principal: 'demo-operator', scopes: [...OPERATOR_SCOPES] };
  const keys = [orchestrator, operator];
  return {
    env: { [AUTH_KEYS_ENV]: JSON.stringify(keys), [AUTH_KEY_ID_ENV]: orchestrator.id },
    operator: { keyring: new Keyring([operator]) },
    operatorKeys: JSON.stringify([operator]),
  };
}

/** The keyring a node process was given, if any. */
export function keyringFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Keyring | undefined {
  return Keyring.fromEnv(env);
}

/** `serveNode`'s `auth` option for a node process: on when the process was given a keyring. */
export function nodeAuth(keyring: Keyring | undefined, publicPaths: readonly string[] = ['/health']): { auth?: NodeAuthOptions } {
  return keyring === undefined ? {} : { auth: { keyring, publicPaths } };
}

/** `createNodeClient`'s `auth` option for a process that calls peers: the key named by `ONEX_AUTH_KEY_ID`. */
export function peerAuth(keyring: Keyring | undefined, env: Readonly<Record<string, string | undefined>> = process.env): { auth?: ClientAuthOptions } {
  if (keyring === undefined) return {};
  const keyId = env[AUTH_KEY_ID_ENV];
  return { auth: { keyring, ...(keyId === undefined ? {} : { keyId }) } };
}
