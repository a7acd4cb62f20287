// Tasks: the discover -> resolve -> execute pipeline, with the routes, outcomes and runs it emits. Market orders
// materialise through the same functions. Every state change writes its audit event in the same transaction.
// Ranking and routes are built in routing.ts, a route is run in execution.ts, the SQL lives in repo.ts.
import type { Knex } from 'knex';
import type {
  CatalogService,
  CreateTaskRequest,
  DiscoverTaskRequest,
  DiscoverTaskResponse,
  GetRunResponse,
  OutcomeRecord,
  ResolveTaskResponse,
  RouteRecord,
  RunRecord,
  TaskRecord,
} from '../../../generated/types.gen.ts';
import type { Config } from '../../config.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import { ApiError, notFound, validationError } from '../../errors.ts';
import { keysetPage, type Page, type PageQuery } from '../../store/pages.ts';
import { withTransaction } from '../../store/tx.ts';
import { recordAudit } from '../audit/service.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { MachinesService } from '../machines/service.ts';
import type { RuntimeService } from '../runtime/service.ts';
import { outcomeFrom, routeFrom, runFrom, taskFrom, tasksRepo, type RunFilter } from './repo.ts';
import { fixedRoute, rankForTask, resolutionOf, routeFor, type TaskContext } from './routing.ts';
import { runRoute, type ExecutionHooks, type ExecutionOutput } from './execution.ts';

export type { TaskContext } from './routing.ts';
export type { ExecutionOutput } from './execution.ts';
export type { TaskRecord, RouteRecord, OutcomeRecord, RunRecord } from '../../../generated/types.gen.ts';

export interface TasksServiceDeps {
  db: Knex;
  config: Config;
  clock: Clock;
  catalog: Catalog;
  machines: MachinesService;
  runtime: RuntimeService;
  context: TaskContext;
}

export class TasksService {
  private readonly db: Knex;
  private readonly clock: Clock;
  private readonly catalog: Catalog;
  private readonly machines: MachinesService;

  constructor(private readonly deps: TasksServiceDeps) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.catalog = deps.catalog;
    this.machines = deps.machines;
  }

  /** Inside a transaction the row stays locked until it ends (store/tx.ts). */
  private async task(db: Knex | Knex.Transaction, machineId: string, taskId: string): Promise<TaskRecord> {
    const t = await tasksRepo.task(db, machineId, taskId);
    if (!t) throw notFound('Task');
    return t;
  }

  async create(machineId: string, input: CreateTaskRequest): Promise<TaskRecord> {
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
      await tasksRepo.insertTask(trx, t);
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

  async get(machineId: string, taskId: string): Promise<TaskRecord> {
    await this.machines.requireActive(machineId);
    return this.task(this.db, machineId, taskId);
  }

  async list(machineId: string, page: PageQuery): Promise<Page<TaskRecord>> {
    await this.machines.requireActive(machineId);
    return keysetPage(tasksRepo.tasksOf(this.db, machineId), page, taskFrom);
  }

  async discover(machineId: string, taskId: string, opts: DiscoverTaskRequest = {}): Promise<DiscoverTaskResponse> {
    const { machine } = await this.machines.requireActive(machineId);
    const t = await this.task(this.db, machineId, taskId);
    const ranking = await rankForTask(this.catalog, this.deps.context, machine, t, opts);
    return { taskId: t.id, machineId, resolution: resolutionOf(ranking), candidates: ranking.candidates };
  }

  async resolve(machineId: string, taskId: string, opts: DiscoverTaskRequest = {}): Promise<ResolveTaskResponse> {
    const { machine } = await this.machines.requireActive(machineId);
    const t0 = await this.task(this.db, machineId, taskId);
    if (t0.status === 'executing')
      throw new ApiError('ROUTE_REQUIRED', 'The task is executing; it cannot be re-resolved now.');
    const ranking = await rankForTask(this.catalog, this.deps.context, machine, t0, opts);
    const resolution = resolutionOf(ranking);
    if (resolution.kind === 'unavailable')
      throw new ApiError('ROUTE_REQUIRED', `No route can be resolved: ${resolution.reason}`, { resolution });
    const now = this.clock.now().toISOString();
    const route = routeFor(newId('rte', Date.parse(now)), t0, resolution, ranking.candidates, now);
    await withTransaction(this.db, async (trx) => {
      const t = await this.task(trx, machineId, taskId);
      await tasksRepo.insertRoute(trx, route);
      await tasksRepo.updateTask(trx, t.id, { status: 'resolved', routeId: route.id, at: now });
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
    const route = fixedRoute(newId('rte', Date.parse(at)), task, service, reason, at);
    // The task row comes first (the route references it), then the task is pointed at its route.
    await tasksRepo.insertTask(trx, task);
    await tasksRepo.insertRoute(trx, route);
    await tasksRepo.updateTask(trx, task.id, { status: 'resolved', routeId: route.id });
    task.routeId = route.id;
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
    const route = await tasksRepo.route(this.db, t.routeId);
    if (!route) throw notFound('Route');
    return this.runRoute(t, route, { ...t.input, ...(input ?? {}) });
  }

  /** Runs a route: marks the task executing with a running run, calls out, then records the outcome. */
  runRoute(
    t: TaskRecord,
    route: RouteRecord,
    input: Record<string, unknown>,
    hooks?: ExecutionHooks,
  ): Promise<ExecutionOutput> {
    const { db, clock, catalog, runtime, config } = this.deps;
    return runRoute({ db, clock, catalog, runtime, runtimeTimeoutMs: config.runtimeTimeoutMs }, t, route, input, hooks);
  }

  async listRoutes(machineId: string, page: PageQuery): Promise<Page<RouteRecord>> {
    await this.machines.requireActive(machineId);
    return keysetPage(tasksRepo.routesOf(this.db, machineId), page, routeFrom);
  }

  async listOutcomes(machineId: string, page: PageQuery): Promise<Page<OutcomeRecord>> {
    await this.machines.requireActive(machineId);
    return keysetPage(tasksRepo.outcomesOf(this.db, machineId), page, outcomeFrom);
  }

  async listRuns(filter: RunFilter, page: PageQuery): Promise<Page<RunRecord>> {
    await this.machines.requireActive(filter.machineId);
    return keysetPage(tasksRepo.runsOf(this.db, filter), page, runFrom);
  }

  async getRun(runId: string): Promise<GetRunResponse> {
    const run = await tasksRepo.run(this.db, runId);
    if (!run) throw notFound('Run');
    await this.machines.requireActive(run.machineId);
    const outcome = run.outcomeId ? await tasksRepo.outcome(this.db, run.outcomeId) : undefined;
    return { run, outcome: outcome ?? null };
  }
}
