// The frontend mock: every operation answers spec-valid data through MSW, state persists across calls, requests
// are validated with the server's envelope, and the options (latency, forced errors, seed, reset) work.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setupMachineMarketsServer } from '../mocks/machine-markets/node.ts';
import { ContractClient } from './helpers/contract-client.ts';
import { listOperations } from '../src/contract/spec.ts';
import type { SeedInfo } from '../mocks/machine-markets/seed.ts';

const BASE = 'http://mock.test';
const { api, server } = await setupMachineMarketsServer({ baseUrl: BASE });
const client = new ContractClient(BASE);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(async () => api.reset());
afterAll(() => server.close());
const fixtures = () => (api as typeof api & { fixtures: SeedInfo }).fixtures;

describe('Machine Markets mock', () => {
  it('is seeded with machines, pairings, endpoints, tasks and orders in several states', async () => {
    const machines = await client.get('/api/v1/machines');
    expect(machines.body.items.length).toBeGreaterThanOrEqual(3);
    const rover = fixtures().machines.rover!;
    const drone = fixtures().machines.drone!;
    const statuses = new Set(
      [
        ...(await client.get(`/api/v1/market/orders?machineId=${rover}`)).body.items,
        ...(await client.get(`/api/v1/market/orders?machineId=${drone}`)).body.items,
      ].map((o: { status: string }) => o.status),
    );
    for (const s of ['created', 'delivered', 'confirmed', 'ready', 'disputed', 'cancelled'])
      expect(statuses.has(s), s).toBe(true);
    expect((await client.get(`/api/v1/machines/${rover}/runtime-endpoints`)).body.items.length).toBe(2);
    // Two tasks of its own plus the ones its executed market orders materialised.
    expect((await client.get(`/api/v1/machines/${rover}/tasks`)).body.items.length).toBe(4);
    expect((await client.get(`/api/v1/runs?machineId=${rover}`)).body.items.length).toBeGreaterThan(0);
    expect((await client.get('/api/v1/market/services')).body.items.length).toBeGreaterThan(5);
  });

  it('answers every operation in openapi.yaml with spec-valid data (the client checks each response)', async () => {
    const rover = fixtures().machines.rover!;
    const token = fixtures().pairingTokens[rover]!;
    const h = { headers: { 'x-agent-pairing-token': token } };
    const seen = new Set<string>();
    const track = async (p: Promise<{ operationId: string | null; status: number }>) => {
      const r = await p;
      if (r.operationId) seen.add(r.operationId);
      return r as Awaited<typeof p> & { body: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- a test reads any field of a JSON answer already validated against openapi.yaml
    };
    await track(client.get('/health'));
    await track(client.get('/api/v1/readiness'));
    const policy = await track(client.post('/api/v1/policies', { name: 'frontend' }));
    await track(client.get(`/api/v1/policies/${policy.body.item.id}`));
    await track(client.patch(`/api/v1/policies/${policy.body.item.id}`, { nativeOnly: true }));
    await track(client.get('/api/v1/policies'));
    await track(client.get('/api/v1/machines'));
    await track(client.get(`/api/v1/machines/${rover}`));
    await track(client.patch(`/api/v1/machines/${rover}`, { displayName: 'Renamed rover' }));
    await track(client.post('/api/v1/machine-identity/challenges', { identityRef: 'peaqos:machine:4' }));
    await track(
      client.post('/api/v1/machines', {
        displayName: 'x',
        ownerId: 'o',
        machineType: 't',
        runtimeProfile: 'r',
        identityRef: 'peaqos:machine:4',
      }),
    );
    const pairings = await track(client.get(`/api/v1/machines/${rover}/agent-pairings`));
    const pid = pairings.body.items[0].id;
    await track(client.get(`/api/v1/machines/${rover}/agent-pairings/${pid}`));
    await track(
      client.post(`/api/v1/machines/${rover}/agent-pairings/challenges`, {
        agentAddress: '0x8ba1f109551bD432803012645Ac136ddd64DBA72',
        agentProvider: 'openai',
        agentRole: 'ops',
      }),
    );
    await track(
      client.post(`/api/v1/machines/${rover}/agent-pairings`, {
        agentAddress: '0x8ba1f109551bD432803012645Ac136ddd64DBA72',
        agentProvider: 'openai',
        agentRole: 'ops',
      }),
    );
    await track(client.post(`/api/v1/machines/${rover}/agent-pairings/${pid}/sessions`, {}));
    await track(client.patch(`/api/v1/machines/${rover}/agent-pairings/${pid}`, { description: 'frontend' }));
    for (const path of [
      '/api/v1/skills',
      '/api/v1/skills/qvac.llm',
      '/api/v1/market/services',
      '/api/v1/market/services/svc_qvac_llm_local',
      '/api/v1/market/adapters',
      '/api/v1/market/adapters/qvac',
    ])
      await track(client.get(path));
    const search = await track(
      client.post('/api/v1/market/search', { machineId: rover, serviceType: 'compute.marketplace' }, h),
    );
    const order = await track(
      client.post(
        '/api/v1/market/orders',
        { machineId: rover, searchId: search.body.item.id, quoteId: search.body.item.quotes[0].id },
        h,
      ),
    );
    const o = `/api/v1/market/orders/${order.body.item.id}`;
    await track(client.get(o));
    await track(client.get(`/api/v1/market/orders?machineId=${rover}`));
    await track(client.post(`${o}/payment-intent`, {}, h));
    await track(client.get(`${o}/payment`));
    await track(client.post(`${o}/payment-proof`, { txHash: `0x${'11'.repeat(32)}` }, h));
    await track(client.post(`${o}/payment/escrow-lock`, {}, h));
    await track(client.post(`${o}/execute`, {}, h));
    await track(client.post(`${o}/dispute`, { reason: 'test' }, h));
    await track(client.post(`${o}/payment/release`, {}));
    await track(client.post(`${o}/payment/refund`, {}));
    const o2 = (await client.post('/api/v1/market/orders', { machineId: rover, serviceId: 'svc_qvac_llm_local' }, h))
      .body.item.id;
    await track(client.post(`/api/v1/market/orders/${o2}/execute`, {}, h));
    await track(client.post(`/api/v1/market/orders/${o2}/confirm`, {}, h));
    const o3 = (await client.post('/api/v1/market/orders', { machineId: rover, serviceId: 'svc_qvac_llm_local' }, h))
      .body.item.id;
    await track(client.post(`/api/v1/market/orders/${o3}/cancel`, {}, h));
    const ep = `/api/v1/machines/${rover}/runtime-endpoints`;
    await track(client.get(ep));
    await track(client.put(`${ep}/minio`, { endpointBaseUrl: 'http://127.0.0.1:9000' }));
    await track(client.get(`${ep}/minio`));
    await track(client.delete(`${ep}/minio`));
    const agent = await track(client.post(`/api/v1/machines/${rover}/agents/enrollment`, {}));
    await track(client.get(`/api/v1/machines/${rover}/agents`));
    await track(
      client.post('/api/v1/machine-agents/heartbeat', {
        machineId: rover,
        agentId: agent.body.item.id,
        agentToken: agent.body.item.agentToken,
      }),
    );
    await track(client.post(`/api/v1/machines/${rover}/agents/${agent.body.item.id}/revoke`));
    const g = `/api/v1/machines/${rover}/graph`;
    await track(client.get(g));
    const n1 = await track(client.post(`${g}/nodes`, { type: 'task', title: 'a' }));
    const n2 = await track(client.post(`${g}/nodes`, { type: 'outcome', title: 'b' }));
    await track(client.patch(`${g}/nodes/${n1.body.item.id}`, { data: { x: 1 } }));
    const e = await track(
      client.post(`${g}/edges`, { sourceNodeId: n1.body.item.id, targetNodeId: n2.body.item.id, type: 'result' }),
    );
    await track(client.patch(`${g}/edges/${e.body.item.id}`, { label: 'x' }));
    await track(client.delete(`${g}/edges/${e.body.item.id}`));
    await track(client.delete(`${g}/nodes/${n2.body.item.id}`));
    const t = `/api/v1/machines/${rover}/tasks`;
    const task = await track(client.post(t, { serviceType: 'compute.marketplace', taskType: 'x' }));
    await track(client.get(t));
    await track(client.get(`${t}/${task.body.item.id}`));
    await track(client.post(`${t}/${task.body.item.id}/discover`, {}));
    await track(client.post(`${t}/${task.body.item.id}/resolve`, {}));
    const ex = await track(client.post(`${t}/${task.body.item.id}/execute`, {}));
    await track(client.get(`/api/v1/machines/${rover}/routes`));
    await track(client.get(`/api/v1/machines/${rover}/outcomes`));
    await track(client.get(`/api/v1/runs?machineId=${rover}`));
    await track(client.get(`/api/v1/runs/${ex.body.run.id}`));
    await track(client.delete(`/api/v1/policies/${policy.body.item.id}`));
    await track(client.post(`/api/v1/machines/${rover}/agent-pairings/${pid}/revoke`));
    await track(client.get('/api/v1/audit-events'));
    const missing = listOperations()
      .map((op) => op.operationId)
      .filter((id) => !seen.has(id));
    expect(missing).toEqual([]);
  });

  it('keeps state: what you create you can list, get, update and delete', async () => {
    const created = await client.post('/api/v1/policies', { name: 'stateful' });
    const id = created.body.item.id;
    expect((await client.get('/api/v1/policies?limit=500')).body.items.map((p: { id: string }) => p.id)).toContain(id);
    expect((await client.patch(`/api/v1/policies/${id}`, { name: 'renamed' })).body.item.name).toBe('renamed');
    expect((await client.get(`/api/v1/policies/${id}`)).body.item.name).toBe('renamed');
    expect((await client.delete(`/api/v1/policies/${id}`)).status).toBe(204);
    expect((await client.get(`/api/v1/policies/${id}`)).status).toBe(404);
  });

  it('validates requests against the spec with the server error envelope', async () => {
    const r = await client.post('/api/v1/policies', { name: 5, extra: true });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION_ERROR');
    expect(r.body.error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ location: 'body', path: '/name', rule: 'type' }),
        expect.objectContaining({ path: '/extra', rule: 'additionalProperties' }),
      ]),
    );
    expect((await client.get('/api/v1/policies?limit=0')).body.error.details[0]).toMatchObject({
      location: 'query',
      path: '/limit',
      rule: 'minimum',
    });
    expect((await client.get('/api/v1/nothing')).body.error.code).toBe('NOT_FOUND');
    expect((await client.call('DELETE', '/api/v1/policies')).status).toBe(405);
    expect(
      (
        await client.call('POST', '/api/v1/policies', {
          rawBody: '{"name":',
          headers: { 'content-type': 'application/json' },
        })
      ).body.error.code,
    ).toBe('VALIDATION_ERROR');
  });

  it('forces error codes per operation, adds latency, resets, and takes a custom seed', async () => {
    api.forceError('listMachines', 'PEAQOS_IDENTITY_UNAVAILABLE');
    const forced = await client.get('/api/v1/machines');
    expect(forced.status).toBe(503);
    expect(forced.body.error.code).toBe('PEAQOS_IDENTITY_UNAVAILABLE');
    api.clearForcedErrors();
    expect((await client.get('/api/v1/machines')).status).toBe(200);
    api.setLatency(150);
    const t0 = performance.now();
    await client.get('/health');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    api.setLatency(0);
    await client.post('/api/v1/policies', { name: 'temporary' });
    await api.reset();
    expect((await client.get('/api/v1/policies')).body.items.map((p: { name: string }) => p.name)).not.toContain(
      'temporary',
    );

    const custom = await setupMachineMarketsServer({
      baseUrl: 'http://custom.test',
      seed: async (m) => void (await m.call('createPolicy', { body: { name: 'only-this' } })),
    });
    const c2 = new ContractClient('http://custom.test');
    server.use(...custom.api.handlers);
    expect((await c2.get('/api/v1/policies')).body.items.map((p: { name: string }) => p.name)).toEqual(['only-this']);
    expect((await c2.get('/api/v1/machines')).body.items).toEqual([]);
    server.resetHandlers();
  });

  it('honours Idempotency-Key like the server: replay, 422 for another request, and cancel refuses held money', async () => {
    const h = { headers: { 'idempotency-key': 'k-1' } };
    const first = await client.post('/api/v1/policies', { name: 'once' }, h);
    expect(first.status).toBe(201);
    const again = await client.post('/api/v1/policies', { name: 'once' }, h);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(
      (await client.get('/api/v1/policies')).body.items.filter((p: { name: string }) => p.name === 'once'),
    ).toHaveLength(1);
    const reused = await client.post('/api/v1/policies', { name: 'other' }, h);
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');

    const rover = fixtures().machines.rover!;
    const agent = { headers: { 'x-agent-pairing-token': fixtures().pairingTokens[rover]! } };
    const o = (await client.post('/api/v1/market/orders', { machineId: rover, serviceId: 'svc_humanity_pop' }, agent))
      .body.item;
    await client.post(`/api/v1/market/orders/${o.id}/payment-intent`, { rail: 'wallet' }, agent);
    expect(
      (await client.post(`/api/v1/market/orders/${o.id}/payment-proof`, { txHash: `0x${'cd'.repeat(32)}` }, agent)).body
        .item.status,
    ).toBe('held');
    const cancel = await client.post(`/api/v1/market/orders/${o.id}/cancel`, {}, agent);
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('ORDER_PAYMENT_HELD');
  });

  it('reset restores the latency given at creation; one clock stamps everything and advanceClock expires by it', async () => {
    api.setLatency(400);
    await api.reset();
    const t0 = performance.now();
    await client.get('/api/v1/policies');
    expect(performance.now() - t0).toBeLessThan(300);
    const c = (await client.post('/api/v1/machine-identity/challenges', { identityRef: 'peaqos:machine:1' })).body.item;
    const lifetime = Date.parse(c.expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(500_000); // the wall clock, so clients read expiry times as they are
    expect(lifetime).toBeLessThanOrEqual(601_000); // writes in one millisecond move the clock a little ahead
    const created = (await client.post('/api/v1/policies', { name: 'clocked' })).body.item;
    expect(Math.abs(Date.parse(created.createdAt) - Date.now())).toBeLessThan(5_000);
    api.advanceClock(601_000);
    const late = await client.post('/api/v1/machines', {
      displayName: 'x',
      ownerId: 'o',
      machineType: 't',
      runtimeProfile: 'r',
      identityRef: 'peaqos:machine:1',
      identityProof: { challengeId: c.challengeId, signature: `0x${'11'.repeat(65)}` },
    });
    expect(late.body.error.code).toBe('MACHINE_IDENTITY_PROOF_EXPIRED');
  });
});
