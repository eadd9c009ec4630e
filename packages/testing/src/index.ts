/**
 * `@onex/testing`: the test kit for ONEX nodes and workflows — a node brought up (and down) in one call, scripted
 * peers that fail or hang on cue, an in-process workflow stack, and a fake clock that the engine, the retry policy
 * and the circuit breakers honour. Framework-neutral (`node:test`, vitest, …). The store conformance suites, which
 * need vitest, are in `@onex/testing/conformance`.
 *
 * @packageDocumentation
 */
export { rejection } from './errors/rejection.js';
export { installFakeClock, type FakeClock, type FakeClockOptions, type RunUntilOptions } from './clock/fake-clock.js';
export { startNode, type ServedTestNode, type StartedNode, type StartNodeOptions } from './node/start-node.js';
export { ScriptedOutcome, ScriptedPeer, type ScriptedCall, type ScriptedFailure, type ScriptedPeerOptions } from './peer/scripted-peer.js';
export { startWorkflowStack, type StackPeer, type WorkflowStack, type WorkflowStackOptions } from './workflow/workflow-stack.js';
