// Market search through HTTP, and the x-agent-pairing-token checks every market call shares.
import { afterEach, describe, expect, it } from 'vitest';
import { SignJWT, decodeJwt, UnsecuredJWT, base64url } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { startTestServer, type TestServer, TEST_SECRET } from './helpers/server.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { activeMachine } from './helpers/identity.ts';
import { agentWallet, pair, rotate } from './helpers/pairing.ts';
import { engines } from './helpers/db.ts';

const registry = useMockMcr();
let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

async function setup(env: Record<string, string> = {}, engine = engines()[0]!) {
  srv = await startTestServer({ engine, env });
  const machine = await activeMachine(srv.client, 1, { skillKeys: ['qvac.llm'] });
  const agent = agentWallet('search');
  const pairing = await pair(srv.client, machine.id, agent);
  const search = (body: Record<string, unknown>, token: string | null = pairing.pairingToken) =>
    srv!.client.post(
      '/api/v1/market/search',
      { machineId: machine.id, ...body },
      { headers: token ? { 'x-agent-pairing-token': token } : {} },
    );
  return { machine, agent, pairing, search };
}

describe.each(engines())('market search on $name', (engine) => {
  it('ranks quotes with reasons; native with an active runtime endpoint first; persists with an expiry', async () => {
    const { machine, pairing, search } = await setup({}, engine);
    const before = await search({ serviceType: 'compute.marketplace' });
    expect(before.status).toBe(201);
    await srv!.client.put(`/api/v1/machines/${machine.id}/runtime-endpoints/QVAC`, {
      endpointBaseUrl: 'http://127.0.0.1:11434/v1?x=1#y',
    });
    const r = await search({
      serviceType: 'compute.marketplace',
      operation: 'chat.completions',
      budget: { amount: 1, currency: 'USDT' },
      maxResults: 5,
    });
    expect(r.status).toBe(201);
    const item = r.body.item;
    expect(item).toMatchObject({ machineId: machine.id, agentPairingId: pairing.id, status: 'matched' });
    expect(item.quotes[0]).toMatchObject({
      serviceId: 'svc_qvac_llm_local',
      executionMode: 'native',
      runtimeEndpointAvailable: true,
      operation: 'chat.completions',
    });
    expect(item.quotes[0].reasons).toContain('native execution on an active runtime endpoint');
    const beforeScore = before.body.item.quotes.find(
      (q: { serviceId: string }) => q.serviceId === 'svc_qvac_llm_local',
    ).score;
    expect(item.quotes[0].score).toBeGreaterThan(beforeScore);
    expect(Date.parse(item.expiresAt) - Date.parse(item.createdAt)).toBe(srv!.config.marketQuoteTtlMs);
    const row = await srv!.db('market_searches').where({ id: item.id }).first();
    expect(JSON.parse(row.quotes).map((q: { id: string }) => q.id)).toEqual(
      item.quotes.map((q: { id: string }) => q.id),
    );
    const audit = await srv!.client.get(`/api/v1/audit-events?type=market.search.performed`);
    expect(audit.body.items).toHaveLength(2);
  });

  it('applies the pairing policy and machine policies, and reports what they excluded', async () => {
    srv = await startTestServer({ engine });
    const pol = await srv.client.post('/api/v1/policies', { name: 'EU only', regionRules: ['eu-central'] });
    const machine = await activeMachine(srv.client, 1, { policyIds: [pol.body.item.id] });
    const pairing = await pair(srv.client, machine.id, agentWallet('pol'), {
      delegationPolicy: { deniedSkillKeys: ['redstone.price-feed'] },
    });
    const r = await srv.client.post(
      '/api/v1/market/search',
      { machineId: machine.id, serviceType: 'data.location' },
      { headers: { 'x-agent-pairing-token': pairing.pairingToken } },
    );
    expect(r.body.item.quotes.map((q: { serviceId: string }) => q.serviceId)).toEqual(['svc_geodnet_rtk_x402']);
    expect(r.body.item.excluded).toEqual([
      { serviceId: 'svc_geodnet_rtk_us', reasons: ['machine policy "EU only" does not allow region us-east'] },
    ]);
    const denied = await srv.client.post(
      '/api/v1/market/search',
      { machineId: machine.id, skillKey: 'redstone.price-feed' },
      { headers: { 'x-agent-pairing-token': pairing.pairingToken } },
    );
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('AGENT_POLICY_DENIED');
    const none = await srv.client.post(
      '/api/v1/market/search',
      { machineId: machine.id, serviceType: 'oracle.price-feed' },
      { headers: { 'x-agent-pairing-token': pairing.pairingToken } },
    );
    expect(none.body.item).toMatchObject({ status: 'no_match', quotes: [] });
  });

  it('redacts providerCredentials before anything is persisted or logged', async () => {
    const { search } = await setup({ LOG_LEVEL: 'trace' }, engine);
    const secret = 'sk-live-SUPERSECRET-123';
    const r = await search({
      serviceType: 'oracle.price-feed',
      providerCredentials: { 'agentic-market': { apiKey: secret, walletAddress: '0xabc' } },
    });
    expect(r.status).toBe(201);
    expect(r.body.item.query.providerCredentials).toEqual({
      'agentic-market': { apiKey: '[REDACTED]', walletAddress: '[REDACTED]' },
    });
    expect(r.body.item.quotes[0].reasons).toContain('provider credentials supplied');
    for (const table of ['market_searches', 'audit_events'])
      expect(JSON.stringify(await srv!.db(table).select('*'))).not.toContain(secret);
    expect(srv!.logs.join('\n')).not.toContain(secret);
  });

  it('enforces the preconditions: token, active and bonded machine', async () => {
    const { machine, search } = await setup({}, engine);
    const none = await search({}, null);
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('AGENT_AUTH_REQUIRED');
    const unbonded = await activeMachine(srv!.client, 4);
    const p4 = await pair(srv!.client, unbonded.id, agentWallet('x')).catch((e: Error) => e);
    expect(String(p4)).toMatch(/MACHINE_NOT_ACTIVE/);
    registry.update(1, { bondStatus: 'unbonded' });
    const nb = await search({});
    expect(nb.body.error.code).toBe('MACHINE_NOT_ACTIVE');
    registry.update(1, { bondStatus: 'bonded' });
    await srv!.client.patch(`/api/v1/machines/${machine.id}`, { status: 'blocked' });
    expect((await search({})).body.error.code).toBe('MACHINE_NOT_ACTIVE');
    await srv!.client.patch(`/api/v1/machines/${machine.id}`, { status: 'active' });
    registry.unregister(1);
    expect((await search({})).body.error.code).toBe('MACHINE_NOT_ACTIVATED');
  });

  it('without PEAQOS_REQUIRE_AGENT_PAIRING_AUTH a request may name its pairing instead', async () => {
    const { pairing, search } = await setup({ PEAQOS_REQUIRE_AGENT_PAIRING_AUTH: 'false' }, engine);
    const missing = await search({}, null);
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('AGENT_PAIRING_REQUIRED');
    expect((await search({ agentPairingId: pairing.id }, null)).status).toBe(201);
    expect((await search({ agentPairingId: 'apr_nope' }, null)).body.error.code).toBe('AGENT_PAIRING_REQUIRED');
  });
});

