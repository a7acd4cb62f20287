// The tables of the task pipeline (tasks, routes, runs, outcomes): rows, their mapping to the contract's records,
// and the queries. No rules here.
import type { Knex } from 'knex';
import type {
  ExecutionMode,
  IntegrationStatus,
  OutcomeRecord,
  RouteRecord,
  RunRecord,
  ServiceType,
  TaskRecord,
} from '../../../generated/types.gen.ts';
import { fromJson, toJson } from '../../store/db.ts';
import { forUpdate } from '../../store/tx.ts';

type Db = Knex | Knex.Transaction;
type Row = Record<string, unknown>;

// Rows hold only what request validation and the services wrote, so their enum columns are the contract's enums.
export const taskFrom = (r: Row): TaskRecord => ({
  id: r.id as string,
  machineId: r.machine_id as string,
  serviceType: r.service_type as ServiceType,
  ...(r.operation ? { operation: r.operation as string } : {}),
  taskType: r.task_type as string,
  status: r.status as TaskRecord['status'],
  input: fromJson(r.input, {}),
  constraints: fromJson(r.constraints, {} as TaskRecord['constraints']),
  discovery: fromJson(r.discovery, { maxCandidates: 10 }),
  routeId: (r.route_id as string | null) ?? null,
  outcomeId: (r.outcome_id as string | null) ?? null,
  createdAt: r.created_at as string,
  updatedAt: r.updated_at as string,
});
const taskRow = (t: TaskRecord) => ({
  id: t.id,
  machine_id: t.machineId,
  service_type: t.serviceType,
  operation: t.operation ?? null,
  task_type: t.taskType,
  status: t.status,
  input: toJson(t.input),
  constraints: toJson(t.constraints),
  discovery: toJson(t.discovery),
  route_id: t.routeId ?? null,
  outcome_id: t.outcomeId ?? null,
  created_at: t.createdAt,
  updated_at: t.updatedAt,
});
export const routeFrom = (r: Row): RouteRecord => ({
  id: r.id as string,
  machineId: r.machine_id as string,
  taskId: r.task_id as string,
  selectedSkillKey: r.selected_skill_key as string,
  selectedServiceId: r.selected_service_id as string,
  executionMode: r.execution_mode as ExecutionMode,
  integrationStatus: r.integration_status as IntegrationStatus,
  status: r.status as RouteRecord['status'],
  reason: r.reason as string,
  score: Number(r.score),
  fallbackChain: fromJson(r.fallback_chain, []),
  handoff: fromJson(r.handoff, null),
  createdAt: r.created_at as string,
  updatedAt: r.updated_at as string,
});
const routeRow = (x: RouteRecord) => ({
  id: x.id,
  machine_id: x.machineId,
  task_id: x.taskId,
  selected_skill_key: x.selectedSkillKey,
  selected_service_id: x.selectedServiceId,
  execution_mode: x.executionMode,
  integration_status: x.integrationStatus,
  status: x.status,
  reason: x.reason,
  score: x.score,
  fallback_chain: toJson(x.fallbackChain),
  handoff: x.handoff ? toJson(x.handoff) : null,
  created_at: x.createdAt,
  updated_at: x.updatedAt,
});
export const outcomeFrom = (r: Row): OutcomeRecord => ({
  id: r.id as string,
  machineId: r.machine_id as string,
  taskId: r.task_id as string,
  routeId: r.route_id as string,
  status: r.status as OutcomeRecord['status'],
  skillKey: r.skill_key as string,
  serviceId: r.service_id as string,
  executionMode: r.execution_mode as ExecutionMode,
  receiptRef: (r.receipt_ref as string | null) ?? null,
  logsRef: (r.logs_ref as string | null) ?? null,
  externalRef: (r.external_ref as string | null) ?? null,
  errorCode: (r.error_code as string | null) ?? null,
  errorMessage: (r.error_message as string | null) ?? null,
  ...(r.result !== null && r.result !== undefined ? { result: fromJson(r.result, null) } : {}),
  createdAt: r.created_at as string,
  updatedAt: r.updated_at as string,
});
export const runFrom = (r: Row): RunRecord => ({
  id: r.id as string,
  machineId: r.machine_id as string,
  taskId: r.task_id as string,
  routeId: (r.route_id as string | null) ?? null,
  outcomeId: (r.outcome_id as string | null) ?? null,
  status: r.status as RunRecord['status'],
  executionMode: (r.execution_mode as ExecutionMode | null) ?? null,
  skillKey: (r.skill_key as string | null) ?? null,
  serviceId: (r.service_id as string | null) ?? null,
  summary: (r.summary as string | null) ?? null,
  createdAt: r.created_at as string,
  updatedAt: r.updated_at as string,
});

export interface RunFilter {
  machineId: string;
  status?: string;
  skillKey?: string;
  serviceId?: string;
  executionMode?: string;
}

