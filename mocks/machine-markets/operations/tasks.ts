// Tasks: discover, resolve, execute, with routes, outcomes and runs.
import type { Catalog } from '../../../src/modules/catalog/catalog-core.ts';
import { rankForTask, resolutionOf, routeFor } from '../../../src/modules/tasks/routing.ts';
import { ApiError } from '../../../src/errors.ts';
import type { Machine, TaskRecord, DiscoverTaskRequest } from '../../../generated/types.gen.ts';
import { mockId, now, type MockState } from '../state.ts';
import {
  type Operation,
  ok,
  created,
  gone,
  page,
  sorted,
  audit,
  activeMachine,
  policiesOf,
  runtimeProviders,
  executeRoute,
  type OpsContext,
} from './common.ts';

/** The server's ranking (src/modules/tasks/routing.ts) over the mock's state. */
function rank(state: MockState, catalog: Catalog, m: Machine, t: TaskRecord, opts: DiscoverTaskRequest) {
  const context = {
    policies: async () => policiesOf(state, m),
    activeRuntimeProviders: async () => runtimeProviders(state, m.id),
  };
  return rankForTask(catalog, context, m, t, opts);
}

export function tasksOperations(ctx: OpsContext): Record<string, Operation> {
  const { catalog } = ctx;
  return {
    listTasks: (state, req) => {
      activeMachine(state, req.params.machineId!);
      return ok(
        page(
          sorted(state.tasks).filter((t) => t.machineId === req.params.machineId),
          req.query,
        ),
      );
    },
    createTask: (state, req) => {
      activeMachine(state, req.params.machineId!);
      const b = req.body;
      const unknown = (b.constraints?.preferredSkillKeys ?? []).filter((k: string) => !catalog.skill(k));
      if (unknown.length) throw new ApiError('VALIDATION_ERROR', `Unknown skill(s): ${unknown.join(', ')}.`);
      const at = now(state);
      const c = b.constraints ?? {};
      const t: TaskRecord = {
        id: mockId(state, 'tsk'),
        machineId: req.params.machineId!,
        serviceType: b.serviceType,
        ...(b.operation ? { operation: b.operation } : {}),
        taskType: b.taskType,
        status: 'queued',
        input: b.input ?? {},
        constraints: {
          ...(c.region ? { region: c.region } : {}),
          ...(c.budget !== undefined ? { budget: c.budget } : {}),
          allowExternalHandoff: c.allowExternalHandoff ?? true,
          requireNativeExecution: c.requireNativeExecution ?? false,
          requiredCapabilities: c.requiredCapabilities ?? [],
          ...(c.preferredSkillKeys ? { preferredSkillKeys: c.preferredSkillKeys } : {}),
        },
        discovery: { maxCandidates: b.discovery?.maxCandidates ?? 10 },
        routeId: null,
        outcomeId: null,
        createdAt: at,
        updatedAt: at,
      };
      state.tasks.set(t.id, t);
      audit(state, 'task.created', 'task', t.id);
      return created({ item: t });
    },
    getTask: (state, req) => {
      activeMachine(state, req.params.machineId!);
      const t = state.tasks.get(req.params.taskId!);
      if (!t || t.machineId !== req.params.machineId) gone('Task');
      return ok({ item: t });
    },
    discoverTask: async (state, req) => {
      const m = activeMachine(state, req.params.machineId!);
      const t = state.tasks.get(req.params.taskId!);
      if (!t || t.machineId !== m.id) gone('Task');
      const ranking = await rank(state, catalog, m, t!, req.body ?? {});
      return ok({ taskId: t!.id, machineId: m.id, resolution: resolutionOf(ranking), candidates: ranking.candidates });
    },
    resolveTask: async (state, req) => {
      const m = activeMachine(state, req.params.machineId!);
      const t = state.tasks.get(req.params.taskId!);
      if (!t || t.machineId !== m.id) gone('Task');
      const ranking = await rank(state, catalog, m, t!, req.body ?? {});
      const resolution = resolutionOf(ranking);
      if (resolution.kind === 'unavailable')
        throw new ApiError('ROUTE_REQUIRED', `No route can be resolved: ${resolution.reason}`, { resolution });
      const at = now(state);
      const route = routeFor(mockId(state, 'rte'), t!, resolution, ranking.candidates, at);
      state.routes.set(route.id, route);
      Object.assign(t!, { status: 'resolved', routeId: route.id, updatedAt: at });
      audit(state, 'task.resolved', 'task', t!.id);
      return created({ item: route, resolution });
    },
    executeTask: (state, req) => {
      activeMachine(state, req.params.machineId!);
      const t = state.tasks.get(req.params.taskId!);
      if (!t || t.machineId !== req.params.machineId) gone('Task');
      if (!t!.routeId) throw new ApiError('ROUTE_REQUIRED', 'Resolve the task before executing it.');
      const route = state.routes.get(t!.routeId)!;
      if (req.body?.input) t!.input = { ...t!.input, ...req.body.input };
      const ex = executeRoute(state, catalog, t!, route);
      const service = catalog.service(route.selectedServiceId)!;
      const candidate = { service, score: route.score, reasons: [route.reason] };
      const resolution =
        route.executionMode === 'external-handoff' && route.handoff
          ? { kind: 'handoff', candidate, handoff: route.handoff }
          : { kind: 'native', candidate };
      if (ex.status >= 500)
        return {
          status: ex.status,
          body: {
            error: { code: 'RUNTIME_UNAVAILABLE', message: ex.outcome.errorMessage },
            item: ex.outcome,
            run: ex.run,
            resolution,
          },
        };
      return { status: ex.status, body: { item: ex.outcome, run: ex.run, resolution } };
    },
    listRoutes: (state, req) => {
      activeMachine(state, req.params.machineId!);
      return ok(
        page(
          sorted(state.routes).filter((x) => x.machineId === req.params.machineId),
          req.query,
        ),
      );
    },
    listOutcomes: (state, req) => {
      activeMachine(state, req.params.machineId!);
      return ok(
        page(
          sorted(state.outcomes).filter((x) => x.machineId === req.params.machineId),
          req.query,
        ),
      );
    },
    listRuns: (state, req) => {
      activeMachine(state, req.query.machineId!);
      const q = req.query;
      return ok(
        page(
          sorted(state.runs).filter(
            (x) =>
              x.machineId === q.machineId &&
              (!q.status || x.status === q.status) &&
              (!q.skillKey || x.skillKey === q.skillKey) &&
              (!q.serviceId || x.serviceId === q.serviceId) &&
              (!q.executionMode || x.executionMode === q.executionMode),
          ),
          q,
        ),
      );
    },
    getRun: (state, req) => {
      const run = state.runs.get(req.params.runId!) ?? gone('Run');
      return ok({ run, outcome: (run.outcomeId && state.outcomes.get(run.outcomeId)) || null });
    },
  };
}
