import type { Kit } from '../kit.ts';
import { STATELESS, type CheckContext } from './context.ts';

export function registerPagination(kit: Kit, ctx: CheckContext): void {
  const { h, activeMachine } = ctx;
  // The last request of a walk through the pages: what a report shows for a finding about the whole walk.
  const lastPage = () => h.exchanges[h.exchanges.length - 1] ?? null;
  kit.group('pagination', (check) => {
    check('limit bounds, opaque cursors, nextCursor omitted on the last page, no duplicates or gaps', async () => {
      const made: string[] = [];
      for (let i = 0; i < 3; i++)
        made.push(
          kit.ok(
            await h.send('POST', '/api/v1/policies', { body: { name: `conformance paging ${i}` } }),
            'createPolicy',
            201,
          ).body.item.id,
        );
      kit.assert(
        new Set(made).size === made.length,
        null,
        'createPolicy',
        `three creates give three distinct ids (${STATELESS})`,
        made.join(', '),
      );
      const seen: string[] = [];
      let cursor: string | undefined;
      let guard = 0;
      do {
        const r = kit.ok(
          await h.send('GET', `/api/v1/policies?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
          'listPolicies',
          200,
        );
        kit.assert(
          !('nextCursor' in r.body) || typeof r.body.nextCursor === 'string',
          r,
          'listPolicies',
          'nextCursor is a string or omitted, never null',
        );
        kit.assert(r.body.items.length <= 1, r, 'listPolicies', 'at most `limit` items');
        if (r.body.nextCursor !== undefined)
          kit.assert(/^[A-Za-z0-9_-]+$/.test(r.body.nextCursor), r, 'listPolicies', 'an opaque base64url cursor');
        else kit.assert(r.body.items.length <= 1, r, 'listPolicies', 'the last page');
        seen.push(...r.body.items.map((p: { id: string }) => p.id));
        cursor = r.body.nextCursor;
      } while (cursor && ++guard < 10_000);
      kit.assert(
        new Set(seen).size === seen.length,
        lastPage(),
        'listPolicies',
        'no item appears on two pages',
        `duplicates in ${seen.length} items`,
      );
      for (const id of made)
        kit.assert(
          seen.includes(id),
          lastPage(),
          'listPolicies',
          `every created item is on some page (${id}; ${STATELESS})`,
          `missing from the ${seen.length} items on all pages`,
        );
      for (const bad of ['0', '501', '1.5', 'ten'])
        kit.error(await h.send('GET', `/api/v1/policies?limit=${bad}`), 'listPolicies', 'VALIDATION_ERROR');
      kit.error(await h.send('GET', '/api/v1/policies?cursor=not!a!cursor'), 'listPolicies', 'VALIDATION_ERROR');
    });
    check(
      'the machine list pages without duplicates',
      async () => {
        for (let i = 0; i < 2; i++) await activeMachine();
        const first = kit.ok(await h.send('GET', '/api/v1/machines?limit=1'), 'listMachines', 200);
        kit.assert(
          typeof first.body.nextCursor === 'string',
          first,
          'listMachines',
          'a nextCursor when more machines exist',
        );
        const second = kit.ok(
          await h.send('GET', `/api/v1/machines?limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`),
          'listMachines',
          200,
        );
        kit.assert(
          second.body.items[0]?.id !== first.body.items[0]?.id,
          second,
          'listMachines',
          'the next page holds the next machine',
        );
      },
      { identity: true },
    );
  });
}
