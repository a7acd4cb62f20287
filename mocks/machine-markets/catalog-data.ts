// The shipped sample catalogue, imported as JSON so bundlers include it in browser builds.
import skills from '../../catalog/skills.json' with { type: 'json' };
import services from '../../catalog/services.json' with { type: 'json' };
import adapters from '../../catalog/adapters.json' with { type: 'json' };
import {
  Catalog,
  completeService,
  type MarketAdapter,
  type SkillSummary,
} from '../../src/modules/catalog/catalog-core.ts';

export function sampleCatalog(): Catalog {
  return new Catalog(
    skills.items as SkillSummary[],
    (services.items as unknown as Record<string, unknown>[]).map(completeService),
    adapters.items as MarketAdapter[],
    'catalog/ (bundled)',
  );
}
