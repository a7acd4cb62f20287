import type { HandlerMap } from '../../http/types.ts';
import { created, noContent, ok } from '../../http/types.ts';
import { pageQuery } from '../../http/pagination.ts';
import type { RuntimeService } from './service.ts';

export function runtimeHandlers(runtime: RuntimeService): HandlerMap {
  return {
    listRuntimeEndpoints: async (ctx) => ok(await runtime.list(ctx.params.machineId!, pageQuery(ctx.query))),
    getRuntimeEndpoint: async (ctx) => ok({ item: await runtime.get(ctx.params.machineId!, ctx.params.providerKey!) }),
    upsertRuntimeEndpoint: async (ctx) => {
      const r = await runtime.upsert(ctx.params.machineId!, ctx.params.providerKey!, ctx.body);
      return { status: r.created ? 201 : 200, body: { item: r.item } };
    },
    deleteRuntimeEndpoint: async (ctx) => {
      await runtime.remove(ctx.params.machineId!, ctx.params.providerKey!);
      return noContent();
    },
    listMachineAgents: async (ctx) => ok(await runtime.listAgents(ctx.params.machineId!, pageQuery(ctx.query))),
    enrollMachineAgent: async (ctx) => created({ item: await runtime.enroll(ctx.params.machineId!, ctx.body ?? {}) }),
    revokeMachineAgent: async (ctx) =>
      ok({ item: await runtime.revokeAgent(ctx.params.machineId!, ctx.params.agentId!) }),
    machineAgentHeartbeat: async (ctx) => ok(await runtime.heartbeat(ctx.headers, ctx.body)),
  };
}
