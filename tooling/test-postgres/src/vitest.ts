import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection string of the run's PostgreSQL, provided by `@onex/test-postgres/global-setup`. */
    onexPostgresUrl: string;
  }
}

/**
 * The connection string of the PostgreSQL the globalSetup started for this run. Throws (never skips) when the
 * globalSetup is not configured: a PostgreSQL test must run against the real server.
 *
 * @example
 * ```ts
 * import { postgresUrl } from '@onex/test-postgres/vitest';
 * const url = postgresUrl();
 * ```
 */
export function postgresUrl(): string {
  const url: unknown = inject('onexPostgresUrl');
  if (typeof url !== 'string' || url === '') {
    throw new Error('No PostgreSQL for this run: add @onex/test-postgres/global-setup to the vitest globalSetup');
  }
  return url;
}
