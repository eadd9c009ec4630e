import { expectTypeOf, test } from 'vitest';
import type { ErrorCode } from './error-codes.js';
import type { OnexError } from './onex-error.js';
import { parseWireError, toWireError, type ToWireErrorOptions, type WireError, type WireErrorCause } from './wire-error.js';

test('a wire error may carry a cause chain of WireErrorCause links', () => {
  expectTypeOf<WireError['error']['cause']>().toEqualTypeOf<WireErrorCause | undefined>();
  expectTypeOf<WireErrorCause['cause']>().toEqualTypeOf<WireErrorCause | undefined>();
  expectTypeOf<WireErrorCause['name']>().toEqualTypeOf<string>();
  expectTypeOf<WireErrorCause['message']>().toEqualTypeOf<string | undefined>();
  expectTypeOf<WireErrorCause['truncated']>().toEqualTypeOf<true | undefined>();
  expectTypeOf<WireError['error']['code']>().toEqualTypeOf<ErrorCode>();
});

test('toWireError and parseWireError', () => {
  expectTypeOf(toWireError).parameter(0).toEqualTypeOf<OnexError>();
  expectTypeOf(toWireError).returns.toEqualTypeOf<WireError>();
  expectTypeOf(parseWireError).returns.toEqualTypeOf<OnexError>();
  expectTypeOf<ToWireErrorOptions['maxCauseDepth']>().toEqualTypeOf<number | undefined>();

  const cause: WireErrorCause = { name: 'OnexError', code: 'UNAVAILABLE', retryable: true, cause: { name: 'Error', code: 'ECONNREFUSED' } };
  expectTypeOf(cause).toMatchTypeOf<WireErrorCause>();
  // @ts-expect-error a link always names its error
  const nameless: WireErrorCause = { message: 'm' };
  // @ts-expect-error `truncated` is a mark, never false
  const notCut: WireErrorCause = { name: 'Error', truncated: false };
  // @ts-expect-error the chain is made of links, not strings
  const stringly: WireErrorCause = { name: 'Error', cause: 'ECONNREFUSED' };
  void [nameless, notCut, stringly];
});
