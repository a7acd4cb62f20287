// Operator and agent roles: the matrix in openapi.yaml (x-peaqos-roles) is what one guard enforces. Every
// operator operation refuses an agent-scoped key with 403 AUTH_FORBIDDEN (before looking at the request), and an
// agent reaches only its own machine, pairing and orders.
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { activeMachine } from './helpers/identity.ts';
import { agentWallet, pair, pairingProof } from './helpers/pairing.ts';
import { listOperations } from '../src/contract/spec.ts';
import { rolesByOperation } from '../src/http/roles.ts';
import { loadSpec } from '../src/contract/spec.ts';

useMockMcr();
const OPERATOR_KEY = 'operator-key-0123456789';
const AGENT_KEY = 'agent-key-0123456789';
let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

const start = (env: Record<string, string> = {}) =>
  startTestServer({
    env: { PEAQOS_REQUIRE_API_AUTH: 'true', PEAQOS_API_KEY: OPERATOR_KEY, PEAQOS_AGENT_API_KEYS: AGENT_KEY, ...env },
  });
const op = { headers: { 'x-api-key': OPERATOR_KEY } };

describe('roles', () => {
  const roles = rolesByOperation(loadSpec());

  it('every operation declares its roles; the agent-open ones are the market, catalogue and own-pairing operations', () => {
    const agentOps = [...roles]
      .filter(([, r]) => r.includes('agent'))
      .map(([id]) => id)
      .sort();
    expect(agentOps).toEqual(
      [
        'cancelMarketOrder',
        'confirmMarketOrder',
        'createAgentPairingChallenge',
        'createAgentPairingSession',
        'createMarketOrder',
        'createMarketPaymentIntent',
        'disputeMarketOrder',
        'executeMarketOrder',
        'getAgentPairing',
        'getMarketAdapter',
        'getMarketOrder',
        'getMarketPayment',
        'getMarketService',
        'getSkill',
        'listMarketAdapters',
        'listMarketServices',
        'listSkills',
        'lockMarketPaymentEscrow',
        'searchMarket',
        'submitMarketPaymentProof',
      ].sort(),
    );
    for (const never of [
      'updateAgentPairing',
      'revokeAgentPairing',
      'releaseMarketPayment',
      'refundMarketPayment',
      'listMarketOrders',
      'listAuditEvents',
      'getMachine',
      'listRuns',
    ]) {
      expect(roles.get(never), never).toEqual(['operator']);
    }
  });

  it('refuses an agent-scoped key on every operator operation with 403 AUTH_FORBIDDEN, whatever the request', async () => {
    srv = await start();
    const agentKey = { headers: { 'x-api-key': AGENT_KEY } };
    let checked = 0;
    for (const o of listOperations()) {
      const allowed = roles.get(o.operationId)!;
      if (allowed.some((r) => r !== 'operator')) continue;
      const path = o.path.replace(/\{[^}]+\}/g, 'x_1');
      const r = await srv.client.call(o.method.toUpperCase(), path, {
        ...agentKey,
        ...(['post', 'put', 'patch'].includes(o.method) ? { body: {} } : {}),
      });
      expect(r.status, `${o.operationId}: ${JSON.stringify(r.body)}`).toBe(403);
      expect(r.body.error.code).toBe('AUTH_FORBIDDEN');
      checked++;
    }
    expect(checked).toBeGreaterThan(35);
    // No key at all, or an unknown one, is still 401.
    expect((await srv.client.get('/api/v1/policies')).body.error.code).toBe('AUTH_REQUIRED');
    expect((await srv.client.get('/api/v1/policies', { headers: { 'x-api-key': 'nope' } })).body.error.code).toBe(
      'AUTH_INVALID',
    );
  });

  it('an agent key with its token trades for its own pairing and reads only its own orders and pairing', async () => {
    srv = await start();
    srv.client.defaultHeaders = { 'x-api-key': OPERATOR_KEY };
    const mine = await activeMachine(srv.client, 1);
    const theirs = await activeMachine(srv.client, 2);
    const wallet = agentWallet('roles');
    const p = await pair(srv.client, mine.id, wallet, {
      delegationPolicy: { perTransactionLimit: 1, dailySpendLimit: 1, currency: 'USDT' },
    });
    const other = await pair(srv.client, theirs.id, agentWallet('roles-other'));
    srv.client.defaultHeaders = {};
    const agent = { headers: { 'x-api-key': AGENT_KEY, 'x-agent-pairing-token': p.pairingToken } };

    const placed = await srv.client.post(
      '/api/v1/market/orders',
      { machineId: mine.id, serviceId: 'svc_humanity_pop' },
      agent,
    );
    expect(placed.status).toBe(201);
    expect((await srv.client.get(`/api/v1/market/orders/${placed.body.item.id}`, agent)).status).toBe(200);
    expect((await srv.client.get(`/api/v1/machines/${mine.id}/agent-pairings/${p.id}`, agent)).body.item.id).toBe(p.id);

    // Another machine's order and pairing: the token does not open them.
    const foreign = await srv.client.post(
      '/api/v1/market/orders',
      { machineId: theirs.id, serviceId: 'svc_humanity_pop' },
      { headers: { ...op.headers, 'x-agent-pairing-token': other.pairingToken } },
    );
    expect(foreign.status).toBe(201);
    const peek = await srv.client.get(`/api/v1/market/orders/${foreign.body.item.id}`, agent);
    expect(peek.status).toBe(401);
    expect(peek.body.error.code).toBe('AGENT_AUTH_INVALID');
    expect((await srv.client.get(`/api/v1/market/orders/${foreign.body.item.id}/payment`, agent)).status).toBe(401);
    expect((await srv.client.get(`/api/v1/machines/${theirs.id}/agent-pairings/${other.id}`, agent)).status).toBe(401);
    // Without its token an agent key reads nothing, and cannot name a pairing instead.
    expect(
      (await srv.client.get(`/api/v1/market/orders/${placed.body.item.id}`, { headers: { 'x-api-key': AGENT_KEY } }))
        .body.error.code,
    ).toBe('AGENT_AUTH_REQUIRED');

    // The attacks of the issue: raise its own limit, refund, read other data.
    const raise = await srv.client.patch(
      `/api/v1/machines/${mine.id}/agent-pairings/${p.id}`,
      { delegationPolicy: { dailySpendLimit: 1000 } },
      agent,
    );
    expect(raise.body.error.code).toBe('AUTH_FORBIDDEN');
    expect(
      (await srv.client.post(`/api/v1/market/orders/${foreign.body.item.id}/payment/refund`, {}, agent)).body.error
        .code,
    ).toBe('AUTH_FORBIDDEN');
    expect((await srv.client.get(`/api/v1/market/orders?machineId=${theirs.id}`, agent)).body.error.code).toBe(
      'AUTH_FORBIDDEN',
    );
    expect((await srv.client.get('/api/v1/audit-events', agent)).body.error.code).toBe('AUTH_FORBIDDEN');
    expect((await srv.client.get(`/api/v1/runs?machineId=${theirs.id}`, agent)).body.error.code).toBe('AUTH_FORBIDDEN');
    expect(
      (await srv.client.get(`/api/v1/machines/${mine.id}/agent-pairings/${p.id}`, op)).body.item.delegationPolicy
        .dailySpendLimit,
    ).toBe(1);

    // Rotating its session takes the agent's own signature.
    const unsigned = await srv.client.post(`/api/v1/machines/${mine.id}/agent-pairings/${p.id}/sessions`, {}, agent);
    expect(unsigned.body.error.code).toBe('AGENT_PAIRING_PROOF_REQUIRED');
    const proof = await pairingProof(srv.client, mine.id, wallet).catch(() => null);
    expect(proof).toBeNull(); // the challenge endpoint needs a key too
    const signed = await pairingProofWith(srv, mine.id, wallet, AGENT_KEY);
    const rotated = await srv.client.post(
      `/api/v1/machines/${mine.id}/agent-pairings/${p.id}/sessions`,
      { agentProof: signed },
      agent,
    );
    expect(rotated.status).toBe(201);
  });

  it('agent keys narrow the caller even on an open deployment', async () => {
    srv = await startTestServer({ env: { PEAQOS_AGENT_API_KEYS: AGENT_KEY } });
    expect((await srv.client.get('/api/v1/policies')).status).toBe(200);
    expect((await srv.client.get('/api/v1/policies', { headers: { 'x-api-key': AGENT_KEY } })).body.error.code).toBe(
      'AUTH_FORBIDDEN',
    );
    expect(
      (await srv.client.get('/api/v1/readiness')).body.checks.find((c: { name: string }) => c.name === 'auth').detail,
    ).toMatch(/auth off/);
  });
});

async function pairingProofWith(s: TestServer, machineId: string, wallet: ReturnType<typeof agentWallet>, key: string) {
  const c = await s.client.post(
    `/api/v1/machines/${machineId}/agent-pairings/challenges`,
    { agentAddress: wallet.address, agentProvider: 'anthropic', agentRole: 'buyer' },
    { headers: { 'x-api-key': key } },
  );
  expect(c.status).toBe(201);
  return {
    challengeId: c.body.item.challengeId as string,
    signature: await wallet.signMessage(c.body.item.message as string),
  };
}
