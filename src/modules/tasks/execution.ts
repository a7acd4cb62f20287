// Running a route: mark the task executing with a running run (one execution per task at a time), call along the
// route's chain (executor.ts), then record the outcome, the finished run and the route's and task's new status,
// with the audit event, in one transaction. The answer's status follows the outcome: 200 completed, 202 handed
// off, 502 every route failed, 503 no runtime was reachable.
import type { Knex } from 'knex';
import type {
  OutcomeRecord,
  RouteRecord,
  RunRecord,
  TaskRecord,
  TaskResolution,
} from '../../../generated/types.gen.ts';
import type { Clock } from '../../clock.ts';
import { ApiError, notFound } from '../../errors.ts';
import { newId } from '../../ids.ts';
import { withTransaction } from '../../store/tx.ts';
import { recordAudit } from '../audit/service.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { RuntimeService } from '../runtime/service.ts';
import { executeChain, type ExecutionResult, type RouteEntry } from './executor.ts';
import { tasksRepo } from './repo.ts';

export interface ExecutionOutput {
  status: 200 | 202 | 502 | 503;
  outcome: OutcomeRecord;
  run: RunRecord;
  route: RouteRecord;
  result: ExecutionResult;
  error?: { code: string; message: string; details?: unknown };
}

export interface ExecutionDeps {
  db: Knex;
  clock: Clock;
  catalog: Catalog;
  runtime: RuntimeService;
  runtimeTimeoutMs: number;
}

export interface ExecutionHooks {
  /** Runs inside the transaction that records the outcome (market orders move their own state there). */
  onFinish?(trx: Knex.Transaction, out: ExecutionOutput): Promise<void>;
}

export async function runRoute(
  deps: ExecutionDeps,
  t: TaskRecord,
  route: RouteRecord,
  input: Record<string, unknown>,
  hooks?: ExecutionHooks,
): Promise<ExecutionOutput> {
  const { db, clock } = deps;
  const started = clock.now().toISOString();
  const runId = newId('run', Date.parse(started));
  await withTransaction(db, async (trx) => {
    // One execution at a time per task: a second one that raced past the caller's check stops here.
    const status = await tasksRepo.taskStatus(trx, t.id);
    if (!status) throw notFound('Task');
    if (status === 'executing') throw new ApiError('ROUTE_REQUIRED', 'The task is already executing.');
    await tasksRepo.updateTask(trx, t.id, { status: 'executing', at: started });
    await tasksRepo.insertRun(trx, {
      id: runId,
      machineId: t.machineId,
      taskId: t.id,
      routeId: route.id,
      outcomeId: null,
      status: 'running',
      executionMode: route.executionMode,
      skillKey: route.selectedSkillKey,
      serviceId: route.selectedServiceId,
      summary: null,
      createdAt: started,
      updatedAt: started,
    });
  });

  const chain: RouteEntry[] = [
    { skillKey: route.selectedSkillKey, serviceId: route.selectedServiceId, executionMode: route.executionMode },
    ...route.fallbackChain,
  ];
  const result = await executeChain(chain, input, t.operation, {
    service: (id) => deps.catalog.service(id),
    endpoint: (providerKey) => deps.runtime.find(db, t.machineId, providerKey),
    timeoutMs: deps.runtimeTimeoutMs,
  });

  const at = clock.now().toISOString();
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
    status: outcomeStatus,
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
  await withTransaction(db, async (trx) => {
    await tasksRepo.insertOutcome(trx, outcome);
    await tasksRepo.finishRun(trx, run);
    await tasksRepo.setRouteStatus(trx, route.id, routeStatus, at);
    await tasksRepo.updateTask(trx, t.id, { status: taskStatus, outcomeId: outcome.id, at });
    await recordAudit(trx, {
      type: 'task.executed',
      resourceType: 'task',
      resourceId: t.id,
      payload: {
        machineId: t.machineId,
        runId,
        outcomeId: outcome.id,
        status: outcome.status,
        attempts: result.attempts,
      },
      at,
    });
    await hooks?.onFinish?.(trx, output);
  });
  return output;
}

/** The resolution an execution ended on: the service actually used, or the selected one when all failed. */
export function endedOn(route: RouteRecord, r: ExecutionResult): TaskResolution {
  const service = r.service;
  if (!service)
    return { kind: 'unavailable', reason: r.kind === 'failed' ? r.message : 'service missing', candidates: [] };
  const candidate = { service, score: route.score, reasons: [route.reason] };
  if (r.kind === 'handoff') return { kind: 'handoff', candidate, handoff: r.handoff };
  return { kind: 'native', candidate };
}

function summarise(r: ExecutionResult): string {
  if (r.kind === 'completed')
    return `Executed natively on ${r.service.providerKey} (${r.httpStatus})${r.attempts.length > 1 ? ` after ${r.attempts.length - 1} fallback(s)` : ''}.`;
  if (r.kind === 'handoff') return `Handed off to ${r.service.providerKey}: ${r.handoff.url}`;
  return `${r.message} ${r.attempts.map((a) => `${a.serviceId}: ${a.error ?? 'failed'}`).join('; ')}`;
}
