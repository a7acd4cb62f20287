import type { HandlerMap } from '../../http/types.ts';
import { ok } from '../../http/types.ts';
import { pageQuery } from '../../http/pagination.ts';
import { arrayPage } from '../../store/pages.ts';
import { notFound } from '../../errors.ts';
import type { Catalog } from './catalog.ts';

export function catalogHandlers(catalog: Catalog) {
  return {
    listSkills: async (ctx) => {
      const q = ctx.query;
      const items = catalog.skills.filter(
        (s) =>
          (!q.serviceType || s.serviceTypes.includes(q.serviceType)) &&
          (!q.providerKey || s.providerKey === q.providerKey) &&
          (!q.executionMode || s.executionMode === q.executionMode) &&
          (!q.integrationStatus || s.integrationStatus === q.integrationStatus),
      );
      return ok(arrayPage(items, (s) => s.key, pageQuery(ctx.query)));
    },
    getSkill: async (ctx) => {
      const s = catalog.skill(ctx.params.skillKey);
      if (!s) throw notFound('Skill');
      return ok({ item: s });
    },
    listMarketServices: async (ctx) => {
      const q = ctx.query;
      const items = catalog.services.filter(
        (s) =>
          (!q.serviceType || s.serviceType === q.serviceType) &&
          (!q.skillKey || s.skillKey === q.skillKey) &&
          (!q.providerKey || s.providerKey === q.providerKey) &&
          (!q.executionMode || s.executionMode === q.executionMode) &&
          (!q.integrationStatus || s.integrationStatus === q.integrationStatus) &&
          (!q.region || s.region === q.region),
      );
      return ok(arrayPage(items, (s) => s.id, pageQuery(ctx.query)));
    },
    getMarketService: async (ctx) => {
      const s = catalog.service(ctx.params.serviceId);
      if (!s) throw notFound('Service');
      return ok({ item: s });
    },
    listMarketAdapters: async (ctx) => {
      const q = ctx.query;
      const items = catalog.adapters.filter(
        (a) =>
          (!q.serviceType || a.serviceTypes.includes(q.serviceType)) &&
          (!q.executionMode || a.executionMode === q.executionMode) &&
          (!q.integrationStatus || a.integrationStatus === q.integrationStatus),
      );
      return ok(arrayPage(items, (a) => a.providerKey, pageQuery(ctx.query)));
    },
    getMarketAdapter: async (ctx) => {
      const a = catalog.adapter(ctx.params.providerKey);
      if (!a) throw notFound('Adapter');
      return ok({ item: a });
    },
  } satisfies HandlerMap;
}
