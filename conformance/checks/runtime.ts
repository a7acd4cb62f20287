import type { Kit } from '../kit.ts';
import { STATELESS, type CheckContext } from './context.ts';

export function registerRuntime(kit: Kit, ctx: CheckContext): void {
  const { h, secret, machine, fx } = ctx;
  /** Enrols a runtime agent allowed to register the qvac provider key. */
  const enrolAgent = async (machineId: string) =>
    kit.ok(
      await h.send('POST', `/api/v1/machines/${machineId}/agents/enrollment`, {
        body: { allowedProviderKeys: ['qvac'] },
      }),
      'enrollMachineAgent',
      201,
    );
  kit.group('runtime', (check) => {
    check(
      'upsert a runtime endpoint (201 then 200); authToken is never echoed; delete answers 204',
      async () => {
        const m = await machine();
        const put = (body: Record<string, unknown>) =>
          h.send('PUT', `/api/v1/machines/${m.id}/runtime-endpoints/ConfKit`, { body });
        const first = kit.ok(
          await put({ endpointBaseUrl: `${fx.runtimeUrl}/some/path?q=1`, authType: 'bearer', authToken: secret }),
          'upsertRuntimeEndpoint',
          201,
        );
        kit.assert(
          first.body.item.providerKey === 'confkit',
          first,
          'upsertRuntimeEndpoint',
          'providerKey lower-cased',
        );
        kit.assert(
          first.body.item.source === 'manual' && first.body.item.hasAuthToken === true,
          first,
          'upsertRuntimeEndpoint',
          'source manual, hasAuthToken true',
        );
        kit.assert(
          first.body.item.endpointBaseUrl === fx.runtimeUrl,
          first,
          'upsertRuntimeEndpoint',
          `path and query stripped from the endpointBaseUrl sent (${STATELESS})`,
        );
        kit.ok(
          await put({ endpointBaseUrl: fx.runtimeUrl, authType: 'bearer', authToken: secret }),
          'upsertRuntimeEndpoint',
          200,
        );
        const got = kit.ok(
          await h.send('GET', `/api/v1/machines/${m.id}/runtime-endpoints/confkit`),
          'getRuntimeEndpoint',
          200,
        );
        const list = kit.ok(
          await h.send('GET', `/api/v1/machines/${m.id}/runtime-endpoints`),
          'listRuntimeEndpoints',
          200,
        );
        for (const ex of [first, got, list])
          kit.assert(!ex.rawBody.includes(secret), ex, null, 'authToken never appears in a response');
        kit.error(await put({ endpointBaseUrl: 'ftp://nope' }), 'upsertRuntimeEndpoint', 'VALIDATION_ERROR');
        const del = await h.send('DELETE', `/api/v1/machines/${m.id}/runtime-endpoints/confkit`);
        kit.ok(del, 'deleteRuntimeEndpoint', 204);
        kit.error(
          await h.send('DELETE', `/api/v1/machines/${m.id}/runtime-endpoints/confkit`),
          'deleteRuntimeEndpoint',
          'NOT_FOUND',
        );
      },
      { identity: true },
    );
    check(
      'machine agents are listed; a revoked agent is listed as revoked and its token stops working',
      async () => {
        const m = await machine();
        const e = await enrolAgent(m.id);
        const list = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/agents`), 'listMachineAgents', 200);
        kit.assert(
          list.body.items.some((x: { id: string }) => x.id === e.body.item.id),
          list,
          'listMachineAgents',
          `the list holds the enrolled agent (${STATELESS})`,
        );
        const revoked = kit.ok(
          await h.send('POST', `/api/v1/machines/${m.id}/agents/${e.body.item.id}/revoke`, { body: {} }),
          'revokeMachineAgent',
          200,
        );
        kit.assert(revoked.body.item.status === 'revoked', revoked, 'revokeMachineAgent', 'status revoked');
        const relisted = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/agents`), 'listMachineAgents', 200);
        kit.assert(
          relisted.body.items.find((x: { id: string }) => x.id === e.body.item.id)?.status === 'revoked',
          relisted,
          'listMachineAgents',
          `the revocation persists (${STATELESS})`,
        );
        kit.error(
          await h.send('POST', '/api/v1/machine-agents/heartbeat', {
            body: { machineId: m.id, agentId: e.body.item.id, agentToken: e.body.item.agentToken },
          }),
          'machineAgentHeartbeat',
          'AGENT_PAIRING_INACTIVE',
        );
        kit.error(
          await h.send('POST', `/api/v1/machines/${m.id}/agents/conformance-missing/revoke`, { body: {} }),
          'revokeMachineAgent',
          'NOT_FOUND',
        );
      },
      { identity: true, designed: true },
    );
    check(
      'a runtime agent enrols (token once) and heartbeats its endpoint in with a lease',
      async () => {
        const m = await machine();
        const e = await enrolAgent(m.id);
        const token = e.body.item.agentToken as string;
        const hb = kit.ok(
          await h.send('POST', '/api/v1/machine-agents/heartbeat', {
            body: {
              machineId: m.id,
              agentId: e.body.item.id,
              agentToken: token,
              leaseSeconds: 300,
              endpoints: [{ providerKey: 'qvac', endpointBaseUrl: fx.runtimeUrl }],
            },
          }),
          'machineAgentHeartbeat',
          200,
        );
        kit.assert(hb.body.item.status === 'active', hb, 'machineAgentHeartbeat', 'agent status active');
        kit.assert(
          hb.body.endpoints[0]?.source === 'agent' && hb.body.endpoints[0]?.leaseExpiresAt,
          hb,
          'machineAgentHeartbeat',
          'endpoint upserted with source agent and a lease',
        );
        kit.assert(!hb.rawBody.includes(token), hb, 'machineAgentHeartbeat', 'agentToken not echoed');
        kit.error(
          await h.send('POST', '/api/v1/machine-agents/heartbeat', {
            body: { machineId: m.id, agentId: e.body.item.id, agentToken: 'wrong' },
          }),
          'machineAgentHeartbeat',
          'AGENT_AUTH_INVALID',
        );
        kit.error(
          await h.send('POST', '/api/v1/machine-agents/heartbeat', {
            body: {
              machineId: m.id,
              agentId: e.body.item.id,
              agentToken: token,
              endpoints: [{ providerKey: 'not-allowed', endpointBaseUrl: fx.runtimeUrl }],
            },
          }),
          'machineAgentHeartbeat',
          'AGENT_POLICY_DENIED',
        );
        kit.error(
          await h.send('POST', '/api/v1/machine-agents/heartbeat', {
            body: { machineId: m.id, agentId: e.body.item.id, agentToken: token, leaseSeconds: 10 },
          }),
          'machineAgentHeartbeat',
          'VALIDATION_ERROR',
        );
      },
      { identity: true },
    );
  });
}
