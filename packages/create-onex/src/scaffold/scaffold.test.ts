import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidNameError } from '../names/names.js';
import { addNode, createProject, listNodes, ScaffoldError } from './scaffold.js';
import { FileExistsError } from './write-files.js';

const versions = { '@onex/core': '1.2.3', '@onex/compute': '1.2.3', '@onex/testing': '1.2.3', zod: '4.6.7', typescript: '5.9.3', '@types/node': '20.19.43' };
let base: string;
let dir: string;

beforeEach(async () => {
  base = mkdtempSync(join(tmpdir(), 'create-onex-'));
  dir = join(base, 'shop');
  await createProject({ dir, domain: 'acme', versions });
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('createProject', () => {
  it('writes a project on the @onex/* versions it was built with', () => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    expect(pkg['name']).toBe('@acme/shop');
    expect(pkg['dependencies']).toEqual({ '@onex/compute': '^1.2.3', '@onex/core': '^1.2.3', zod: '^4.6.7' });
    // The test kit is for the project's tests; the generator stays at hand for `npx create-onex add`.
    expect(pkg['devDependencies']).toMatchObject({ '@onex/testing': '^1.2.3', 'create-onex': expect.stringMatching(/^\^\d+\.\d+\.\d+/) as unknown });
    expect(pkg['onex']).toEqual({ domain: 'acme' });
    expect(existsSync(join(dir, 'tsconfig.json'))).toBe(true);
  });

  it('refuses a bad project name and an existing project without --force', async () => {
    await expect(createProject({ dir: join(base, 'My Shop'), versions })).rejects.toBeInstanceOf(InvalidNameError);
    await expect(createProject({ dir, versions })).rejects.toBeInstanceOf(FileExistsError);
    await expect(createProject({ dir, versions, force: true })).resolves.toMatchObject({ root: dir });
  });
});

describe('addNode', () => {
  it('adds a node of each kind, the orchestrator over the others', async () => {
    await addNode({ dir, kind: 'compute', name: 'price-quote' });
    await addNode({ dir, kind: 'effect', name: 'receipts' });
    await addNode({ dir, kind: 'reducer', name: 'orders' });
    const { files } = await addNode({ dir, kind: 'orchestrator', name: 'checkout' });
    expect(files).toEqual([
      'src/nodes/checkout/contract.ts',
      'src/nodes/checkout/checkout-node.ts',
      'src/nodes/checkout/manifest.yaml',
      'src/nodes/checkout/config.ts',
      'src/nodes/checkout/server.ts',
      'test/checkout.test.ts',
    ]);
    expect(listNodes(dir)).toEqual([
      { name: 'checkout', kind: 'orchestrator' },
      { name: 'orders', kind: 'reducer' },
      { name: 'price-quote', kind: 'compute' },
      { name: 'receipts', kind: 'effect' },
    ]);
    const contract = readFileSync(join(dir, 'src/nodes/checkout/contract.ts'), 'utf8');
    expect(contract).toContain("'price-quote': peer('price-quote', priceQuoteContract)");
    expect(contract).toContain("dependsOn: ['priceQuote']");
    expect(readFileSync(join(dir, 'src/nodes/checkout/manifest.yaml'), 'utf8')).toContain('owner: acme');
    expect(readFileSync(join(dir, 'src/nodes/price-quote/price-quote-node.ts'), 'utf8')).toContain('export class PriceQuoteNode extends NodeCompute');
  });

  it('writes nothing when any target exists, everything with force', async () => {
    writeFileSync(join(dir, 'test', 'stats.test.ts'), '// mine\n');
    await expect(addNode({ dir, kind: 'compute', name: 'stats' })).rejects.toThrow(/Refusing to overwrite existing files[\s\S]*test\/stats\.test\.ts/);
    expect(existsSync(join(dir, 'src/nodes/stats/contract.ts'))).toBe(false);
    expect(readFileSync(join(dir, 'test', 'stats.test.ts'), 'utf8')).toBe('// mine\n');
    await addNode({ dir, kind: 'compute', name: 'stats', force: true });
    expect(readFileSync(join(dir, 'test', 'stats.test.ts'), 'utf8')).toContain("describe('stats'");
  });

  it('says what is wrong', async () => {
    await expect(addNode({ dir, kind: 'gadget', name: 'x' })).rejects.toThrow("Unknown node kind 'gadget': use one of compute, effect, reducer, orchestrator");
    await expect(addNode({ dir, kind: 'compute', name: '../x' })).rejects.toThrow("Invalid node name '../x': it must be a plain name, not a path");
    await expect(addNode({ dir: base, kind: 'compute', name: 'x' })).rejects.toThrow(/has no package\.json/);
    await expect(addNode({ dir, kind: 'orchestrator', name: 'flow' })).rejects.toThrow(ScaffoldError);
    await addNode({ dir, kind: 'compute', name: 'stats' });
    await expect(addNode({ dir, kind: 'orchestrator', name: 'flow', peers: ['nope'] })).rejects.toThrow("No node 'nope'");
    await expect(addNode({ dir, kind: 'orchestrator', name: 'flow', peers: ['stats', 'stats'] })).rejects.toThrow("Peer 'stats' is named twice");
  });
});
