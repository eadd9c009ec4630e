import { readFileSync, writeFileSync } from 'node:fs';
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

/** Reads the state file, or `undefined` when there is none. */
export function readStackState(dataDir: string): StackState | undefined {
  try {
    return JSON.parse(readFileSync(stateFilePath(dataDir), 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}
