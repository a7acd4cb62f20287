// The catalogue: skills, services and adapters page completely and read back.
import type { Kit } from '../kit.ts';
import { STATELESS, type CheckContext } from './context.ts';

export function registerCatalogue(kit: Kit, ctx: CheckContext): void {
  const { h } = ctx;
  kit.group('catalogue', (check) => {
    check('catalogue: skills, services and adapters page completely and read back; unknown keys are 404', async () => {
      const walk = async (path: string, op: string, key: string) => {
        const seen: string[] = [];
        let cursor: string | undefined;
        let guard = 0;
        do {
          const r = kit.ok(
            await h.send('GET', `${path}?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
            op,
            200,
          );
          seen.push(...r.body.items.map((x: Record<string, string>) => x[key]!));
          cursor = r.body.nextCursor;
        } while (cursor && ++guard < 1000);
        kit.assert(
          seen.length > 0 && new Set(seen).size === seen.length,
          null,
          op,
          'the catalogue pages without duplicates',
          `${seen.length} items`,
        );
        return seen;
      };
      const skills = await walk('/api/v1/skills', 'listSkills', 'key');
      const skill = kit.ok(await h.send('GET', `/api/v1/skills/${encodeURIComponent(skills[0]!)}`), 'getSkill', 200);
      kit.assert(skill.body.item.key === skills[0], skill, 'getSkill', `GET returns the listed skill (${STATELESS})`);
      kit.error(await h.send('GET', '/api/v1/skills/conformance.none'), 'getSkill', 'NOT_FOUND');
      const services = await walk('/api/v1/market/services', 'listMarketServices', 'id');
      const service = kit.ok(
        await h.send('GET', `/api/v1/market/services/${encodeURIComponent(services[0]!)}`),
        'getMarketService',
        200,
      );
      kit.assert(
        service.body.item.id === services[0],
        service,
        'getMarketService',
        `GET returns the listed service (${STATELESS})`,
      );
      kit.error(await h.send('GET', '/api/v1/market/services/conformance-none'), 'getMarketService', 'NOT_FOUND');
      const adapters = await walk('/api/v1/market/adapters', 'listMarketAdapters', 'providerKey');
      const adapter = kit.ok(
        await h.send('GET', `/api/v1/market/adapters/${encodeURIComponent(adapters[0]!)}`),
        'getMarketAdapter',
        200,
      );
      kit.assert(
        adapter.body.item.providerKey === adapters[0],
        adapter,
        'getMarketAdapter',
        `GET returns the listed adapter (${STATELESS})`,
      );
      kit.error(await h.send('GET', '/api/v1/market/adapters/conformance-none'), 'getMarketAdapter', 'NOT_FOUND');
    });
  });
}
