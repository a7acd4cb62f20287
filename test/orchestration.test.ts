// Orchestration through HTTP: runtime endpoints, machine-side agents, graph, tasks, routes, outcomes, runs,
// policies and audit events, all behind the machine guard.
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { activeMachine, machineBody, machineDid, machineProof, machineWallet } from './helpers/identity.ts';
import { startFakeRuntime, type FakeRuntime } from './helpers/runtime-server.ts';
import { engines } from './helpers/db.ts';

useMockMcr();
let srv: TestServer | undefined;
let rt: FakeRuntime | undefined;
afterEach(async () => {
  await srv?.close();
  await rt?.close();
  srv = undefined;
  rt = undefined;
});

const auditTypes = async (s: TestServer, q = '') =>
  (await s.client.get(`/api/v1/audit-events?limit=500${q}`)).body.items.map((e: { type: string }) => e.type);

async function allPages(s: TestServer, path: string, limit = 2): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r = await s.client.get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(r.status, path).toBe(200);
    ids.push(...r.body.items.map((x: { id: string }) => x.id));
    cursor = r.body.nextCursor;
    pages++;
  } while (cursor);
  expect(pages, `${path} spans several pages`).toBeGreaterThan(1);
  expect(new Set(ids).size, `${path} has no duplicates`).toBe(ids.length);
  return ids;
}

