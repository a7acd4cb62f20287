import type { HandlerMap } from '../../http/types.ts';
import { created, ok } from '../../http/types.ts';
import { pageQuery } from '../../http/pagination.ts';
import type { RouteRecord, TaskResolution, TasksService } from './service.ts';
import type { ExecutionResult } from './executor.ts';

export function taskHandlers(tasks: TasksService): HandlerMap {
  return {
    listTasks: async (ctx) => ok(await tasks.list(ctx.params.machineId!, pageQuery(ctx.query))),
    createTask: async (ctx) => created({ item: await tasks.create(ctx.params.machineId!, ctx.body) }),
    getTask: async (ctx) => ok({ item: await tasks.get(ctx.params.machineId!, ctx.params.taskId!) }),
    discoverTask: async (ctx) => ok(await tasks.discover(ctx.params.machineId!, ctx.params.taskId!, ctx.body ?? {})),
    resolveTask: async (ctx) => created(await tasks.resolve(ctx.params.machineId!, ctx.params.taskId!, ctx.body ?? {})),
    executeTask: async (ctx) => {
      const out = await tasks.execute(ctx.params.machineId!, ctx.params.taskId!, ctx.body?.input);
      const resolution = resolutionOf(out.route, out.result);
      if (out.error)
        return { status: out.status, body: { error: out.error, item: out.outcome, run: out.run, resolution } };
      return { status: out.status, body: { item: out.outcome, run: out.run, resolution } };
    },
    listRoutes: async (ctx) => ok(await tasks.listRoutes(ctx.params.machineId!, pageQuery(ctx.query))),
    listOutcomes: async (ctx) => ok(await tasks.listOutcomes(ctx.params.machineId!, pageQuery(ctx.query))),
    listRuns: async (ctx) => {
      const q = ctx.query as Record<string, string | undefined>;
      return ok(
        await tasks.listRuns(
          {
            machineId: q.machineId!,
            status: q.status,
            skillKey: q.skillKey,
            serviceId: q.serviceId,
            executionMode: q.executionMode,
          },
          pageQuery(ctx.query),
        ),
      );
    },
    getRun: async (ctx) => ok(await tasks.getRun(ctx.params.runId!)),
  };
}

/** The resolution the execution ended on (the service actually used, or the selected one when all failed). */
export function resolutionOf(route: RouteRecord, r: ExecutionResult): TaskResolution {
  const service = r.service;
  if (!service)
    return { kind: 'unavailable', reason: r.kind === 'failed' ? r.message : 'service missing', candidates: [] };
  const candidate = { service, score: route.score, reasons: [route.reason] };
  if (r.kind === 'handoff') return { kind: 'handoff', candidate, handoff: r.handoff };
  return { kind: 'native', candidate };
}
