import { andThen } from '../../awaitable.ts';
import type { HandlerMap } from '../../http/types.ts';
import { created, ok } from '../../http/types.ts';
import { pageQuery } from '../../http/pagination.ts';
import type { MachinesService } from './service.ts';

export function machineHandlers(machines: MachinesService) {
  return {
    createMachineIdentityChallenge: async (ctx) =>
      created({ item: await machines.createChallenge(ctx.body.identityRef) }),
    listMachines: async (ctx) => ok(await machines.list(pageQuery(ctx.query))),
    createMachine: async (ctx) => created({ item: await machines.create(ctx.body) }),
    getMachine: (ctx) => andThen(machines.get(ctx.params.machineId), (item) => ok({ item })),
    updateMachine: async (ctx) => ok({ item: await machines.update(ctx.params.machineId, ctx.body) }),
  } satisfies HandlerMap;
}
