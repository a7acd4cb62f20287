import type { HandlerMap } from '../../http/types.ts';
import { created, noContent, ok } from '../../http/types.ts';
import { pageQuery } from '../../http/pagination.ts';
import type { PoliciesService } from './service.ts';

export function policyHandlers(policies: PoliciesService) {
  return {
    listPolicies: async (ctx) => ok(await policies.list(pageQuery(ctx.query))),
    createPolicy: async (ctx) => created({ item: await policies.create(ctx.body) }),
    getPolicy: async (ctx) => ok({ item: await policies.get(ctx.params.policyId) }),
    updatePolicy: async (ctx) => ok({ item: await policies.update(ctx.params.policyId, ctx.body) }),
    deletePolicy: async (ctx) => {
      await policies.delete(ctx.params.policyId);
      return noContent();
    },
  } satisfies HandlerMap;
}
