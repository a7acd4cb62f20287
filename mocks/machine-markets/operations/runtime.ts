// Runtime endpoints and machine-side runtime agents.
import { ApiError } from '../../../src/errors.ts';
import { clockMs, mockId, now, type MockState } from '../state.ts';
import { type Operation, ok, created, gone, page, sorted, audit, activeMachine, type OpsContext } from './common.ts';

function publicEndpoint<T extends { authToken?: string | null }>(e: T) {
  const { authToken: _a, ...rest } = e;
  void _a;
  return rest;
}

const publicAgent = <T extends { agentToken: string }>(a: T) => {
  const { agentToken: _t, ...rest } = a;
  void _t;
  return rest;
};

function upsertEndpoint(
  state: MockState,
  machineId: string,
  providerKey: string,
  body: Record<string, string | undefined>,
  source: 'manual' | 'agent',
  agentId: string | null,
  lease: string | null,
) {
  let url: URL;
  try {
    url = new URL(body.endpointBaseUrl!);
    if (!['http:', 'https:'].includes(url.protocol)) throw new Error();
  } catch {
    throw new ApiError('VALIDATION_ERROR', 'endpointBaseUrl is not a valid http(s) URL.', [
      { location: 'body', path: '/endpointBaseUrl', rule: 'url', message: 'invalid URL' },
    ]);
  }
  const key = `${machineId}:${providerKey}`;
  const existing = state.endpoints.get(key);
  const at = now(state);
  const authType = (body.authType ?? 'none') as 'none' | 'api-key' | 'bearer';
  const authToken = authType === 'none' ? null : (body.authToken ?? existing?.authToken ?? null);
  const e = {
    id: existing?.id ?? mockId(state, 'rep'),
    machineId,
    providerKey,
    source,
    agentId,
    label: body.label ?? `${providerKey.toUpperCase()} runtime`,
    endpointBaseUrl: url.origin,
    authType,
    hasAuthToken: !!authToken,
    authToken,
    modelAlias: body.modelAlias ?? null,
    networkScope: (body.networkScope ?? (/^(localhost|127\.|\[::1\])/.test(url.host) ? 'loopback' : 'public')) as
      'loopback' | 'lan' | 'vpn' | 'public',
    probePath: body.probePath ?? (providerKey === 'qvac' ? '/v1/models' : '/health'),
    status: (body.status ?? 'active') as 'active' | 'degraded' | 'unreachable',
    leaseExpiresAt: lease ?? body.leaseExpiresAt ?? null,
    lastCheckedAt: existing?.lastCheckedAt ?? null,
    lastHealthyAt: existing?.lastHealthyAt ?? null,
    createdAt: existing?.createdAt ?? at,
    updatedAt: at,
  };
  state.endpoints.set(key, e);
  audit(state, 'runtime-endpoint.upserted', 'runtime-endpoint', e.id, { machineId, providerKey, source });
  return { created: !existing, endpoint: e };
}

export function runtimeOperations(_ctx: OpsContext): Record<string, Operation> {
  return {
    listRuntimeEndpoints: (state, req) => {
      activeMachine(state, req.params.machineId!);
      return ok(
        page(
          sorted(state.endpoints)
            .filter((e) => e.machineId === req.params.machineId)
            .map(publicEndpoint),
          req.query,
        ),
      );
    },
    getRuntimeEndpoint: (state, req) => {
      activeMachine(state, req.params.machineId!);
      return ok({
        item: publicEndpoint(
          state.endpoints.get(`${req.params.machineId}:${req.params.providerKey!.toLowerCase()}`) ??
            gone('Runtime endpoint'),
        ),
      });
    },
    upsertRuntimeEndpoint: (state, req) => {
      activeMachine(state, req.params.machineId!);
      const u = upsertEndpoint(
        state,
        req.params.machineId!,
        req.params.providerKey!.toLowerCase(),
        req.body,
        'manual',
        null,
        null,
      );
      return { status: u.created ? 201 : 200, body: { item: publicEndpoint(u.endpoint) } };
    },
    deleteRuntimeEndpoint: (state, req) => {
      activeMachine(state, req.params.machineId!);
      const key = `${req.params.machineId}:${req.params.providerKey!.toLowerCase()}`;
      const e = state.endpoints.get(key) ?? gone('Runtime endpoint');
      state.endpoints.delete(key);
      audit(state, 'runtime-endpoint.deleted', 'runtime-endpoint', e.id);
      return { status: 204 };
    },
    listMachineAgents: (state, req) => {
      activeMachine(state, req.params.machineId!);
      return ok(
        page(
          sorted(state.agents)
            .filter((a) => a.machineId === req.params.machineId)
            .map(publicAgent),
          req.query,
        ),
      );
    },
    enrollMachineAgent: (state, req) => {
      const m = activeMachine(state, req.params.machineId!);
      const at = now(state);
      const keys = (req.body?.allowedProviderKeys ?? req.body?.providerKeys ?? ['qvac']).map((k: string) =>
        k.toLowerCase(),
      );
      const a = {
        id: mockId(state, 'mag'),
        machineId: m.id,
        label: req.body?.label ?? 'Machine runtime agent',
        allowedProviderKeys: keys,
        status: 'provisioned' as const,
        hasAgentToken: true,
        lastSeenAt: null,
        createdAt: at,
        updatedAt: at,
        agentToken: `mat_mock_${state.seq}_${Math.random().toString(36).slice(2)}`,
      };
      state.agents.set(a.id, a);
      audit(state, 'machine-agent.enrolled', 'machine-agent', a.id);
      return created({ item: a });
    },
    revokeMachineAgent: (state, req) => {
      activeMachine(state, req.params.machineId!);
      const a = state.agents.get(req.params.agentId!);
      if (!a || a.machineId !== req.params.machineId) gone('Machine agent');
      a!.status = 'revoked';
      a!.hasAgentToken = false;
      a!.updatedAt = now(state);
      return ok({ item: publicAgent(a!) });
    },
    machineAgentHeartbeat: (state, req) => {
      const b = req.body;
      const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.get('authorization') ?? '')?.[1];
      const token = b.agentToken ?? req.headers.get('x-agent-pairing-token') ?? bearer;
      if (!token) throw new ApiError('AGENT_AUTH_REQUIRED', 'Send the agentToken.');
      const a = state.agents.get(b.agentId);
      if (!a || a.machineId !== b.machineId) gone('Machine agent');
      if (a!.status === 'revoked') throw new ApiError('AGENT_PAIRING_INACTIVE', 'This runtime agent has been revoked.');
      if (a!.agentToken !== token) throw new ApiError('AGENT_AUTH_INVALID', 'The agent token is not valid.');
      activeMachine(state, b.machineId);
      const denied = (b.endpoints ?? []).filter(
        (e: { providerKey: string }) => !a!.allowedProviderKeys.includes(e.providerKey.toLowerCase()),
      );
      if (denied.length) throw new ApiError('AGENT_POLICY_DENIED', 'Provider key not allowed for this agent.');
      const lease = new Date(clockMs(state) + (b.leaseSeconds ?? 120) * 1000).toISOString();
      const endpoints = (b.endpoints ?? []).map((e: Record<string, string>) =>
        publicEndpoint(
          upsertEndpoint(state, b.machineId, e.providerKey!.toLowerCase(), e, 'agent', a!.id, lease).endpoint,
        ),
      );
      const at = now(state);
      Object.assign(a!, { status: 'active', lastSeenAt: at, updatedAt: at });
      audit(state, 'machine-agent.heartbeat', 'machine-agent', a!.id);
      return ok({ item: publicAgent(a!), endpoints });
    },
  };
}
