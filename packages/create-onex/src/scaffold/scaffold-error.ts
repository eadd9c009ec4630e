/**
 * A mistake in what the user asked for (not a bug): the CLI prints the message alone and exits 1.
 *
 * @example
 * ```ts
 * const error = new ScaffoldError('--dir and --peers belong to `create-onex add`');
 * console.log(`create-onex: ${error.message}`);
 * ```
 */
export class ScaffoldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScaffoldError';
  }
}