export const tasksRepo = {
  /** Inside a transaction the row stays locked until it ends (store/tx.ts). */
  async task(db: Db, machineId: string, taskId: string): Promise<TaskRecord | undefined> {
    const r = (await forUpdate(db('tasks').where({ id: taskId, machine_id: machineId }).first())) as Row | undefined;
    return r ? taskFrom(r) : undefined;
  },
  /** The task's status, the row locked inside a transaction. */
  async taskStatus(db: Db, taskId: string): Promise<string | undefined> {
    const r = (await forUpdate(db('tasks').where({ id: taskId }).first('status'))) as { status: string } | undefined;
    return r?.status;
  },
  async insertTask(db: Db, t: TaskRecord): Promise<void> {
    await db('tasks').insert(taskRow(t));
  },
  async updateTask(
    db: Db,
    taskId: string,
    change: { status: TaskRecord['status']; routeId?: string; outcomeId?: string; at?: string },
  ): Promise<void> {
    await db('tasks')
      .where({ id: taskId })
      .update({
        status: change.status,
        ...(change.routeId !== undefined ? { route_id: change.routeId } : {}),
        ...(change.outcomeId !== undefined ? { outcome_id: change.outcomeId } : {}),
        ...(change.at !== undefined ? { updated_at: change.at } : {}),
      });
  },
  async route(db: Db, routeId: string): Promise<RouteRecord | undefined> {
    const r = (await db('routes').where({ id: routeId }).first()) as Row | undefined;
    return r ? routeFrom(r) : undefined;
  },
  async insertRoute(db: Db, route: RouteRecord): Promise<void> {
    await db('routes').insert(routeRow(route));
  },
  async setRouteStatus(db: Db, routeId: string, status: RouteRecord['status'], at: string): Promise<void> {
    await db('routes').where({ id: routeId }).update({ status, updated_at: at });
  },
  async insertRun(db: Db, run: RunRecord): Promise<void> {
    await db('runs').insert({
      id: run.id,
      machine_id: run.machineId,
      task_id: run.taskId,
      route_id: run.routeId ?? null,
      outcome_id: run.outcomeId ?? null,
      status: run.status,
      execution_mode: run.executionMode ?? null,
      skill_key: run.skillKey ?? null,
      service_id: run.serviceId ?? null,
      summary: run.summary ?? null,
      created_at: run.createdAt,
      updated_at: run.updatedAt,
    });
  },
  async finishRun(db: Db, run: RunRecord): Promise<void> {
    await db('runs')
      .where({ id: run.id })
      .update({
        status: run.status,
        outcome_id: run.outcomeId ?? null,
        execution_mode: run.executionMode ?? null,
        skill_key: run.skillKey ?? null,
        service_id: run.serviceId ?? null,
        summary: run.summary ?? null,
        updated_at: run.updatedAt,
      });
  },
  async run(db: Db, runId: string): Promise<RunRecord | undefined> {
    const r = (await db('runs').where({ id: runId }).first()) as Row | undefined;
    return r ? runFrom(r) : undefined;
  },
  async insertOutcome(db: Db, o: OutcomeRecord): Promise<void> {
    await db('outcomes').insert({
      id: o.id,
      machine_id: o.machineId,
      task_id: o.taskId,
      route_id: o.routeId,
      status: o.status,
      skill_key: o.skillKey,
      service_id: o.serviceId,
      execution_mode: o.executionMode,
      receipt_ref: o.receiptRef ?? null,
      logs_ref: o.logsRef ?? null,
      external_ref: o.externalRef ?? null,
      error_code: o.errorCode ?? null,
      error_message: o.errorMessage ?? null,
      result: 'result' in o ? toJson(o.result) : null,
      created_at: o.createdAt,
      updated_at: o.updatedAt,
    });
  },
  async outcome(db: Db, outcomeId: string): Promise<OutcomeRecord | undefined> {
    const r = (await db('outcomes').where({ id: outcomeId }).first()) as Row | undefined;
    return r ? outcomeFrom(r) : undefined;
  },
  /** Query builders for the keyset-paged lists. */
  tasksOf: (db: Db, machineId: string) => db('tasks').where({ machine_id: machineId }).select('*'),
  routesOf: (db: Db, machineId: string) => db('routes').where({ machine_id: machineId }).select('*'),
  outcomesOf: (db: Db, machineId: string) => db('outcomes').where({ machine_id: machineId }).select('*'),
  runsOf(db: Db, f: RunFilter) {
    const qb = db('runs').where({ machine_id: f.machineId }).select('*');
    if (f.status) qb.where({ status: f.status });
    if (f.skillKey) qb.where({ skill_key: f.skillKey });
    if (f.serviceId) qb.where({ service_id: f.serviceId });
    if (f.executionMode) qb.where({ execution_mode: f.executionMode });
    return qb;
  },
};
