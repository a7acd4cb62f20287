// The catalogue: skills, services and adapters.
import { type Operation, ok, gone, page, type OpsContext } from './common.ts';

export function catalogueOperations(ctx: OpsContext): Record<string, Operation> {
  const { catalog } = ctx;
  return {
    listSkills: (_s, r) =>
      ok(
        page(
          catalog.skills.filter(
            (k) =>
              (!r.query.serviceType || k.serviceTypes.includes(r.query.serviceType as never)) &&
              (!r.query.providerKey || k.providerKey === r.query.providerKey) &&
              (!r.query.executionMode || k.executionMode === r.query.executionMode) &&
              (!r.query.integrationStatus || k.integrationStatus === r.query.integrationStatus),
          ),
          r.query,
          (k) => k.key,
        ),
      ),
    getSkill: (_s, r) => ok({ item: catalog.skill(r.params.skillKey!) ?? gone('Skill') }),
    listMarketServices: (_s, r) =>
      ok(
        page(
          catalog.services.filter(
            (x) =>
              (!r.query.serviceType || x.serviceType === r.query.serviceType) &&
              (!r.query.skillKey || x.skillKey === r.query.skillKey) &&
              (!r.query.providerKey || x.providerKey === r.query.providerKey) &&
              (!r.query.executionMode || x.executionMode === r.query.executionMode) &&
              (!r.query.integrationStatus || x.integrationStatus === r.query.integrationStatus) &&
              (!r.query.region || x.region === r.query.region),
          ),
          r.query,
          (x) => x.id,
        ),
      ),
    getMarketService: (_s, r) => ok({ item: catalog.service(r.params.serviceId!) ?? gone('Service') }),
    listMarketAdapters: (_s, r) =>
      ok(
        page(
          catalog.adapters.filter(
            (a) =>
              (!r.query.serviceType || a.serviceTypes.includes(r.query.serviceType as never)) &&
              (!r.query.executionMode || a.executionMode === r.query.executionMode) &&
              (!r.query.integrationStatus || a.integrationStatus === r.query.integrationStatus),
          ),
          r.query,
          (a) => a.providerKey,
        ),
      ),
    getMarketAdapter: (_s, r) => ok({ item: catalog.adapter(r.params.providerKey!) ?? gone('Adapter') }),
  };
}
