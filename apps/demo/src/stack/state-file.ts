import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the launcher writes to `<dataDir>/stack.json` for the CLI. */
export interface StackState {
  readonly pid: number;
  readonly startedAt: string;
  readonly urls: Readonly<Record<string, string>>;
}

/** The demo's default data folder: `apps/demo/.data` (git-ignored). */
export function defaultDataDir(): string {
  // This module is dist/stack/state-file.js (or src/stack/state-file.ts): two levels below the package.
  return join(dirname(dirname(dirname(fileURLToPath(import.meta.url)))), '.data');
}

/** Path of the state file in a data folder. */
export function stateFilePath(dataDir: string): string {
  return join(dataDir, 'stack.json');
}

/** Writes the state file. */
export function writeStackState(dataDir: string, state: StackState): void {
  writeFileSync(stateFilePath(dataDir), `${JSON.stringify(state, null, 2)}\n`);
}

/** Path of the operator's key (`ONEX_AUTH_KEYS` format) in a data folder: what the CLI signs with. */
export function operatorKeyPath(dataDir: string): string {
  return join(dataDir, 'operator-key.json');
}

/** Writes the operator's key, readable by the owner only; `undefined` removes a stale one. */
export function writeOperatorKey(dataDir: string, keys: string | undefined): void {
  const path = operatorKeyPath(dataDir);
  rmSync(path, { force: true });
  if (keys !== undefined) writeFileSync(path, keys, { mode: 0o600 });
}

/** Reads the operator's key, or `undefined` when there is none (the stack runs without auth). */
export function readOperatorKey(dataDir: string): string | undefined {
  try {
    return readFileSync(operatorKeyPath(dataDir), 'utf8');
  } catch {
    return undefined;
  }
}

/** Reads the state file, or `undefined` when there is none. */
export function readStackState(dataDir: string): StackState | undefined {
  try {
    return JSON.parse(readFileSync(stateFilePath(dataDir), 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}
