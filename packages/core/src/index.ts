/**
 * `@onex/core`: the base of every ONEX node — the `NodeService` base class, the error model and sanitizer,
 * resilience (retry policy, circuit breakers), logging, metrics, contracts and the HTTP transport.
 *
 * @packageDocumentation
 */

// Errors
export { ErrorCode, errorCodeForHttpStatus, errorCodeInfo, isErrorCode, type ErrorCodeInfo } from './errors/error-codes.js';
export {
  abortReasonToOnexError,
  isConnectionError,
  isOnexError,
  isUnclassifiedError,
  OnexError,
  OnexWarning,
  toOnexError,
  type OnexErrorOptions,
} from './errors/onex-error.js';
export { parseWireError, toWireError, WIRE_CAUSE_DEPTH, type ToWireErrorOptions, type WireError, type WireErrorCause } from './errors/wire-error.js';
export { createSanitizer, ErrorSanitizer, type ErrorSanitizerOptions, type SanitizedError, type SanitizerPattern, type WireSanitize } from './errors/error-sanitizer.js';
export { SanitizerPreset } from './errors/sanitizer-rules.js';

// Logging and metrics
export { childLogger, createLogger, createSilentLogger, type CallLogBindings, type Logger, type LoggerOptions } from './logging/logger.js';
export { LatencyHistogram, type LatencyStats } from './metrics/latency-histogram.js';
export { CallMetrics, type CallMetricsOptions, type CallStats } from './metrics/call-metrics.js';
export { BucketHistogram, DEFAULT_DURATION_BUCKETS, type BucketStats } from './metrics/bucket-histogram.js';
export {
  PrometheusMetrics,
  type CollectedHistogramMetric,
  type CollectedMetric,
  type HistogramEmit,
  type MetricEmit,
  type MetricLabels,
  type PrometheusMetricsOptions,
} from './metrics/prometheus-metrics.js';

// Tracing
export { OnexAttribute } from './telemetry/tracing.js';

// Resilience
export {
  DEFAULT_RETRY_POLICY_OPTIONS,
  isRetryableError,
  RetryPolicy,
  type ResolvedRetryPolicyOptions,
  type RetryExecuteOptions,
  type RetryInfo,
  type RetryPolicyOptions,
} from './resilience/retry-policy.js';
export { BreakerState, CircuitBreaker, type BreakerStateChange, type BreakerStats } from './resilience/circuit-breaker.js';
export { DEFAULT_CIRCUIT_BREAKER_OPTIONS, type CircuitBreakerOptions, type ResolvedCircuitBreakerOptions } from './resilience/circuit-breaker-options.js';
export { CircuitBreakerRegistry, type CircuitBreakerRegistryOptions } from './resilience/circuit-breaker-registry.js';
export {
  circuitBreakerInterceptor,
  withCircuitBreaker,
  type CircuitBreakerGuarded,
  type CircuitBreakerGuardedClass,
  type NodeServiceConstructor,
  type WithCircuitBreakerOptions,
} from './resilience/with-circuit-breaker.js';
export { sleep } from './resilience/sleep.js';

// Nodes
export { NodeKind } from './node/node-kind.js';
export { withSignal, type CallContext, type CallerIdentity, type CallOptions } from './node/call-context.js';
export { err, ok, type Result } from './node/result.js';
export { composeInterceptors, type CallInterceptor, type Interceptor, type NodeInterceptor } from './node/interceptor.js';
export {
  HealthStatus,
  LifecycleStatus,
  NodeService,
  type Clock,
  type ComponentHealth,
  type NodeHealth,
  type NodeInterceptors,
  type NodeMetrics,
  type NodeMetricsOptions,
  type NodeServiceOptions,
} from './node/node-service.js';
export {
  assessPerformance,
  DEFAULT_MIN_CALLS,
  DEFAULT_TARGET_LATENCY_MS,
  PerformanceTier,
  performanceTier,
  resolvePerformanceOptions,
  type PerformanceOptions,
  type PerformanceReport,
  type ResolvedPerformanceOptions,
} from './node/performance-tier.js';

// Contracts
export {
  defineContract,
  EmptyConfig,
  toJsonSchema,
  type ContractConfig,
  type ContractDefinition,
  type ContractDocument,
  type ContractInput,
  type ContractOutput,
  type NodeContract,
  type Schema,
} from './contract/contract.js';
export { loadManifest, NodeManifestSchema, parseManifest, type NodeManifest } from './contract/manifest.js';

// Authentication
export { Secret } from './auth/secret.js';
export { AUTH_KEY_ID_ENV, AUTH_KEYS_ENV, AuthKey, Keyring, type AuthKeyOptions } from './auth/keyring.js';
export {
  AuthFailure,
  AuthHeader,
  DEFAULT_MAX_SKEW_MS,
  RequestVerifier,
  signRequest,
  type RequestVerifierOptions,
  type SignableRequest,
  type VerifiableRequest,
  type VerifiedRequest,
} from './auth/request-signing.js';
export { requireScope, verifiedCaller, type NodeAuthOptions } from './auth/node-auth.js';

// Transport
export { isValidCorrelationId, OnexHeader, parseCorrelationIdHeader } from './transport/headers.js';
export { createNodeApp, serveNode, type AnyNodeService, type NodeAppOptions, type NodeAppSettings, type ServedNode, type ServeNodeOptions } from './transport/serve-node.js';
export { readJsonBody, type ReadJsonBodyOptions } from './transport/bounded-body.js';
export { createNodeClient, type CallPolicyOptions, type ClientAuthOptions, type NodeClient, type NodeClientOptions } from './transport/node-client.js';
export { createInProcessClient, type InProcessClientOptions } from './transport/in-process-client.js';
