import type { Schema } from '@onex/core';

/**
 * What a caller knows of an operation: its name and the schemas of its input and result, without the side effect.
 * Every {@link EffectOperation} is one; a plain object literal is one too, so a caller's package can build the
 * node's contract ({@link defineEffectContract}) without the code that runs the operations.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import type { OperationSignature } from '@onex/effect';
 * const charge = {
 *   name: 'charge',
 *   input: z.object({ orderId: z.string(), amountCents: z.int() }),
 *   output: z.object({ chargeId: z.string() }),
 * } as const satisfies OperationSignature;
 * ```
 */
export interface OperationSignature<TName extends string = string, TInput extends Schema = Schema, TOutput extends Schema = Schema> {
  /** Operation name: letters, digits, `_`, `.`, `-`; starts with a letter. Scopes idempotency keys. */
  readonly name: TName;
  /** One sentence for people. */
  readonly description?: string;
  /** Schema of the operation's input. */
  readonly input: TInput;
  /**
   * Schema of its result. Results are stored as JSON and re-parsed by this schema on replay: the result must be
   * JSON-serializable and the schema must accept its JSON form (`z.coerce.date()`, not `z.date()`).
   */
  readonly output: TOutput;
}

/**
 * The names of the operations in `TOps`.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import type { OperationName } from '@onex/effect';
 * const ops = [
 *   { name: 'charge', input: z.string(), output: z.string() },
 *   { name: 'refund', input: z.string(), output: z.string() },
 * ] as const;
 * type Names = OperationName<typeof ops>; // 'charge' | 'refund'
 * ```
 */
export type OperationName<TOps extends readonly OperationSignature[]> = TOps[number]['name'];

/**
 * The operation of `TOps` named `TName`.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import type { OperationNamed } from '@onex/effect';
 * const ops = [{ name: 'charge', input: z.string(), output: z.object({ chargeId: z.string() }) }] as const;
 * type Charge = OperationNamed<typeof ops, 'charge'>; // its `output` is the charge's result schema
 * ```
 */
export type OperationNamed<TOps extends readonly OperationSignature[], TName extends OperationName<TOps>> = Extract<TOps[number], { readonly name: TName }>;
