import type { HandlerMap } from '../../http/types.ts';
import { bearerToken, created, noContent, ok } from '../../http/types.ts';
import { ApiError } from '../../errors.ts';
import { pageQuery } from '../../http/pagination.ts';
import type { RuntimeService } from './service.ts';

export function runtimeHandlers(runtime: RuntimeService) {
  return {
    listRuntimeEndpoints: async (ctx) => ok(await runtime.list(ctx.params.machineId, pageQuery(ctx.query))),
    getRuntimeEndpoint: async (ctx) => ok({ item: await runtime.get(ctx.params.machineId, ctx.params.providerKey) }),
    upsertRuntimeEndpoint: async (ctx) => {
      const r = await runtime.upsert(ctx.params.machineId, ctx.params.providerKey, ctx.body);
      return { status: r.created ? 201 : 200, body: { item: r.item } };
    },
    deleteRuntimeEndpoint: async (ctx) => {
      await runtime.remove(ctx.params.machineId, ctx.params.providerKey);
      return noContent();
    },
    listMachineAgents: async (ctx) => ok(await runtime.listAgents(ctx.params.machineId, pageQuery(ctx.query))),
    enrollMachineAgent: async (ctx) => created({ item: await runtime.enroll(ctx.params.machineId, ctx.body ?? {}) }),
    revokeMachineAgent: async (ctx) =>
      ok({ item: await runtime.revokeAgent(ctx.params.machineId, ctx.params.agentId) }),
    machineAgentHeartbeat: async (ctx) => {
      // The agent token may come in the body, in x-agent-pairing-token or as a bearer token.
      const token = ctx.body.agentToken ?? ctx.caller.pairingToken ?? bearerToken(ctx);
      if (!token)
        throw new ApiError(
          'AGENT_AUTH_REQUIRED',
          'Send the agentToken in the body, x-agent-pairing-token or Authorization: Bearer.',
        );
      return ok(await runtime.heartbeat(token, ctx.body));
    },
  } satisfies HandlerMap;
}
