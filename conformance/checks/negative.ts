import type { Kit } from '../kit.ts';
import { negativeCases, requestSchema } from '../negative.ts';
import type { CheckContext } from './context.ts';

export function registerNegative(kit: Kit, ctx: CheckContext): void {
  const { h, machine, fx } = ctx;
  const doc = kit.validator.doc;
  kit.group('negative', (check) => {
    const policyCount = async () => {
      let n = 0;
      let cursor: string | undefined;
      do {
        const r = await h.send(
          'GET',
          `/api/v1/policies?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        n += r.body?.items?.length ?? 0;
        cursor = r.body?.nextCursor;
      } while (cursor);
      return n;
    };
    check('generated bad POST /policies bodies get 400 VALIDATION_ERROR and change nothing', async () => {
      const before = await policyCount();
      for (const c of negativeCases(
        doc,
        requestSchema(doc, '/api/v1/policies', 'post'),
        { name: 'neg', budgetCap: { amount: 1, currency: 'USDT' }, nativeOnly: true },
        kit.opts.seed,
      )) {
        const r = await h.send('POST', '/api/v1/policies', { body: c.body });
        kit.assert(r.status !== 500, r, 'createPolicy', `no 500 for ${c.label}`);
        kit.error(r, 'createPolicy', 'VALIDATION_ERROR');
      }
      const after = await policyCount();
      kit.assert(
        after === before,
        null,
        'createPolicy',
        'no policy was created by a rejected request',
        `${before} -> ${after}`,
      );
    });
    check(
      'generated bad POST /machines and identity-challenge bodies get 400 VALIDATION_ERROR',
      async () => {
        const identity = fx.newMachine();
        const valid = {
          displayName: 'neg',
          ownerId: 'kit',
          machineType: 't',
          runtimeProfile: 'r',
          identityRef: identity.did,
        };
        for (const c of negativeCases(doc, requestSchema(doc, '/api/v1/machines', 'post'), valid, kit.opts.seed)) {
          const r = await h.send('POST', '/api/v1/machines', { body: c.body });
          kit.assert(r.status !== 500, r, 'createMachine', `no 500 for ${c.label}`);
          kit.error(r, 'createMachine', 'VALIDATION_ERROR');
        }
        for (const c of negativeCases(
          doc,
          requestSchema(doc, '/api/v1/machine-identity/challenges', 'post'),
          { identityRef: identity.did },
          kit.opts.seed,
        )) {
          kit.error(
            await h.send('POST', '/api/v1/machine-identity/challenges', { body: c.body }),
            'createMachineIdentityChallenge',
            'VALIDATION_ERROR',
          );
        }
        const list = await h.send('GET', '/api/v1/machines?limit=500');
        kit.assert(
          !JSON.stringify(list.body).includes(identity.did),
          list,
          'listMachines',
          'no machine was created by a rejected request',
        );
      },
      { identity: true },
    );
    check(
      'generated bad bodies on machine-bound writes get 400 VALIDATION_ERROR',
      async () => {
        const m = await machine();
        const targets: Array<[string, string, string, Record<string, unknown>]> = [
          [
            '/api/v1/machines/{machineId}/runtime-endpoints/{providerKey}',
            'put',
            `/api/v1/machines/${m.id}/runtime-endpoints/negcheck`,
            { endpointBaseUrl: fx.runtimeUrl },
          ],
          [
            '/api/v1/machines/{machineId}/tasks',
            'post',
            `/api/v1/machines/${m.id}/tasks`,
            { serviceType: 'compute.marketplace', taskType: 'neg', constraints: { budget: 1 } },
          ],
          [
            '/api/v1/machines/{machineId}/graph/nodes',
            'post',
            `/api/v1/machines/${m.id}/graph/nodes`,
            { type: 'skill', title: 'neg' },
          ],
        ];
        const opIds: Record<string, string> = {
          put: 'upsertRuntimeEndpoint',
          tasks: 'createTask',
          nodes: 'createGraphNode',
        };
        for (const [template, method, path, valid] of targets) {
          const opId = method === 'put' ? opIds.put! : path.endsWith('tasks') ? opIds.tasks! : opIds.nodes!;
          for (const c of negativeCases(doc, requestSchema(doc, template, method), valid, kit.opts.seed)) {
            const r = await h.send(method.toUpperCase(), path, { body: c.body });
            kit.assert(r.status !== 500, r, opId, `no 500 for ${c.label}`);
            kit.error(r, opId, 'VALIDATION_ERROR');
          }
        }
        const eps = await h.send('GET', `/api/v1/machines/${m.id}/runtime-endpoints`);
        kit.assert(
          !JSON.stringify(eps.body).includes('negcheck'),
          eps,
          'listRuntimeEndpoints',
          'no endpoint was created by a rejected request',
        );
      },
      { identity: true },
    );
  });
}
