// A WorkflowStore wrapper for tests: a rule decides, call by call, whether a store method fails (before it reaches
// the store), and every call is counted. Small on purpose; the fault campaign has its own, richer injector.
import type { WorkflowStore } from '../src/index.js';

/** The store methods a rule can fail. */
export type StoreMethod = Exclude<keyof WorkflowStore, 'init' | 'close' | 'health'>;

/** Decides whether this call of `method` fails; `n` counts the calls of that method so far (1-based). */
export type FailRule = (method: StoreMethod, n: number, args: readonly unknown[]) => boolean;

/** What a flaky store lets a test steer and observe. */
export interface FlakyStore {
  readonly store: WorkflowStore;
  readonly calls: Map<StoreMethod, number>;
  failures: number;
  /** Replaces the rule (`() => false` heals the store). */
  rule: FailRule;
  /** Accepted commits, in order: what the underlying store took. */
  readonly commits: { readonly id: string; readonly epoch: number }[];
}

const METHODS = new Set<string>(['create', 'commit', 'get', 'list', 'claim', 'renew', 'release', 'requestCancel', 'nextWakeAt', 'sendSignal', 'signals']);

/** Wraps `inner`; failing calls reject with an error shaped like SQLite's `SQLITE_BUSY`. */
export function flaky(inner: WorkflowStore, rule: FailRule = () => false): FlakyStore {
  const state: FlakyStore = { store: inner, calls: new Map(), failures: 0, rule, commits: [] };
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      // Methods not counted run on the store itself (its private fields need the real receiver).
      if (typeof property !== 'string' || !METHODS.has(property)) return (value as (...a: unknown[]) => unknown).bind(target);
      const method = property as StoreMethod;
      return async (...args: unknown[]): Promise<unknown> => {
        const n = (state.calls.get(method) ?? 0) + 1;
        state.calls.set(method, n);
        if (state.rule(method, n, args)) {
          state.failures += 1;
          throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
        }
        const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (method === 'commit') state.commits.push({ id: args[0] as string, epoch: args[1] as number });
        return result;
      };
    },
  });
  return Object.assign(state, { store });
}
