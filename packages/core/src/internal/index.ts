/**
 * `@onex/core/internal`: helpers shared by the ONEX packages. Not part of the public API: anything here may change
 * in any release. User code imports from `@onex/core`.
 *
 * @internal
 * @packageDocumentation
 */
export { onAbort, raceAbort } from './abort.js';
