import type { TestProject } from 'vitest/node';
import { startPostgres } from './start-postgres.js';
// The `onexPostgresUrl` key of vitest's ProvidedContext is declared there.
import type {} from './vitest.js';

/**
 * vitest globalSetup: starts one PostgreSQL for the whole run ({@link startPostgres}: `DATABASE_URL` when set, else
 * an embedded server) and provides its URL to every test file as `onexPostgresUrl`; read it with
 * `postgresUrl()` from `@onex/test-postgres/vitest`. The returned teardown stops the server after the run.
 *
 * @example
 * ```ts
 * // vitest.config.ts
 * export default defineConfig({ test: { globalSetup: ['./tooling/test-postgres/src/global-setup.ts'] } });
 * ```
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startPostgres();
  project.provide('onexPostgresUrl', server.url);
  return () => server.stop();
}
