import { describe, expectTypeOf, it } from 'vitest';
import { ErrorSanitizer, type ErrorSanitizerOptions } from './error-sanitizer.js';

describe('ErrorSanitizerOptions.pii', () => {
  it('takes true, false or a list of the known kinds of personal data', () => {
    expectTypeOf<ErrorSanitizerOptions['pii']>().toEqualTypeOf<boolean | readonly ('email' | 'phone' | 'iban')[] | undefined>();
    new ErrorSanitizer({ pii: true });
    new ErrorSanitizer({ pii: ['email', 'iban'] });
    // @ts-expect-error -- not a kind the sanitizer knows
    new ErrorSanitizer({ pii: ['ssn'] });
    // @ts-expect-error -- a list, not a single kind
    new ErrorSanitizer({ pii: 'email' });
  });
});
