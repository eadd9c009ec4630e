/**
 * `@onex/orchestrator`: durable DAG workflows over ONEX nodes — deadlines, retries, per-peer breakers, saga
 * compensation, write-ahead persistence and resume after a crash.
 *
 * @packageDocumentation
 */
export {
  defineWorkflow,
  peer,
  validateWorkflowDefinition,
  WorkflowBuilder,
  type AnyWorkflowDefinition,
  type CompensationContext,
  type CompensationDefinition,
  type CompensationSpec,
  type PeerRef,
  type PeerStepSpec,
  type StepDefinition,
  type StepInputContext,
  type StepTarget,
  type WorkflowDefinition,
  type WorkflowHeader,
  type WorkflowInputOf,
  type WorkflowOutputOf,
  type WorkflowStepSpec,
} from './workflow/definition.js';
export {
  isTerminalStatus,
  StepStatus,
  TERMINAL_WORKFLOW_STATUSES,
  WorkflowStatus,
  type RecordedError,
  type StepRecord,
  type WorkflowCommit,
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
  Orchestrator,
  orchestratorContract,
  RunWorkflowInput,
  WorkflowOutcomeSchema,
  type OrchestratorStats,
  type OrchestratorOptions,
  type StartOptions,
  type WorkflowOutcome,
} from './engine/orchestrator.js';
export { serveOrchestrator, workflowRoutes, type WorkflowRoutesOptions } from './http/workflow-routes.js';
