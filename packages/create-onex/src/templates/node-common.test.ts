import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeNames } from '../names/names.js';
import { SQLITE_DRIVER } from './node-common.js';
import { orchestratorNodeFiles } from './orchestrator-node.js';
import { reducerNodeFiles } from './reducer-node.js';

const packageJson = (name: string): { peerDependencies?: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }> } =>
  JSON.parse(readFileSync(new URL(`../../../${name}/package.json`, import.meta.url), 'utf8')) as never;

describe('the SQLite driver of generated projects', () => {
  it('is the major the @onex/* packages accept as their optional peer', () => {
    for (const name of ['effect', 'reducer', 'orchestrator']) {
      const pkg = packageJson(name);
      expect(pkg.peerDependenciesMeta?.['better-sqlite3']?.optional).toBe(true);
      expect(`better-sqlite3@${/^\^(\d+)\./.exec(pkg.peerDependencies?.['better-sqlite3'] ?? '')?.[1] ?? '?'}`).toBe(SQLITE_DRIVER);
    }
  });

  it('is loaded by a generated server only when a store file is set', () => {
    const base = { names: nodeNames('orders'), domain: undefined, version: '0.1.0' };
    const servers = [
      reducerNodeFiles(base),
      orchestratorNodeFiles({ ...base, names: nodeNames('checkout'), peers: [{ names: nodeNames('orders'), kind: 'reducer' }] }),
    ].map((files) => files.find((f) => f.path.endsWith('/server.ts'))?.content ?? '');
    for (const server of servers) {
      expect(server).not.toMatch(/^import .*\/sqlite'/m);
      expect(server).toMatch(/await import\('@onex\/(reducer|orchestrator)\/sqlite'\)/);
      expect(server).toContain(`npm i ${SQLITE_DRIVER}`);
    }
  });
});
