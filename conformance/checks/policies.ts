// Policies: read-your-writes, distinct ids, PATCH persists, DELETE removes.
import type { Kit } from '../kit.ts';
import { STATELESS, type CheckContext } from './context.ts';

export function registerPolicies(kit: Kit, ctx: CheckContext): void {
  const { h } = ctx;
  kit.group('policies', (check) => {
    check(
      'policies: what is created reads back exactly, ids are distinct, PATCH persists, DELETE removes (404, gone from the list)',
      async () => {
        const tag = `kit-${Math.random().toString(36).slice(2, 8)}`;
        const a = kit.ok(
          await h.send('POST', '/api/v1/policies', {
            body: { name: `${tag} a`, regionRules: ['eu-central'], deniedSkillKeys: ['kit.denied'] },
          }),
          'createPolicy',
          201,
        );
        const b = kit.ok(await h.send('POST', '/api/v1/policies', { body: { name: `${tag} b` } }), 'createPolicy', 201);
        kit.assert(
          a.body.item.id !== b.body.item.id,
          b,
          'createPolicy',
          `distinct ids for distinct creates (${STATELESS})`,
        );
        const got = kit.ok(await h.send('GET', `/api/v1/policies/${a.body.item.id}`), 'getPolicy', 200);
        kit.assert(
          got.body.item.name === `${tag} a` &&
            got.body.item.regionRules?.[0] === 'eu-central' &&
            got.body.item.deniedSkillKeys?.[0] === 'kit.denied',
          got,
          'getPolicy',
          `GET returns what was created (${STATELESS})`,
        );
        kit.ok(
          await h.send('PATCH', `/api/v1/policies/${a.body.item.id}`, {
            body: { nativeOnly: true, name: `${tag} a2` },
          }),
          'updatePolicy',
          200,
        );
        const after = kit.ok(await h.send('GET', `/api/v1/policies/${a.body.item.id}`), 'getPolicy', 200);
        kit.assert(
          after.body.item.nativeOnly === true && after.body.item.name === `${tag} a2`,
          after,
          'getPolicy',
          `a PATCH persists (${STATELESS})`,
        );
        const listed = kit.ok(await h.send('GET', '/api/v1/policies?limit=500'), 'listPolicies', 200);
        kit.assert(
          listed.body.items.some((x: { id: string }) => x.id === b.body.item.id),
          listed,
          'listPolicies',
          `the list holds what was created (${STATELESS})`,
        );
        kit.ok(await h.send('DELETE', `/api/v1/policies/${b.body.item.id}`), 'deletePolicy', 204);
        kit.error(await h.send('GET', `/api/v1/policies/${b.body.item.id}`), 'getPolicy', 'NOT_FOUND');
        kit.error(await h.send('DELETE', `/api/v1/policies/${b.body.item.id}`), 'deletePolicy', 'NOT_FOUND');
        const relisted = kit.ok(await h.send('GET', '/api/v1/policies?limit=500'), 'listPolicies', 200);
        kit.assert(
          !relisted.body.items.some((x: { id: string }) => x.id === b.body.item.id),
          relisted,
          'listPolicies',
          `a deleted policy leaves the list (${STATELESS})`,
        );
        kit.ok(await h.send('GET', '/api/v1/audit-events?limit=5'), 'listAuditEvents', 200);
      },
    );
  });
}
