// Tasks: the discover -> resolve -> execute pipeline, with the routes, outcomes and runs it emits. Market orders
// materialise through the same functions. Every state change writes its audit event in the same transaction.
import { forUpdate, withTransaction } from '../../store/tx.ts';
import type { Knex } from 'knex';
import type { Config } from '../../config.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import { fromJson, toJson } from '../../store/db.ts';
import { ApiError, notFound, validationError } from '../../errors.ts';
import { keysetPage, type Page, type PageQuery } from '../../http/pagination.ts';
import { recordAudit } from '../audit/service.ts';
import type { Catalog, CatalogService, ExternalHandoff } from '../catalog/catalog.ts';
import type { MachinesService } from '../machines/service.ts';
import type { Machine } from '../machines/types.ts';
import { rankServices, type MachinePolicyRule, type RankedService } from '../market/ranking.ts';
import type { RuntimeService } from '../runtime/service.ts';
import { executeChain, type Attempt, type ExecutionResult, type RouteEntry } from './executor.ts';

export interface TaskRecord {
  id: string;
  machineId: string;
  serviceType: string;
  operation?: string;
  taskType: string;
  status: 'draft' | 'queued' | 'resolving' | 'resolved' | 'executing' | 'completed' | 'failed' | 'handed_off';
  input: Record<string, unknown>;
  constraints: {
    region?: string;
    budget?: number;
    allowExternalHandoff: boolean;
    requireNativeExecution: boolean;
    requiredCapabilities: string[];
    preferredSkillKeys?: string[];
  };
  discovery: { maxCandidates: number };
  routeId: string | null;
  outcomeId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface RouteRecord {
  id: string;
  machineId: string;
  taskId: string;
  selectedSkillKey: string;
  selectedServiceId: string;
  executionMode: 'native' | 'external-handoff';
  integrationStatus: string;
  status: 'selected' | 'blocked' | 'handed_off' | 'failed' | 'completed';
  reason: string;
  score: number;
  fallbackChain: RouteEntry[];
  handoff: ExternalHandoff | null;
  createdAt: string;
  updatedAt: string;
}

export interface OutcomeRecord {
  id: string;
  machineId: string;
  taskId: string;
  routeId: string;
  status: 'pending' | 'running' | 'completed' | 'failed' | 'external';
  skillKey: string;
  serviceId: string;
  executionMode: 'native' | 'external-handoff';
  receiptRef: string | null;
  logsRef: string | null;
  externalRef: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  result?: unknown;
  createdAt: string;
  updatedAt: string;
}

export interface RunRecord {
  id: string;
  machineId: string;
  taskId: string;
  routeId: string | null;
  outcomeId: string | null;
  status: 'queued' | 'running' | 'completed' | 'failed' | 'external' | 'blocked';
  executionMode: 'native' | 'external-handoff' | null;
  skillKey: string | null;
  serviceId: string | null;
  summary: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Candidate {
  service: CatalogService;
  score: number;
  reasons: string[];
}

export type TaskResolution =
  | { kind: 'native'; candidate: Candidate }
  | { kind: 'handoff'; candidate: Candidate; handoff: ExternalHandoff }
  | { kind: 'unavailable'; reason: string; candidates: Candidate[] };

export interface CreateTaskInput {
  serviceType: string;
  taskType: string;
  operation?: string;
  input?: Record<string, unknown>;
  constraints?: Partial<TaskRecord['constraints']>;
  discovery?: { maxCandidates?: number };
}

export interface DiscoverOptions {
  allowExternalHandoff?: boolean;
  requireNativeExecution?: boolean;
  maxCandidates?: number;
}

export interface TaskContext {
  policies(policyIds: string[]): Promise<MachinePolicyRule[]>;
  activeRuntimeProviders(machineId: string): Promise<Set<string>>;
}

const taskFrom = (r: Record<string, unknown>): TaskRecord => ({
  id: r.id as string,
  machineId: r.machine_id as string,
  serviceType: r.service_type as string,
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
  route_id: t.routeId,
  outcome_id: t.outcomeId,
  created_at: t.createdAt,
  updated_at: t.updatedAt,
});
const routeFrom = (r: Record<string, unknown>): RouteRecord => ({
  id: r.id as string,
  machineId: r.machine_id as string,
  taskId: r.task_id as string,
  selectedSkillKey: r.selected_skill_key as string,
  selectedServiceId: r.selected_service_id as string,
  executionMode: r.execution_mode as RouteRecord['executionMode'],
  integrationStatus: r.integration_status as string,
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
const outcomeFrom = (r: Record<string, unknown>): OutcomeRecord => ({
  id: r.id as string,
  machineId: r.machine_id as string,
  taskId: r.task_id as string,
  routeId: r.route_id as string,
  status: r.status as OutcomeRecord['status'],
  skillKey: r.skill_key as string,
  serviceId: r.service_id as string,
  executionMode: r.execution_mode as OutcomeRecord['executionMode'],
  receiptRef: (r.receipt_ref as string | null) ?? null,
  logsRef: (r.logs_ref as string | null) ?? null,
  externalRef: (r.external_ref as string | null) ?? null,
  errorCode: (r.error_code as string | null) ?? null,
  errorMessage: (r.error_message as string | null) ?? null,
  ...(r.result !== null && r.result !== undefined ? { result: fromJson(r.result, null) } : {}),
  createdAt: r.created_at as string,
  updatedAt: r.updated_at as string,
});
const runFrom = (r: Record<string, unknown>): RunRecord => ({
  id: r.id as string,
  machineId: r.machine_id as string,
  taskId: r.task_id as string,
  routeId: (r.route_id as string | null) ?? null,
  outcomeId: (r.outcome_id as string | null) ?? null,
  status: r.status as RunRecord['status'],
  executionMode: (r.execution_mode as RunRecord['executionMode']) ?? null,
  skillKey: (r.skill_key as string | null) ?? null,
  serviceId: (r.service_id as string | null) ?? null,
  summary: (r.summary as string | null) ?? null,
  createdAt: r.created_at as string,
  updatedAt: r.updated_at as string,
});

export interface ExecutionOutput {
  status: number;
  outcome: OutcomeRecord;
  run: RunRecord;
  route: RouteRecord;
  result: ExecutionResult;
  error?: { code: string; message: string; details?: unknown };
}

export class TasksService {
  constructor(
    private readonly db: Knex,
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly catalog: Catalog,
    private readonly machines: MachinesService,
    private readonly runtime: RuntimeService,
    private readonly context: TaskContext,
  ) {}

  /** Inside a transaction the row stays locked until it ends (store/tx.ts). */
  private async task(db: Knex | Knex.Transaction, machineId: string, taskId: string): Promise<TaskRecord> {
    const r = await forUpdate(db('tasks').where({ id: taskId, machine_id: machineId }).first());
    if (!r) throw notFound('Task');
    return taskFrom(r);
  }

  async create(machineId: string, input: CreateTaskInput): Promise<TaskRecord> {
    await this.machines.requireActive(machineId);
    const unknown = (input.constraints?.preferredSkillKeys ?? []).filter((k) => !this.catalog.skill(k));
    if (unknown.length) {
      throw validationError(
        `Unknown skill(s) in constraints.preferredSkillKeys: ${unknown.join(', ')}.`,
        unknown.map((k) => ({
          location: 'body',
          path: '/constraints/preferredSkillKeys',
          rule: 'known-skill',
          message: `no skill ${k}`,
        })),
      );
    }
    const now = this.clock.now().toISOString();
    const c = input.constraints ?? {};
    const t: TaskRecord = {
      id: newId('tsk', Date.parse(now)),
      machineId,
      serviceType: input.serviceType,
      ...(input.operation ? { operation: input.operation } : {}),
      taskType: input.taskType,
      status: 'queued',
      input: input.input ?? {},
      constraints: {
        ...(c.region !== undefined ? { region: c.region } : {}),
        ...(c.budget !== undefined ? { budget: c.budget } : {}),
        allowExternalHandoff: c.allowExternalHandoff ?? true,
        requireNativeExecution: c.requireNativeExecution ?? false,
        requiredCapabilities: c.requiredCapabilities ?? [],
        ...(c.preferredSkillKeys ? { preferredSkillKeys: c.preferredSkillKeys } : {}),
      },
      discovery: { maxCandidates: input.discovery?.maxCandidates ?? 10 },
      routeId: null,
      outcomeId: null,
      createdAt: now,
      updatedAt: now,
    };
    await withTransaction(this.db, async (trx) => {
      await trx('tasks').insert(taskRow(t));
      await recordAudit(trx, {
        type: 'task.created',
        resourceType: 'task',
        resourceId: t.id,
        payload: { machineId, serviceType: t.serviceType, taskType: t.taskType, operation: t.operation ?? null },
        at: now,
      });
    });
    return t;
  }

  async get(machineId: string, taskId: string) {
    await this.machines.requireActive(machineId);
    return this.task(this.db, machineId, taskId);
  }

  async list(machineId: string, page: PageQuery): Promise<Page<TaskRecord>> {
    await this.machines.requireActive(machineId);
    return keysetPage(this.db('tasks').where({ machine_id: machineId }).select('*'), page, taskFrom);
  }

  private async rank(
    machine: Machine,
    t: TaskRecord,
    opts: DiscoverOptions,
  ): Promise<{ candidates: Candidate[]; excluded: number }> {
    const [machinePolicies, runtimeProviders] = await Promise.all([
      this.context.policies(machine.policyIds),
      this.context.activeRuntimeProviders(machine.id),
    ]);
    const max = opts.maxCandidates ?? t.discovery.maxCandidates;
    const r = rankServices(
      this.catalog.services,
      {
        serviceType: t.serviceType,
        operation: t.operation,
        requiredCapabilities: t.constraints.requiredCapabilities,
        region: t.constraints.region,
        budget: t.constraints.budget !== undefined ? { amount: t.constraints.budget } : undefined,
        nativeOnly: opts.requireNativeExecution ?? t.constraints.requireNativeExecution,
        allowExternalHandoff: opts.allowExternalHandoff ?? t.constraints.allowExternalHandoff,
        machinePolicies,
        runtimeProviders,
        machineSkillKeys: machine.skillKeys,
        preferredSkillKeys: t.constraints.preferredSkillKeys,
      },
      max,
    );
    return {
      candidates: r.ranked.map((x: RankedService) => ({ service: x.service, score: x.score, reasons: x.reasons })),
      excluded: r.excluded.length,
    };
  }

  private resolution(candidates: Candidate[], excluded: number): TaskResolution {
    const top = candidates[0];
    if (!top) {
      return {
        kind: 'unavailable',
        reason: excluded
          ? `No candidate is left after the task's constraints and the machine's policies (${excluded} excluded).`
          : 'No catalogue service matches the task.',
        candidates: [],
      };
    }
    if (top.service.executionMode === 'external-handoff' && top.service.handoff)
      return { kind: 'handoff', candidate: top, handoff: top.service.handoff };
    return { kind: 'native', candidate: top };
  }

  async discover(machineId: string, taskId: string, opts: DiscoverOptions = {}) {
    const { machine } = await this.machines.requireActive(machineId);
    const t = await this.task(this.db, machineId, taskId);
    const { candidates, excluded } = await this.rank(machine, t, opts);
    return { taskId: t.id, machineId, resolution: this.resolution(candidates, excluded), candidates };
  }

  async resolve(
    machineId: string,
    taskId: string,
    opts: DiscoverOptions = {},
  ): Promise<{ item: RouteRecord; resolution: TaskResolution }> {
    const { machine } = await this.machines.requireActive(machineId);
    const t0 = await this.task(this.db, machineId, taskId);
    if (t0.status === 'executing')
      throw new ApiError('ROUTE_REQUIRED', 'The task is executing; it cannot be re-resolved now.');
    const { candidates, excluded } = await this.rank(machine, t0, opts);
    const resolution = this.resolution(candidates, excluded);
    if (resolution.kind === 'unavailable')
      throw new ApiError('ROUTE_REQUIRED', `No route can be resolved: ${resolution.reason}`, { resolution });
    const top = resolution.candidate;
    const now = this.clock.now().toISOString();
    const route: RouteRecord = {
      id: newId('rte', Date.parse(now)),
      machineId,
      taskId,
      selectedSkillKey: top.service.skillKey,
      selectedServiceId: top.service.id,
      executionMode: top.service.executionMode,
      integrationStatus: top.service.integrationStatus,
      status: 'selected',
      reason: top.reasons[0] ?? 'best ranked candidate',
      score: top.score,
      fallbackChain: candidates.slice(1).map((c) => ({
        skillKey: c.service.skillKey,
        serviceId: c.service.id,
        executionMode: c.service.executionMode,
      })),
      handoff: resolution.kind === 'handoff' ? resolution.handoff : null,
      createdAt: now,
      updatedAt: now,
    };
    await withTransaction(this.db, async (trx) => {
      const t = await this.task(trx, machineId, taskId);
      await trx('routes').insert(routeRow(route));
      await trx('tasks').where({ id: t.id }).update({ status: 'resolved', route_id: route.id, updated_at: now });
      await recordAudit(trx, {
        type: 'task.resolved',
        resourceType: 'task',
        resourceId: t.id,
        payload: {
          machineId,
          routeId: route.id,
          selectedServiceId: route.selectedServiceId,
          executionMode: route.executionMode,
          fallbackChain: route.fallbackChain,
        },
        at: now,
      });
    });
    return { item: route, resolution };
  }

  /** Materialises a task and a fixed route for one service in `trx` (market orders use this). */
  async materialise(
    trx: Knex.Transaction,
    machineId: string,
    service: CatalogService,
    operation: string,
    input: Record<string, unknown>,
    reason: string,
    at: string,
  ): Promise<{ task: TaskRecord; route: RouteRecord }> {
    const task: TaskRecord = {
      id: newId('tsk', Date.parse(at)),
      machineId,
      serviceType: service.serviceType,
      operation,
      taskType: 'market-order',
      status: 'resolved',
      input,
      constraints: { allowExternalHandoff: true, requireNativeExecution: false, requiredCapabilities: [] },
      discovery: { maxCandidates: 1 },
      routeId: null,
      outcomeId: null,
      createdAt: at,
      updatedAt: at,
    };
    const route: RouteRecord = {
      id: newId('rte', Date.parse(at)),
      machineId,
      taskId: task.id,
      selectedSkillKey: service.skillKey,
      selectedServiceId: service.id,
      executionMode: service.executionMode,
      integrationStatus: service.integrationStatus,
      status: 'selected',
      reason,
      score: 1,
      fallbackChain: [],
      handoff: service.executionMode === 'external-handoff' ? (service.handoff ?? null) : null,
      createdAt: at,
      updatedAt: at,
    };
    task.routeId = route.id;
    await trx('tasks').insert(taskRow({ ...task, routeId: null }));
    await trx('routes').insert(routeRow(route));
    await trx('tasks').where({ id: task.id }).update({ route_id: route.id });
    await recordAudit(trx, {
      type: 'task.created',
      resourceType: 'task',
      resourceId: task.id,
      payload: { machineId, serviceType: task.serviceType, taskType: task.taskType, operation },
      at,
    });
    return { task, route };
  }

  async execute(machineId: string, taskId: string, input?: Record<string, unknown>): Promise<ExecutionOutput> {
    await this.machines.requireActive(machineId);
    const t = await this.task(this.db, machineId, taskId);
    if (!t.routeId) throw new ApiError('ROUTE_REQUIRED', 'Resolve the task before executing it.');
    if (t.status === 'executing') throw new ApiError('ROUTE_REQUIRED', 'The task is already executing.');
    const route = routeFrom(await this.db('routes').where({ id: t.routeId }).first());
    return this.runRoute(t, route, { ...t.input, ...(input ?? {}) });
  }

  /** Runs a route: marks the task executing with a running run, calls out, then records the outcome. */
  async runRoute(
    t: TaskRecord,
    route: RouteRecord,
    input: Record<string, unknown>,
    hooks?: { onFinish?(trx: Knex.Transaction, out: ExecutionOutput): Promise<void> },
  ): Promise<ExecutionOutput> {
    const started = this.clock.now().toISOString();
    const runId = newId('run', Date.parse(started));
    await withTransaction(this.db, async (trx) => {
      // One execution at a time per task: a second one that raced past the check in execute() stops here.
      const current = (await forUpdate(trx('tasks').where({ id: t.id }).first('status'))) as
        { status: string } | undefined;
      if (!current) throw notFound('Task');
      if (current.status === 'executing') throw new ApiError('ROUTE_REQUIRED', 'The task is already executing.');
      await trx('tasks').where({ id: t.id }).update({ status: 'executing', updated_at: started });
      await trx('runs').insert({
        id: runId,
        machine_id: t.machineId,
        task_id: t.id,
        route_id: route.id,
        outcome_id: null,
        status: 'running',
        execution_mode: route.executionMode,
        skill_key: route.selectedSkillKey,
        service_id: route.selectedServiceId,
        summary: null,
        created_at: started,
        updated_at: started,
      });
    });

    const chain: RouteEntry[] = [
      { skillKey: route.selectedSkillKey, serviceId: route.selectedServiceId, executionMode: route.executionMode },
      ...route.fallbackChain,
    ];
    const result = await executeChain(chain, input, t.operation, {
      service: (id) => this.catalog.service(id),
      endpoint: (providerKey) => this.runtime.find(this.db, t.machineId, providerKey),
      timeoutMs: this.config.runtimeTimeoutMs,
    });

    const at = this.clock.now().toISOString();
    const used = result.entry;
    const outcomeStatus = result.kind === 'completed' ? 'completed' : result.kind === 'handoff' ? 'external' : 'failed';
    const outcome: OutcomeRecord = {
      id: newId('out', Date.parse(at)),
      machineId: t.machineId,
      taskId: t.id,
      routeId: route.id,
      status: outcomeStatus,
      skillKey: used.skillKey,
      serviceId: used.serviceId,
      executionMode: used.executionMode,
      receiptRef: null,
      logsRef: null,
      externalRef: result.kind === 'handoff' ? result.handoff.url : null,
      errorCode: result.kind === 'failed' ? result.code : null,
      errorMessage:
        result.kind === 'failed'
          ? `${result.message} ${result.attempts
              .map((a) => a.error)
              .filter(Boolean)
              .join('; ')}`.trim()
          : null,
      ...(result.kind === 'completed' ? { result: result.result } : {}),
      createdAt: at,
      updatedAt: at,
    };
    const run: RunRecord = {
      id: runId,
      machineId: t.machineId,
      taskId: t.id,
      routeId: route.id,
      outcomeId: outcome.id,
      status: outcomeStatus === 'completed' ? 'completed' : outcomeStatus === 'external' ? 'external' : 'failed',
      executionMode: used.executionMode,
      skillKey: used.skillKey,
      serviceId: used.serviceId,
      summary: summarise(result),
      createdAt: started,
      updatedAt: at,
    };
    const routeStatus: RouteRecord['status'] =
      outcomeStatus === 'completed' ? 'completed' : outcomeStatus === 'external' ? 'handed_off' : 'failed';
    const taskStatus: TaskRecord['status'] =
      outcomeStatus === 'completed' ? 'completed' : outcomeStatus === 'external' ? 'handed_off' : 'failed';
    const output: ExecutionOutput = {
      status:
        result.kind === 'completed'
          ? 200
          : result.kind === 'handoff'
            ? 202
            : result.code === 'RUNTIME_UNAVAILABLE'
              ? 503
              : 502,
      outcome,
      run,
      route: {
        ...route,
        status: routeStatus,
        updatedAt: at,
        ...(result.kind === 'handoff' ? { handoff: result.handoff } : {}),
      },
      result,
      ...(result.kind === 'failed'
        ? { error: { code: result.code, message: result.message, details: { attempts: result.attempts } } }
        : {}),
    };
    await withTransaction(this.db, async (trx) => {
      await trx('outcomes').insert({
        id: outcome.id,
        machine_id: outcome.machineId,
        task_id: outcome.taskId,
        route_id: outcome.routeId,
        status: outcome.status,
        skill_key: outcome.skillKey,
        service_id: outcome.serviceId,
        execution_mode: outcome.executionMode,
        receipt_ref: null,
        logs_ref: null,
        external_ref: outcome.externalRef,
        error_code: outcome.errorCode,
        error_message: outcome.errorMessage,
        result: result.kind === 'completed' ? toJson(result.result) : null,
        created_at: at,
        updated_at: at,
      });
      await trx('runs').where({ id: runId }).update({
        status: run.status,
        outcome_id: outcome.id,
        execution_mode: run.executionMode,
        skill_key: run.skillKey,
        service_id: run.serviceId,
        summary: run.summary,
        updated_at: at,
      });
      await trx('routes').where({ id: route.id }).update({ status: routeStatus, updated_at: at });
      await trx('tasks').where({ id: t.id }).update({ status: taskStatus, outcome_id: outcome.id, updated_at: at });
      await recordAudit(trx, {
        type: 'task.executed',
        resourceType: 'task',
        resourceId: t.id,
        payload: {
          machineId: t.machineId,
          runId,
          outcomeId: outcome.id,
          status: outcome.status,
          attempts: result.attempts as Attempt[],
        },
        at,
      });
      await hooks?.onFinish?.(trx, output);
    });
    return output;
  }

  async listRoutes(machineId: string, page: PageQuery): Promise<Page<RouteRecord>> {
    await this.machines.requireActive(machineId);
    return keysetPage(this.db('routes').where({ machine_id: machineId }).select('*'), page, routeFrom);
  }

  async listOutcomes(machineId: string, page: PageQuery): Promise<Page<OutcomeRecord>> {
    await this.machines.requireActive(machineId);
    return keysetPage(this.db('outcomes').where({ machine_id: machineId }).select('*'), page, outcomeFrom);
  }

  async listRuns(
    filter: { machineId: string; status?: string; skillKey?: string; serviceId?: string; executionMode?: string },
    page: PageQuery,
  ): Promise<Page<RunRecord>> {
    await this.machines.requireActive(filter.machineId);
    const qb = this.db('runs').where({ machine_id: filter.machineId }).select('*');
    if (filter.status) qb.where({ status: filter.status });
    if (filter.skillKey) qb.where({ skill_key: filter.skillKey });
    if (filter.serviceId) qb.where({ service_id: filter.serviceId });
    if (filter.executionMode) qb.where({ execution_mode: filter.executionMode });
    return keysetPage(qb, page, runFrom);
  }

  async getRun(runId: string): Promise<{ run: RunRecord; outcome: OutcomeRecord | null }> {
    const r = await this.db('runs').where({ id: runId }).first();
    if (!r) throw notFound('Run');
    await this.machines.requireActive(r.machine_id);
    const o = r.outcome_id ? await this.db('outcomes').where({ id: r.outcome_id }).first() : undefined;
    return { run: runFrom(r), outcome: o ? outcomeFrom(o) : null };
  }
}

function summarise(r: ExecutionResult): string {
  if (r.kind === 'completed')
    return `Executed natively on ${r.service.providerKey} (${r.httpStatus})${r.attempts.length > 1 ? ` after ${r.attempts.length - 1} fallback(s)` : ''}.`;
  if (r.kind === 'handoff') return `Handed off to ${r.service.providerKey}: ${r.handoff.url}`;
  return `${r.message} ${r.attempts.map((a) => `${a.serviceId}: ${a.error ?? 'failed'}`).join('; ')}`;
}
