/**
 * `@onex/orchestrator`: durable DAG workflows over ONEX nodes — deadlines, retries, per-peer breakers, saga
 * compensation, write-ahead persistence and resume after a crash.
 *
 * @packageDocumentation
 */
export {
  peer,
  type AnyWorkflowDefinition,
  type CompensationContext,
  type CompensationDefinition,
  type PeerRef,
  type StepCall,
  type StepCallContext,
  type StepDefinition,
  type StepInputContext,
  type StepInterceptor,
  type StepTarget,
  type WorkflowDefinition,
  type WorkflowInputOf,
  type WorkflowOutputOf,
} from './workflow/definition.js';
export type {
  CanBeAbsent,
  CompensationSpec,
  PeerStepSpec,
  SleepDuration,
  SignalReceived,
  SignalTimedOut,
  SleepOutput,
  SleepStepSpec,
  SleepTime,
  WaitOutput,
  WaitStepSpec,
  WorkflowDefaults,
  WorkflowHeader,
  WorkflowSteps,
  WorkflowStepSpec,
} from './workflow/step-spec.js';
export { defineWorkflow, WorkflowBuilder } from './workflow/workflow-builder.js';
export { validateWorkflowDefinition } from './workflow/validate-definition.js';
export {
  isTerminalStatus,
  MAX_OUTCOME_ATTEMPT_ERRORS,
  MAX_SIGNALS_PER_WORKFLOW,
  StepStatus,
  TERMINAL_WORKFLOW_STATUSES,
  WorkflowStatus,
  type RecordedError,
  type SignalInput,
  type SignalSendResult,
  type StepRecord,
  type StoredSignal,
  type TraceContext,
  type WorkflowAdmission,
  type WorkflowCommit,
  type WorkflowError,
  type WorkflowFilter,
  type WorkflowPatch,
  type WorkflowRecord,
  type WorkflowSummary,
} from './store/workflow-record.js';
export type { ClaimOptions, CreateResult, HeldRun, RenewResult, RunnableType, WorkflowEvent, WorkflowStore } from './store/workflow-store.js';
export { MemoryWorkflowStore, type MemoryWorkflowStoreOptions } from './store/memory-store.js';
// SqliteWorkflowStore: `@onex/orchestrator/sqlite`; PostgresWorkflowStore: `@onex/orchestrator/postgres` — so this
// entry loads neither better-sqlite3 nor pg.
export {
  orchestratorContract,
  RunWorkflowInput,
  WorkflowOutcomeSchema,
  type UnsuccessfulWorkflowStatus,
  type WorkflowId,
  type WorkflowOutcome,
} from './engine/orchestrator-contract.js';
export { defineOrchestrator, type OrchestratorDefinition } from './engine/orchestrator-definition.js';
export type { OrchestratorOptions, ResultOptions, StartOptions } from './engine/orchestrator-options.js';
export { Orchestrator, type OrchestratorStats } from './engine/orchestrator.js';
export type { SignalAck, SignalOptions } from './engine/signals.js';
export type { Schedule, ScheduleSpec } from './engine/scheduler.js';
export { Schedules } from './engine/schedules.js';
export {
  isScheduleStore,
  MAX_CATCH_UP_TICKS,
  MAX_SCHEDULES,
  type ScheduleCatchUp,
  type ScheduleOverlap,
  type ScheduleRecord,
  type ScheduleStore,
} from './store/schedule-store.js';
export { serveOrchestrator, workflowRoutes, type WorkflowRoutesOptions } from './http/workflow-routes.js';
export type { WorkflowChange } from './engine/workflow-changes.js';
export {
  DASHBOARD_ACTION_HEADER,
  DASHBOARD_CSP,
  DashboardAction,
  dashboardRoutes,
  signalSender,
  type DashboardOptions,
  type DashboardRequest,
  type SignalWorkflow,
} from './ui/dashboard.js';
