import { ErrorCode, OnexError } from '@onex/core';
import { describe, expect, it } from 'vitest';
import { rejection } from './rejection.js';

describe('rejection', () => {
  it('answers the OnexError a promise rejects with', async () => {
    const error = await rejection(Promise.reject(new OnexError(ErrorCode.Conflict, 'taken', { context: { key: 'k' } })));
    expect(error.code).toBe(ErrorCode.Conflict);
    expect(error.context).toEqual({ key: 'k' });
  });

  it('fails when the promise resolves, and passes on any other rejection', async () => {
    await expect(rejection(Promise.resolve(1))).rejects.toThrow('expected the call to be refused');
    await expect(rejection(Promise.reject(new TypeError('not onex')))).rejects.toThrow(TypeError);
  });
});
