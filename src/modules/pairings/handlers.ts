import type { HandlerMap } from '../../http/types.ts';
import { created, ok } from '../../http/types.ts';
import { pageQuery } from '../../http/pagination.ts';
import type { PairingsService } from './service.ts';

export function pairingHandlers(pairings: PairingsService) {
  return {
    listAgentPairings: async (ctx) =>
      ok(await pairings.list(ctx.params.machineId, ctx.query.status, pageQuery(ctx.query))),
    getAgentPairing: async (ctx) =>
      ok({ item: await pairings.get(ctx.params.machineId, ctx.params.pairingId, ctx.caller) }),
    createAgentPairingChallenge: async (ctx) =>
      created({ item: await pairings.createChallenge(ctx.params.machineId, ctx.body) }),
    createAgentPairing: async (ctx) => created({ item: await pairings.create(ctx.params.machineId, ctx.body) }),
    createAgentPairingSession: async (ctx) =>
      created({
        item: await pairings.rotate(ctx.params.machineId, ctx.params.pairingId, ctx.body ?? {}, ctx.caller),
      }),
    updateAgentPairing: async (ctx) =>
      ok({ item: await pairings.update(ctx.params.machineId, ctx.params.pairingId, ctx.body) }),
    revokeAgentPairing: async (ctx) => ok({ item: await pairings.revoke(ctx.params.machineId, ctx.params.pairingId) }),
  } satisfies HandlerMap;
}
