import { SignJWT, UnsecuredJWT, decodeJwt, base64url } from 'jose';
import type { Kit } from '../kit.ts';
import type { CheckContext } from './context.ts';

export function registerSecurity(kit: Kit, ctx: CheckContext): void {
  const { h, tokenHeader, machineChallenge, pairAgent, machine, pairing, otherPairing } = ctx;
  kit.group('security', (check) => {
    check(
      'tampered, alg:none, foreign-secret and missing tokens are refused on market calls',
      async () => {
        const p = await pairing();
        const search = (headers: Record<string, string>) =>
          h.send('POST', '/api/v1/market/search', { body: { machineId: p.machineId }, headers });
        kit.error(await search({}), 'searchMarket', ['AGENT_AUTH_REQUIRED', 'AGENT_PAIRING_REQUIRED']);
        const claims = decodeJwt(p.token);
        const [hd, , sig] = p.token.split('.');
        const tampered = `${hd}.${base64url.encode(JSON.stringify({ ...claims, delegationPolicyHash: '0'.repeat(64) }))}.${sig}`;
        const none = new UnsecuredJWT(claims).encode();
        const foreign = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256' })
          .sign(new TextEncoder().encode('a-secret-the-target-does-not-know-at-all'));
        for (const t of [tampered, none, foreign, 'not-a-token'])
          kit.error(await search(tokenHeader(t)), 'searchMarket', 'AGENT_AUTH_INVALID');
      },
      { identity: true },
    );
    check(
      "one machine's token cannot act for another machine",
      async () => {
        const a = await pairing();
        const b = await otherPairing();
        kit.error(
          await h.send('POST', '/api/v1/market/search', {
            body: { machineId: a.machineId },
            headers: tokenHeader(b.token),
          }),
          'searchMarket',
          ['AGENT_AUTH_INVALID', 'AGENT_PAIRING_REQUIRED'],
        );
        kit.error(
          await h.send('POST', '/api/v1/market/orders', {
            body: { machineId: a.machineId, serviceId: 'any' },
            headers: tokenHeader(b.token),
          }),
          'createMarketOrder',
          ['AGENT_AUTH_INVALID', 'AGENT_PAIRING_REQUIRED'],
        );
        // An order of machine A, with A's token, then acted on with B's token.
        const s = kit.ok(
          await h.send('POST', '/api/v1/market/search', {
            body: { machineId: a.machineId, maxResults: 25 },
            headers: tokenHeader(a.token),
          }),
          'searchMarket',
          201,
        );
        const quote = (s.body.item.quotes as Array<{ id: string }>)[0];
        if (!quote) kit.skip('the target catalogue offers no quote to this pairing, so there is no order to act on');
        const o = kit.ok(
          await h.send('POST', '/api/v1/market/orders', {
            body: { machineId: a.machineId, searchId: s.body.item.id, quoteId: quote.id },
            headers: tokenHeader(a.token),
          }),
          'createMarketOrder',
          201,
        );
        const base = `/api/v1/market/orders/${o.body.item.id}`;
        kit.error(
          await h.send('POST', `${base}/execute`, { body: {}, headers: tokenHeader(b.token) }),
          'executeMarketOrder',
          ['AGENT_AUTH_INVALID', 'AGENT_PAIRING_REQUIRED'],
        );
        kit.error(
          await h.send('POST', `${base}/cancel`, { body: {}, headers: tokenHeader(b.token) }),
          'cancelMarketOrder',
          ['AGENT_AUTH_INVALID', 'AGENT_PAIRING_REQUIRED'],
        );
        kit.ok(
          await h.send('POST', `${base}/cancel`, { body: {}, headers: tokenHeader(a.token) }),
          'cancelMarketOrder',
          200,
        );
      },
      { identity: true },
    );
    check(
      'an agent-scoped key: every operator operation is 403 AUTH_FORBIDDEN; agent operations work with its token',
      async () => {
        const agentKey = kit.opts.agentApiKey;
        if (!agentKey) kit.skip('no --agent-api-key given');
        const p = await pairing();
        for (const op of kit.validator.operations()) {
          const roles = op.operation['x-peaqos-roles'] as string[] | undefined;
          if (!roles || roles.some((r) => r !== 'operator')) continue;
          const path = op.path.replace(/\{[^}]+\}/g, 'conformance-x');
          const hasBody = ['post', 'put', 'patch'].includes(op.method);
          kit.error(
            await h.send(op.method.toUpperCase(), path, { apiKey: agentKey, ...(hasBody ? { body: {} } : {}) }),
            op.operationId,
            'AUTH_FORBIDDEN',
          );
        }
        kit.ok(
          await h.send('POST', '/api/v1/market/search', {
            apiKey: agentKey,
            body: { machineId: p.machineId },
            headers: tokenHeader(p.token),
          }),
          'searchMarket',
          201,
        );
        kit.ok(await h.send('GET', '/api/v1/skills', { apiKey: agentKey }), 'listSkills', 200);
      },
      { identity: true, designed: true },
    );
    check(
      'one MCR machine registers once: its peaqos:machine:<id> form after its DID is MACHINE_IDENTITY_EXISTS',
      async () => {
        const m = await machine();
        const alias = `peaqos:machine:${m.identity.mcrId}`;
        const c = await machineChallenge(alias);
        const signature = await m.identity.wallet.signMessage(c.body.item.message);
        const r = await h.send('POST', '/api/v1/machines', {
          body: {
            displayName: 'alias',
            ownerId: 'conformance-kit',
            machineType: 'test-rig',
            runtimeProfile: 'conformance',
            identityRef: alias,
            identityProof: { challengeId: c.body.item.challengeId, signature },
          },
        });
        kit.error(r, 'createMachine', 'MACHINE_IDENTITY_EXISTS');
      },
      { identity: true, designed: true },
    );
    check(
      'search and orders agree: every quote offered to a pairing with limits and a currency can be ordered',
      async () => {
        const m = await machine();
        const paired = await pairAgent(m.id, { currency: 'USDT', perTransactionLimit: 1, dailySpendLimit: 2 });
        const t = tokenHeader(paired.token);
        const s = kit.ok(
          await h.send('POST', '/api/v1/market/search', { body: { machineId: m.id, maxResults: 25 }, headers: t }),
          'searchMarket',
          201,
        );
        for (const q of s.body.item.quotes as Array<{ id: string; serviceId: string }>) {
          const o = await h.send('POST', '/api/v1/market/orders', {
            body: { machineId: m.id, searchId: s.body.item.id, quoteId: q.id },
            headers: t,
          });
          kit.assert(
            o.status === 201,
            o,
            'createMarketOrder',
            `the quote for ${q.serviceId} is accepted by the order step`,
          );
          kit.ok(
            await h.send('POST', `/api/v1/market/orders/${o.body.item.id}/cancel`, { body: {}, headers: t }),
            'cancelMarketOrder',
            200,
          );
        }
      },
      { identity: true, designed: true },
    );
    check(
      'hostile input (NUL, lone surrogate, 1e309, JSON past 64 levels, invalid UTF-8) is 400 and writes nothing',
      async () => {
        const name = `kit-hostile-${Math.random().toString(36).slice(2)}`;
        const bodies = [
          `{"name":"${name}\\u0000"}`,
          `{"name":"${name}\\ud800"}`,
          `{"name":"${name}","budgetCap":{"amount":1e309,"currency":"USDT"}}`,
          `{"name":"${name}","x":${'['.repeat(80)}${']'.repeat(80)}}`,
        ];
        for (const raw of bodies)
          kit.error(await h.send('POST', '/api/v1/policies', { raw }), 'createPolicy', 'VALIDATION_ERROR');
        const bytes = new Uint8Array([
          ...new TextEncoder().encode(`{"name":"${name}`),
          0xff,
          0xfe,
          ...new TextEncoder().encode('"}'),
        ]);
        kit.error(await h.send('POST', '/api/v1/policies', { bytes }), 'createPolicy', 'VALIDATION_ERROR');
        kit.error(await h.send('GET', '/api/v1/policies/x%00y'), 'getPolicy', 'VALIDATION_ERROR');
        const list = kit.ok(await h.send('GET', '/api/v1/policies?limit=500'), 'listPolicies', 200);
        kit.assert(!list.rawBody.includes(name), list, 'listPolicies', 'no refused request left a policy behind');
      },
      { designed: true },
    );
  });
}