describe.each(engines())('orchestration on $name', (engine) => {
  const start = (env: Record<string, string> = {}) => startTestServer({ engine, env });

  it('upserts runtime endpoints: 201 then 200, manual source, lower-cased key, stripped URL, defaults, no token echo', async () => {
    srv = await start();
    const m = await activeMachine(srv.client, 1);
    const base = `/api/v1/machines/${m.id}/runtime-endpoints`;
    const first = await srv.client.put(`${base}/QVAC`, {
      endpointBaseUrl: 'http://127.0.0.1:11434/v1/chat?x=1#frag',
      authType: 'bearer',
      authToken: 'sekrit-token',
    });
    expect(first.status).toBe(201);
    expect(first.body.item).toMatchObject({
      providerKey: 'qvac',
      source: 'manual',
      agentId: null,
      label: 'QVAC runtime',
      endpointBaseUrl: 'http://127.0.0.1:11434',
      probePath: '/v1/models',
      hasAuthToken: true,
      networkScope: 'loopback',
      status: 'active',
    });
    expect(first.body.item).not.toHaveProperty('authToken');
    const second = await srv.client.put(`${base}/qvac`, {
      endpointBaseUrl: 'https://runtime.example.org:8443/x',
      label: 'Edge box',
    });
    expect(second.status).toBe(200);
    expect(second.body.item).toMatchObject({
      id: first.body.item.id,
      label: 'Edge box',
      networkScope: 'public',
      authType: 'none',
      hasAuthToken: false,
    });
    const other = await srv.client.put(`${base}/minio`, { endpointBaseUrl: 'http://192.168.1.20:9000' });
    expect(other.body.item).toMatchObject({ probePath: '/health', label: 'MINIO runtime', networkScope: 'lan' });
    for (const bad of ['ftp://x', 'not a url', 'http://user:pw@host:1']) {
      const r = await srv.client.put(`${base}/qvac`, { endpointBaseUrl: bad });
      expect(r.status, bad).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_ERROR');
    }
    expect((await srv.client.get(`${base}/QVAC`)).body.item.label).toBe('Edge box');
    expect(JSON.stringify((await srv.client.get(base)).body)).not.toContain('sekrit-token');
    expect((await srv.client.delete(`${base}/qvac`)).status).toBe(204);
    expect((await srv.client.delete(`${base}/qvac`)).status).toBe(404);
    expect((await srv.client.get(`${base}/qvac`)).status).toBe(404);
    expect(await auditTypes(srv, '&resourceType=runtime-endpoint')).toEqual([
      'runtime-endpoint.upserted',
      'runtime-endpoint.upserted',
      'runtime-endpoint.upserted',
      'runtime-endpoint.deleted',
    ]);
    expect(JSON.stringify(await srv.db('audit_events').select('payload'))).not.toContain('sekrit-token');
  });

  it('guards every machine-bound route: MACHINE_NOT_ACTIVE and MACHINE_NOT_ACTIVATED', async () => {
    srv = await start({ PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'optional' });
    const draft = (
      await srv.client.post(
        '/api/v1/machines',
        machineBody(machineDid(1), { identityProof: await machineProof(srv.client, machineDid(1), machineWallet(1)) }),
      )
    ).body.item;
    const unverified = (await srv.client.post('/api/v1/machines', machineBody(machineDid(2)))).body.item;
    const paths = (id: string): Array<[string, string, unknown?]> => [
      ['GET', `/api/v1/machines/${id}/runtime-endpoints`],
      ['PUT', `/api/v1/machines/${id}/runtime-endpoints/qvac`, { endpointBaseUrl: 'http://127.0.0.1:1' }],
      ['POST', `/api/v1/machines/${id}/agents/enrollment`, {}],
      ['GET', `/api/v1/machines/${id}/graph`],
      ['POST', `/api/v1/machines/${id}/graph/nodes`, { type: 'skill', title: 'x' }],
      ['GET', `/api/v1/machines/${id}/tasks`],
      ['POST', `/api/v1/machines/${id}/tasks`, { serviceType: 'compute.marketplace', taskType: 'x' }],
      ['GET', `/api/v1/machines/${id}/routes`],
      ['GET', `/api/v1/machines/${id}/outcomes`],
      ['GET', `/api/v1/runs?machineId=${id}`],
    ];
    for (const [method, path, body] of paths(draft.id)) {
      const r = await srv.client.call(method, path, { body });
      expect(r.body.error?.code, `${method} ${path}`).toBe('MACHINE_NOT_ACTIVE');
    }
    for (const [method, path, body] of paths(unverified.id)) {
      const r = await srv.client.call(method, path, { body });
      expect(r.body.error?.code, `${method} ${path}`).toBe('MACHINE_NOT_ACTIVATED');
    }
    expect(Number((await srv.db('graph_nodes').count({ n: '*' }))[0]!.n)).toBe(0);
  });

  it('enrols agents (token once, hash only) and takes heartbeats by body token, pairing header or Bearer', async () => {
    srv = await start();
    const m = await activeMachine(srv.client, 1);
    const enrolled = await srv.client.post(`/api/v1/machines/${m.id}/agents/enrollment`, {
      providerKeys: ['QVAC', 'minio'],
    });
    expect(enrolled.status).toBe(201);
    const agent = enrolled.body.item;
    expect(agent).toMatchObject({
      label: 'Machine runtime agent',
      allowedProviderKeys: ['qvac', 'minio'],
      status: 'provisioned',
      hasAgentToken: true,
      lastSeenAt: null,
    });
    expect(JSON.stringify(await srv.db('machine_agents').select('*'))).not.toContain(agent.agentToken);
    const listed = await srv.client.get(`/api/v1/machines/${m.id}/agents`);
    expect(listed.body.items[0]).not.toHaveProperty('agentToken');
    const defaults = await srv.client.post(`/api/v1/machines/${m.id}/agents/enrollment`);
    expect(defaults.body.item.allowedProviderKeys).toEqual(['qvac']);

    const hb = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      srv!.client.post(
        '/api/v1/machine-agents/heartbeat',
        { machineId: m.id, agentId: agent.id, ...body },
        { headers },
      );
    const endpoint = { providerKey: 'QVAC', endpointBaseUrl: 'http://127.0.0.1:11434/v1', modelAlias: 'llama' };
    const viaBody = await hb({ agentToken: agent.agentToken, leaseSeconds: 60, endpoints: [endpoint] });
    expect(viaBody.status).toBe(200);
    expect(viaBody.body.item).toMatchObject({ status: 'active', lastSeenAt: srv.clock.now().toISOString() });
    expect(viaBody.body.endpoints[0]).toMatchObject({
      providerKey: 'qvac',
      source: 'agent',
      agentId: agent.id,
      endpointBaseUrl: 'http://127.0.0.1:11434',
      leaseExpiresAt: new Date(srv.clock.now().getTime() + 60_000).toISOString(),
    });
    expect((await hb({}, { 'x-agent-pairing-token': agent.agentToken })).status).toBe(200);
    expect((await hb({}, { authorization: `Bearer ${agent.agentToken}` })).status).toBe(200);
    expect((await hb({ agentToken: agent.agentToken })).body.endpoints).toEqual([]);

    expect((await hb({})).body.error.code).toBe('AGENT_AUTH_REQUIRED');
    expect((await hb({ agentToken: 'mat_wrong' })).body.error.code).toBe('AGENT_AUTH_INVALID');
    expect((await hb({ agentToken: agent.agentToken, leaseSeconds: 29 })).body.error.code).toBe('VALIDATION_ERROR');
    expect((await hb({ agentToken: agent.agentToken, leaseSeconds: 86401 })).body.error.code).toBe('VALIDATION_ERROR');
    expect((await hb({ agentToken: agent.agentToken, leaseSeconds: 86400 })).status).toBe(200);
    const denied = await hb({
      agentToken: agent.agentToken,
      endpoints: [{ providerKey: 'wdk', endpointBaseUrl: 'http://127.0.0.1:1' }],
    });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('AGENT_POLICY_DENIED');
    expect(
      (
        await srv.client.post('/api/v1/machine-agents/heartbeat', {
          machineId: m.id,
          agentId: 'mag_nope',
          agentToken: 'x',
        })
      ).status,
    ).toBe(404);
    const otherMachine = await activeMachine(srv.client, 2);
    expect(
      (
        await srv.client.post('/api/v1/machine-agents/heartbeat', {
          machineId: otherMachine.id,
          agentId: agent.id,
          agentToken: agent.agentToken,
        })
      ).status,
    ).toBe(404);

    // The lease expires: the endpoint reads as unreachable.
    await hb({ agentToken: agent.agentToken, leaseSeconds: 30, endpoints: [endpoint] });
    srv.clock.advance(31_000);
    expect((await srv.client.get(`/api/v1/machines/${m.id}/runtime-endpoints/qvac`)).body.item.status).toBe(
      'unreachable',
    );

    const revoked = await srv.client.post(`/api/v1/machines/${m.id}/agents/${agent.id}/revoke`);
    expect(revoked.body.item.status).toBe('revoked');
    const after = await hb({ agentToken: agent.agentToken });
    expect(after.status).toBe(403);
    expect(after.body.error.code).toBe('AGENT_PAIRING_INACTIVE');
    const types = await auditTypes(srv, '&resourceType=machine-agent');
    expect(types.filter((t: string) => t === 'machine-agent.enrolled')).toHaveLength(2);
    expect(types).toContain('machine-agent.heartbeat');
    expect(JSON.stringify(await srv.db('audit_events').select('payload'))).not.toContain(agent.agentToken);
  });

  it('probes runtime endpoints and keeps status, lastCheckedAt and lastHealthyAt current', async () => {
    rt = await startFakeRuntime({ token: 'probe-token' });
    srv = await start();
    const m = await activeMachine(srv.client, 1);
    await srv.client.put(`/api/v1/machines/${m.id}/runtime-endpoints/qvac`, {
      endpointBaseUrl: rt.url,
      authType: 'bearer',
      authToken: 'probe-token',
    });
    await srv.services.runtime.probeAll();
    const healthy = (await srv.client.get(`/api/v1/machines/${m.id}/runtime-endpoints/qvac`)).body.item;
    expect(healthy).toMatchObject({
      status: 'active',
      lastCheckedAt: srv.clock.now().toISOString(),
      lastHealthyAt: srv.clock.now().toISOString(),
    });
    expect(rt.requests.at(-1)).toMatchObject({ method: 'GET', path: '/v1/models' });
    expect(rt.requests.at(-1)!.headers.authorization).toBe('Bearer probe-token');
    rt.mode = 'fail';
    srv.clock.advance(5000);
    await srv.services.runtime.probeAll();
    const down = (await srv.client.get(`/api/v1/machines/${m.id}/runtime-endpoints/qvac`)).body.item;
    expect(down).toMatchObject({
      status: 'unreachable',
      lastCheckedAt: srv.clock.now().toISOString(),
      lastHealthyAt: healthy.lastHealthyAt,
    });
  });

  it('runs the prober on its interval when it is turned on', async () => {
    rt = await startFakeRuntime();
    srv = await start({ PEAQOS_RUNTIME_PROBE_INTERVAL_MS: '50' });
    const m = await activeMachine(srv.client, 1);
    await srv.client.put(`/api/v1/machines/${m.id}/runtime-endpoints/qvac`, { endpointBaseUrl: rt.url });
    const deadline = Date.now() + 5000;
    while (!rt.requests.some((r) => r.path === '/v1/models') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
    expect(rt.requests.some((r) => r.path === '/v1/models')).toBe(true);
  });

  it('keeps a graph: shallow-merged data, cascading node deletes, edges only within a machine', async () => {
    srv = await start();
    const m = await activeMachine(srv.client, 1);
    const other = await activeMachine(srv.client, 2);
    const g = `/api/v1/machines/${m.id}/graph`;
    const a = (
      await srv.client.post(`${g}/nodes`, { type: 'machine', title: 'Rover', data: { a: 1, nested: { x: 1 } } })
    ).body.item;
    const b = (
      await srv.client.post(`${g}/nodes`, { type: 'skill', title: 'Inference', refId: 'qvac.llm', position: { x: 10 } })
    ).body.item;
    expect(b).toMatchObject({ status: 'draft', position: { x: 10, y: 0 }, refId: 'qvac.llm' });
    const foreign = (
      await srv.client.post(`/api/v1/machines/${other.id}/graph/nodes`, { type: 'skill', title: 'Elsewhere' })
    ).body.item;
    const patched = await srv.client.patch(`${g}/nodes/${a.id}`, {
      status: 'active',
      data: { b: 2, nested: { y: 2 } },
    });
    expect(patched.body.item).toMatchObject({ status: 'active', data: { a: 1, b: 2, nested: { y: 2 } } });
    expect((await srv.client.patch(`${g}/nodes/${a.id}`, { status: 'archived' })).status).toBe(400);
    const e = await srv.client.post(`${g}/edges`, {
      sourceNodeId: a.id,
      targetNodeId: b.id,
      type: 'execute',
      label: 'runs',
      data: { w: 1 },
    });
    expect(e.status).toBe(201);
    const cross = await srv.client.post(`${g}/edges`, {
      sourceNodeId: a.id,
      targetNodeId: foreign.id,
      type: 'connects',
    });
    expect(cross.status).toBe(400);
    expect(cross.body.error.details[0].path).toBe('/targetNodeId');
    expect(
      (await srv.client.post(`${g}/edges`, { sourceNodeId: a.id, targetNodeId: b.id, type: 'teleport' })).status,
    ).toBe(400);
    const pe = await srv.client.patch(`${g}/edges/${e.body.item.id}`, { data: { v: 2 }, label: 'fallback' });
    expect(pe.body.item).toMatchObject({ label: 'fallback', data: { w: 1, v: 2 } });
    expect(
      (await srv.client.get(`/api/v1/machines/${other.id}/graph/edges/${e.body.item.id}`, { unchecked: true })).status,
    ).toBe(405);
    expect((await srv.client.delete(`/api/v1/machines/${other.id}/graph/edges/${e.body.item.id}`)).status).toBe(404);
    expect((await srv.client.delete(`${g}/nodes/${b.id}`)).status).toBe(204);
    const graph = (await srv.client.get(g)).body;
    expect(graph.nodes.map((n: { id: string }) => n.id)).toEqual([a.id]);
    expect(graph.edges).toEqual([]);
    const c = (await srv.client.post(`${g}/nodes`, { type: 'outcome', title: 'Out' })).body.item;
    const e2 = (await srv.client.post(`${g}/edges`, { sourceNodeId: a.id, targetNodeId: c.id, type: 'result' })).body
      .item;
    expect((await srv.client.delete(`${g}/edges/${e2.id}`)).status).toBe(204);
    expect(await auditTypes(srv, '&type=graph.edge.deleted')).toHaveLength(2);
    for (const t of [
      'graph.node.created',
      'graph.node.updated',
      'graph.node.deleted',
      'graph.edge.created',
      'graph.edge.updated',
    ])
      expect(await auditTypes(srv, `&type=${t}`), t).not.toHaveLength(0);
  });

  it('runs tasks end to end against a QVAC-style runtime an agent heartbeats in, and falls back when it fails', async () => {
    rt = await startFakeRuntime({ token: 'rt-token' });
    srv = await start();
    const m = await activeMachine(srv.client, 1);
    const t = `/api/v1/machines/${m.id}/tasks`;
    expect(
      (
        await srv.client.post(t, {
          serviceType: 'compute.marketplace',
          taskType: 'inference',
          constraints: { preferredSkillKeys: ['nope.skill'] },
        })
      ).body.error.code,
    ).toBe('VALIDATION_ERROR');
    expect(
      (
        await srv.client.post(t, {
          serviceType: 'compute.marketplace',
          taskType: 'inference',
          discovery: { maxCandidates: 26 },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await srv.client.post(t, {
          serviceType: 'compute.marketplace',
          taskType: 'inference',
          constraints: { budget: -1 },
        })
      ).status,
    ).toBe(400);
    const task = (
      await srv.client.post(t, {
        serviceType: 'compute.marketplace',
        taskType: 'inference',
        input: { messages: [{ role: 'user', content: 'status?' }] },
        constraints: { preferredSkillKeys: ['qvac.llm'] },
      })
    ).body.item;
    expect(task).toMatchObject({
      status: 'queued',
      constraints: { allowExternalHandoff: true, requireNativeExecution: false, requiredCapabilities: [] },
      discovery: { maxCandidates: 10 },
      routeId: null,
    });

    const early = await srv.client.post(`${t}/${task.id}/execute`, {});
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('ROUTE_REQUIRED');

    const agent = (
      await srv.client.post(`/api/v1/machines/${m.id}/agents/enrollment`, { allowedProviderKeys: ['qvac'] })
    ).body.item;
    await srv.client.post('/api/v1/machine-agents/heartbeat', {
      machineId: m.id,
      agentId: agent.id,
      agentToken: agent.agentToken,
      endpoints: [
        {
          providerKey: 'qvac',
          endpointBaseUrl: rt.url,
          authType: 'bearer',
          authToken: 'rt-token',
          modelAlias: 'llama-3.2-3b',
        },
      ],
    });

    const disc = await srv.client.post(`${t}/${task.id}/discover`, {});
    expect(disc.status).toBe(200);
    expect(disc.body.resolution.kind).toBe('native');
    expect(disc.body.candidates[0].service.id).toBe('svc_qvac_llm_local');
    const nativeOnly = await srv.client.post(`${t}/${task.id}/discover`, {
      requireNativeExecution: true,
      maxCandidates: 1,
    });
    expect(nativeOnly.body.candidates).toHaveLength(1);
    expect(
      nativeOnly.body.candidates.every(
        (c: { service: { executionMode: string } }) => c.service.executionMode === 'native',
      ),
    ).toBe(true);

    const resolved = await srv.client.post(`${t}/${task.id}/resolve`, {});
    expect(resolved.status).toBe(201);
    expect(resolved.body.item).toMatchObject({
      taskId: task.id,
      selectedServiceId: 'svc_qvac_llm_local',
      executionMode: 'native',
      status: 'selected',
    });
    expect(resolved.body.item.fallbackChain.map((f: { serviceId: string }) => f.serviceId)).toEqual([
      'svc_qvac_embeddings_local',
      'svc_akash_gpu_lease',
    ]);

    const ok = await srv.client.post(`${t}/${task.id}/execute`, {
      input: { messages: [{ role: 'user', content: 'hello runtime' }] },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.item).toMatchObject({
      status: 'completed',
      serviceId: 'svc_qvac_llm_local',
      executionMode: 'native',
    });
    expect(ok.body.item.result.body.choices[0].message.content).toBe('echo: hello runtime');
    expect(ok.body.run).toMatchObject({ status: 'completed', outcomeId: ok.body.item.id });
    const call = rt.requests.find((r) => r.path === '/v1/chat/completions')!;
    expect(call.headers.authorization).toBe('Bearer rt-token');
    expect(call.body).toMatchObject({ model: 'llama-3.2-3b' });
    expect((await srv.client.get(`${t}/${task.id}`)).body.item).toMatchObject({
      status: 'completed',
      outcomeId: ok.body.item.id,
    });

    rt.mode = 'fail';
    const task2 = (await srv.client.post(t, { serviceType: 'compute.marketplace', taskType: 'inference' })).body.item;
    await srv.client.post(`${t}/${task2.id}/resolve`, {});
    const fell = await srv.client.post(`${t}/${task2.id}/execute`, {});
    expect(fell.status).toBe(202);
    expect(fell.body.item).toMatchObject({
      status: 'external',
      serviceId: 'svc_akash_gpu_lease',
      externalRef: 'https://console.akash.network/deployments',
    });
    expect(fell.body.resolution.kind).toBe('handoff');
    expect(fell.body.run.summary).toMatch(/Handed off/);

    const task3 = (
      await srv.client.post(t, {
        serviceType: 'compute.marketplace',
        taskType: 'inference',
        constraints: { allowExternalHandoff: false },
      })
    ).body.item;
    await srv.client.post(`${t}/${task3.id}/resolve`, {});
    const failed = await srv.client.post(`${t}/${task3.id}/execute`, {});
    expect(failed.status).toBe(502);
    expect(failed.body.error.code).toBe('RUNTIME_EXECUTION_FAILED');
    expect(failed.body.item).toMatchObject({ status: 'failed', errorCode: 'RUNTIME_EXECUTION_FAILED' });
    expect(failed.body.run.status).toBe('failed');

    const runs = await srv.client.get(`/api/v1/runs?machineId=${m.id}&status=failed`);
    expect(runs.body.items.map((r: { id: string }) => r.id)).toEqual([failed.body.run.id]);
    expect(
      (await srv.client.get(`/api/v1/runs?machineId=${m.id}&executionMode=external-handoff`)).body.items,
    ).toHaveLength(1);
    expect(
      (await srv.client.get(`/api/v1/runs?machineId=${m.id}&serviceId=svc_akash_gpu_lease`)).body.items,
    ).toHaveLength(1);
    expect((await srv.client.get(`/api/v1/runs?machineId=${m.id}&skillKey=qvac.llm`)).body.items).toHaveLength(2);
    const run = await srv.client.get(`/api/v1/runs/${ok.body.run.id}`);
    expect(run.body.outcome.id).toBe(ok.body.item.id);
    expect((await srv.client.get('/api/v1/runs/run_nope')).status).toBe(404);
    expect(
      (await srv.client.get(`/api/v1/machines/${m.id}/routes`)).body.items.map((r: { status: string }) => r.status),
    ).toEqual(['completed', 'handed_off', 'failed']);
    expect((await srv.client.get(`/api/v1/machines/${m.id}/outcomes`)).body.items).toHaveLength(3);
    expect(await auditTypes(srv, '&type=task.created')).toHaveLength(3);
  });

  it('discovery respects the machine policies; resolve answers ROUTE_REQUIRED when nothing is left', async () => {
    srv = await start();
    const nativeOnly = (await srv.client.post('/api/v1/policies', { name: 'native only', nativeOnly: true })).body.item;
    const m = await activeMachine(srv.client, 1, { policyIds: [nativeOnly.id] });
    const t = `/api/v1/machines/${m.id}/tasks`;
    const task = (await srv.client.post(t, { serviceType: 'data.location', taskType: 'positioning' })).body.item;
    const d = await srv.client.post(`${t}/${task.id}/discover`, {});
    expect(d.body.resolution.kind).toBe('unavailable');
    const r = await srv.client.post(`${t}/${task.id}/resolve`, {});
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('ROUTE_REQUIRED');
    await srv.client.patch(`/api/v1/policies/${nativeOnly.id}`, { nativeOnly: false, regionRules: ['!us-east'] });
    const d2 = await srv.client.post(`${t}/${task.id}/discover`, {});
    expect(d2.body.candidates.map((c: { service: { id: string } }) => c.service.id)).toEqual(['svc_geodnet_rtk_x402']);
    expect(d2.body.resolution.kind).toBe('handoff');
  });

  it('manages policies; machines may only name existing ones; a policy in use cannot be deleted', async () => {
    srv = await start();
    const p = await srv.client.post('/api/v1/policies', { name: 'Cap', budgetCap: { amount: 5, currency: 'usdt' } });
    expect(p.status).toBe(201);
    expect(p.body.item).toMatchObject({
      allowedSkillKeys: [],
      deniedSkillKeys: [],
      regionRules: [],
      nativeOnly: false,
      handoffAllowed: true,
      requiredCapabilities: [],
      budgetCap: { amount: 5, currency: 'USDT' },
    });
    expect(
      (await srv.client.patch(`/api/v1/policies/${p.body.item.id}`, { budgetCap: null })).body.item.budgetCap,
    ).toBeNull();
    expect(
      (await srv.client.post('/api/v1/policies', { name: 'x', budgetCap: { amount: -1, currency: 'USDT' } })).status,
    ).toBe(400);
    const bad = await srv.client.post(
      '/api/v1/machines',
      machineBody(machineDid(1), {
        policyIds: ['pol_missing'],
        identityProof: await machineProof(srv.client, machineDid(1), machineWallet(1)),
      }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0]).toMatchObject({ path: '/policyIds', rule: 'exists' });
    const m = await activeMachine(srv.client, 1, { policyIds: [p.body.item.id] });
    expect((await srv.client.patch(`/api/v1/machines/${m.id}`, { policyIds: ['pol_missing'] })).status).toBe(400);
    expect((await srv.client.delete(`/api/v1/policies/${p.body.item.id}`)).status).toBe(400);
    await srv.client.patch(`/api/v1/machines/${m.id}`, { policyIds: [] });
    expect((await srv.client.delete(`/api/v1/policies/${p.body.item.id}`)).status).toBe(204);
    expect((await srv.client.get(`/api/v1/policies/${p.body.item.id}`)).status).toBe(404);
    expect(await auditTypes(srv, '&resourceType=policy')).toEqual([
      'policy.created',
      'policy.updated',
      'policy.deleted',
    ]);
  });

  it('pages over more than one page on every list endpoint of the group', async () => {
    rt = await startFakeRuntime();
    srv = await start();
    const m = await activeMachine(srv.client, 1);
    for (const k of ['qvac', 'minio', 'wdk'])
      await srv.client.put(`/api/v1/machines/${m.id}/runtime-endpoints/${k}`, { endpointBaseUrl: rt.url });
    for (let i = 0; i < 3; i++) await srv.client.post(`/api/v1/machines/${m.id}/agents/enrollment`, {});
    for (let i = 0; i < 3; i++) await srv.client.post('/api/v1/policies', { name: `p${i}` });
    for (let i = 0; i < 3; i++) {
      const task = (
        await srv.client.post(`/api/v1/machines/${m.id}/tasks`, {
          serviceType: 'compute.marketplace',
          taskType: 't',
          operation: 'chat.completions',
        })
      ).body.item;
      await srv.client.post(`/api/v1/machines/${m.id}/tasks/${task.id}/resolve`, {});
      await srv.client.post(`/api/v1/machines/${m.id}/tasks/${task.id}/execute`, {
        input: { messages: [{ role: 'user', content: 'x' }] },
      });
    }
    for (const path of [
      `/api/v1/machines/${m.id}/runtime-endpoints`,
      `/api/v1/machines/${m.id}/agents`,
      `/api/v1/machines/${m.id}/tasks`,
      `/api/v1/machines/${m.id}/routes`,
      `/api/v1/machines/${m.id}/outcomes`,
      `/api/v1/runs?machineId=${m.id}`,
      '/api/v1/policies',
      '/api/v1/audit-events',
    ]) {
      await allPages(srv, path);
    }
  });
});
