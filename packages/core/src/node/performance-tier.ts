import { ErrorCode } from '../errors/error-codes.js';
import { OnexError } from '../errors/onex-error.js';

/**
 * How a node performs against its latency target, from its recent p95 (see {@link performanceTier}):
 * - `optimal`: p95 at most half the target;
 * - `good`: p95 at most the target;
 * - `degraded`: p95 at most twice the target;
 * - `poor`: p95 above twice the target (the node's health is then `degraded`).
 */
export const PerformanceTier = {
  Optimal: 'optimal',
  Good: 'good',
  Degraded: 'degraded',
  Poor: 'poor',
} as const;
/** One of the {@link PerformanceTier} values. */
export type PerformanceTier = (typeof PerformanceTier)[keyof typeof PerformanceTier];

/**
 * What `health()` measures a node's latency against.
 *
 * @example
 * ```ts
 * import type { PerformanceOptions } from '@onex/core';
 * // A cache node: calls should take a few ms; judge once 20 calls are in the recent window.
 * const performance: PerformanceOptions = { targetLatencyMs: 5, minCalls: 20 };
 * ```
 */
export interface PerformanceOptions {
  /** The recent p95 latency the node aims at, ms. Default 1 000. */
  readonly targetLatencyMs?: number;
  /** Fewest calls in the recent window for the latency to be judged; with fewer the tier is `optimal`. Default 5. */
  readonly minCalls?: number;
}

/** Default of {@link PerformanceOptions.targetLatencyMs}. */
export const DEFAULT_TARGET_LATENCY_MS = 1_000;
/** Default of {@link PerformanceOptions.minCalls}. */
export const DEFAULT_MIN_CALLS = 5;

/**
 * The performance part of a node's health: the recent p95 against the target, and the tier it makes.
 *
 * @example
 * ```ts
 * import type { PerformanceReport } from '@onex/core';
 * const line = (p: PerformanceReport) => `${p.tier}: p95 ${p.p95Ms.toFixed(1)} ms of ${p.targetLatencyMs} ms target`;
 * ```
 */
export interface PerformanceReport {
  readonly tier: PerformanceTier;
  /** p95 latency of the calls in the recent window, ms (0 when there were none). */
  readonly p95Ms: number;
  readonly targetLatencyMs: number;
  /** `p95Ms / targetLatencyMs`: the tier's thresholds are 0.5, 1 and 2. */
  readonly ratio: number;
  /** Calls in the recent window. */
  readonly calls: number;
  /** False when the window held fewer than `minCalls` calls: the tier is then `optimal`, not a judgement. */
  readonly sampled: boolean;
}

/** Validated {@link PerformanceOptions}. */
export interface ResolvedPerformanceOptions {
  readonly targetLatencyMs: number;
  readonly minCalls: number;
}

/**
 * Checks and fills in {@link PerformanceOptions}.
 *
 * @throws OnexError `VALIDATION` for a target that is not a positive finite number, or `minCalls` that is not a
 *   non-negative integer.
 * @example
 * ```ts
 * import { resolvePerformanceOptions } from '@onex/core';
 * resolvePerformanceOptions({ targetLatencyMs: 50 }); // { targetLatencyMs: 50, minCalls: 5 }
 * ```
 */
export function resolvePerformanceOptions(options: PerformanceOptions = {}): ResolvedPerformanceOptions {
  const targetLatencyMs = options.targetLatencyMs ?? DEFAULT_TARGET_LATENCY_MS;
  const minCalls = options.minCalls ?? DEFAULT_MIN_CALLS;
  if (!Number.isFinite(targetLatencyMs) || targetLatencyMs <= 0) {
    throw new OnexError(ErrorCode.Validation, `performance.targetLatencyMs must be a positive number (got ${String(options.targetLatencyMs)})`);
  }
  if (!Number.isInteger(minCalls) || minCalls < 0) {
    throw new OnexError(ErrorCode.Validation, `performance.minCalls must be a non-negative integer (got ${String(options.minCalls)})`);
  }
  return { targetLatencyMs, minCalls };
}

/**
 * The tier of a p95 latency against a target: at most 0.5× the target `optimal`, at most 1× `good`, at most 2×
 * `degraded`, above `poor`.
 *
 * @example
 * ```ts
 * import { performanceTier } from '@onex/core';
 * performanceTier(40, 100); // 'optimal'
 * performanceTier(150, 100); // 'degraded'
 * ```
 */
export function performanceTier(p95Ms: number, targetLatencyMs: number): PerformanceTier {
  const ratio = p95Ms / targetLatencyMs;
  if (ratio <= 0.5) return PerformanceTier.Optimal;
  if (ratio <= 1) return PerformanceTier.Good;
  if (ratio <= 2) return PerformanceTier.Degraded;
  return PerformanceTier.Poor;
}

/**
 * The performance report of a recent window: its p95 and call count against the options.
 *
 * @example
 * ```ts
 * import { assessPerformance, resolvePerformanceOptions } from '@onex/core';
 * assessPerformance({ p95Ms: 240, calls: 100 }, resolvePerformanceOptions({ targetLatencyMs: 200 })).tier; // 'degraded'
 * ```
 */
export function assessPerformance(recent: { readonly p95Ms: number; readonly calls: number }, options: ResolvedPerformanceOptions): PerformanceReport {
  const sampled = recent.calls > 0 && recent.calls >= options.minCalls;
  const p95Ms = recent.calls === 0 ? 0 : recent.p95Ms;
  return {
    tier: sampled ? performanceTier(p95Ms, options.targetLatencyMs) : PerformanceTier.Optimal,
    p95Ms,
    targetLatencyMs: options.targetLatencyMs,
    ratio: p95Ms / options.targetLatencyMs,
    calls: recent.calls,
    sampled,
  };
}