describe('pairing tokens on market calls', () => {
  const sign = (claims: Record<string, unknown>, secret = TEST_SECRET, over: { exp?: number; nbf?: number } = {}) => {
    const now = Math.floor(srv!.clock.now().getTime() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('peaqos-machine-markets')
      .setIssuedAt(now)
      .setNotBefore(over.nbf ?? now)
      .setExpirationTime(over.exp ?? now + 600)
      .sign(new TextEncoder().encode(secret));
  };

  it('rejects alg none, another secret, an RS256 header, expired, not-yet-valid and tampered tokens', async () => {
    const { pairing, search } = await setup();
    const claims = decodeJwt(pairing.pairingToken);
    const none = new UnsecuredJWT(claims).encode();
    const other = await sign(claims, 'another-secret-another-secret-another-secret');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rs = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
    const [h, p, s] = pairing.pairingToken.split('.');
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...claims, machineId: 'mch_other' }))}.${s}`;
    const headerSwap = `${base64url.encode(JSON.stringify({ alg: 'none' }))}.${p}.`;
    for (const [label, token] of Object.entries({ none, other, rs, tampered, headerSwap, garbage: 'not-a-jwt' })) {
      const r = await search({}, token);
      expect(r.status, label).toBe(401);
      expect(r.body.error.code, label).toBe('AGENT_AUTH_INVALID');
    }
    const expired = await search(
      {},
      await sign(claims, TEST_SECRET, { exp: Math.floor(srv!.clock.now().getTime() / 1000) - 10 }),
    );
    expect(expired.body.error.code).toBe('AGENT_AUTH_EXPIRED');
    const early = await search(
      {},
      await sign(claims, TEST_SECRET, { nbf: Math.floor(srv!.clock.now().getTime() / 1000) + 600 }),
    );
    expect(early.body.error.code).toBe('AGENT_AUTH_INVALID');
    srv!.clock.advance(srv!.config.agentPairingSessionTtlMs + 1000);
    const aged = await search({});
    expect(aged.status).toBe(401);
    expect(aged.body.error.code).toBe('AGENT_AUTH_EXPIRED');
  });

  it('refuses a token of another machine or another pairing', async () => {
    const { machine, pairing, search } = await setup();
    const other = await activeMachine(srv!.client, 2);
    const otherPairing = await pair(srv!.client, other.id, agentWallet('other'));
    const cross = await search({}, otherPairing.pairingToken);
    expect(cross.body.error.code).toBe('AGENT_AUTH_INVALID');
    const second = await pair(srv!.client, machine.id, agentWallet('second'));
    const wrongPairing = await search({ agentPairingId: pairing.id }, second.pairingToken);
    expect(wrongPairing.body.error.code).toBe('AGENT_AUTH_INVALID');
    expect((await search({ agentPairingId: second.id }, second.pairingToken)).status).toBe(201);
  });

  it('invalidates the old token on rotation, every token on repolicy, pause and revoke', async () => {
    const { machine, agent, pairing, search } = await setup();
    const rotated = await rotate(srv!.client, machine.id, pairing.id, agent);
    const fresh = rotated.body.item.pairingToken;
    const old = await search({}, pairing.pairingToken);
    expect(old.body.error.code).toBe('AGENT_AUTH_INVALID');
    expect((await search({}, fresh)).status).toBe(201);

    await srv!.client.patch(`/api/v1/machines/${machine.id}/agent-pairings/${pairing.id}`, {
      delegationPolicy: { dailySpendLimit: 10 },
    });
    const afterPolicy = await search({}, fresh);
    expect(afterPolicy.body.error.code).toBe('AGENT_AUTH_INVALID');
    expect(afterPolicy.body.error.message).toMatch(/policy changed/);
    const repaired = (await rotate(srv!.client, machine.id, pairing.id, agent)).body.item.pairingToken;
    expect((await search({}, repaired)).status).toBe(201);

    await srv!.client.patch(`/api/v1/machines/${machine.id}/agent-pairings/${pairing.id}`, { status: 'paused' });
    const paused = await search({}, repaired);
    expect(paused.status).toBe(403);
    expect(paused.body.error.code).toBe('AGENT_PAIRING_INACTIVE');
    await srv!.client.patch(`/api/v1/machines/${machine.id}/agent-pairings/${pairing.id}`, { status: 'active' });
    expect((await search({}, repaired)).status).toBe(201);
    await srv!.client.post(`/api/v1/machines/${machine.id}/agent-pairings/${pairing.id}/revoke`);
    const revoked = await search({}, repaired);
    expect(revoked.body.error.code).toBe('AGENT_PAIRING_INACTIVE');
  });
});

describe('search and orders agree', () => {
  it('never quotes what the order step refuses, under every delegation-policy rule and machine policy', async () => {
    srv = await startTestServer();
    const machine = await activeMachine(srv.client, 1);
    const policy = (
      await srv.client.post('/api/v1/policies', {
        name: 'eu only, no handoff to akash',
        regionRules: ['eu-central'],
        deniedSkillKeys: ['akash.gpu'],
      })
    ).body.item;
    expect((await srv.client.patch(`/api/v1/machines/${machine.id}`, { policyIds: [policy.id] })).status).toBe(200);
    const policies: Record<string, unknown>[] = [
      {},
      { currency: 'USDT', perTransactionLimit: 5 },
      { currency: 'USDC', dailySpendLimit: 1 },
      { perTransactionLimit: 0.01 },
      { dailySpendLimit: 1.5, currency: 'USDT' },
      {
        deniedSkillKeys: ['geodnet.rtk'],
        allowedServiceIds: ['svc_redstone_price_x402', 'svc_humanity_pop', 'svc_geodnet_rtk_x402'],
      },
    ];
    const budgets = [undefined, { amount: 0.5, currency: 'USDT' }, { amount: 50, currency: 'USDC' }];
    let quotes = 0;
    for (const [i, delegationPolicy] of policies.entries()) {
      const p = await pair(srv.client, machine.id, agentWallet(`agree-${i}`), { delegationPolicy });
      const h = { headers: { 'x-agent-pairing-token': p.pairingToken } };
      // Spend a little first, so the daily limit has something to count.
      await srv.client.post('/api/v1/market/orders', { machineId: machine.id, serviceId: 'svc_humanity_pop' }, h);
      for (const budget of budgets) {
        const found = await srv.client.post(
          '/api/v1/market/search',
          { machineId: machine.id, maxResults: 25, ...(budget ? { budget } : {}) },
          h,
        );
        expect(found.status).toBe(201);
        for (const q of found.body.item.quotes) {
          quotes++;
          const placed = await srv.client.post(
            '/api/v1/market/orders',
            { machineId: machine.id, searchId: found.body.item.id, quoteId: q.id },
            h,
          );
          expect(
            placed.status,
            `policy ${JSON.stringify(delegationPolicy)} budget ${JSON.stringify(budget)}: quoted ${q.serviceId}, then ${JSON.stringify(placed.body)}`,
          ).toBe(201);
          // Leave the daily limit as the search saw it.
          expect((await srv.client.post(`/api/v1/market/orders/${placed.body.item.id}/cancel`, {}, h)).status).toBe(
            200,
          );
        }
      }
    }
    expect(quotes).toBeGreaterThan(20);
  });

  it('a pairing limited to USDT gets no USDC quote, and says why', async () => {
    srv = await startTestServer();
    const machine = await activeMachine(srv.client, 1);
    const p = await pair(srv.client, machine.id, agentWallet('usdt'), {
      delegationPolicy: { currency: 'USDT', perTransactionLimit: 5 },
    });
    const found = await srv.client.post(
      '/api/v1/market/search',
      { machineId: machine.id, maxResults: 25 },
      { headers: { 'x-agent-pairing-token': p.pairingToken } },
    );
    const quoted = found.body.item.quotes.map((q: { serviceId: string }) => q.serviceId);
    expect(quoted).not.toContain('svc_redstone_price_x402');
    const why = found.body.item.excluded.find((e: { serviceId: string }) => e.serviceId === 'svc_redstone_price_x402');
    expect(why.reasons.join(' ')).toMatch(/may only spend in USDT/);
  });
});
