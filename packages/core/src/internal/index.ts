/**
 * `@onex/core/internal`: helpers shared by the ONEX packages. Not part of the public API: anything here may change
 * in any release. User code imports from `@onex/core`.
 *
 * @internal
 * @packageDocumentation
 */
export { onAbort, raceAbort, shareSignal } from './abort.js';
export { deepFreeze } from '../node/deep-freeze.js';
export { validationDetails, type ValidationDetail } from '../errors/onex-error.js';
export { BodyReadFailure, readBoundedBody, type BodyRead } from '../transport/bounded-body.js';
export { MAX_TIMEOUT_MS } from '../transport/headers.js';
export {
  contextOfCarrier,
  CORE_VERSION,
  failSpan,
  isTraced,
  onexTracer,
  packageVersion,
  runInSpan,
  traceCarrierOf,
  type TraceCarrier,
} from '../telemetry/tracing.js';
