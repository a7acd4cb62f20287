import type { HandlerMap } from '../../http/types.ts';
import { created, ok } from '../../http/types.ts';
import { pageQuery } from '../../http/pagination.ts';
import type { TasksService } from './service.ts';
import { endedOn } from './execution.ts';

export function taskHandlers(tasks: TasksService) {
  return {
    listTasks: async (ctx) => ok(await tasks.list(ctx.params.machineId, pageQuery(ctx.query))),
    createTask: async (ctx) => created({ item: await tasks.create(ctx.params.machineId, ctx.body) }),
    getTask: async (ctx) => ok({ item: await tasks.get(ctx.params.machineId, ctx.params.taskId) }),
    discoverTask: async (ctx) => ok(await tasks.discover(ctx.params.machineId, ctx.params.taskId, ctx.body ?? {})),
    resolveTask: async (ctx) => created(await tasks.resolve(ctx.params.machineId, ctx.params.taskId, ctx.body ?? {})),
    executeTask: async (ctx) => {
      const out = await tasks.execute(ctx.params.machineId, ctx.params.taskId, ctx.body?.input);
      const body = { item: out.outcome, run: out.run, resolution: endedOn(out.route, out.result) };
      if (out.error)
        return out.status === 503
          ? { status: 503, body: { error: out.error, ...body } }
          : { status: 502, body: { error: out.error, ...body } };
      return out.status === 202 ? { status: 202, body } : { status: 200, body };
    },
    listRoutes: async (ctx) => ok(await tasks.listRoutes(ctx.params.machineId, pageQuery(ctx.query))),
    listOutcomes: async (ctx) => ok(await tasks.listOutcomes(ctx.params.machineId, pageQuery(ctx.query))),
    listRuns: async (ctx) => {
      const { machineId, status, skillKey, serviceId, executionMode } = ctx.query;
      return ok(await tasks.listRuns({ machineId, status, skillKey, serviceId, executionMode }, pageQuery(ctx.query)));
    },
    getRun: async (ctx) => ok(await tasks.getRun(ctx.params.runId)),
  } satisfies HandlerMap;
}
