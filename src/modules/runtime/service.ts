// Runtime endpoints (manual upserts and agent leases), machine-side runtime agents and their heartbeat, and the
// health prober. Every route sits behind the machine guard. authToken is stored but never returned; agent
// tokens are stored as SHA-256 digests and compared in constant time.
import { withTransaction } from '../../store/tx.ts';
import {
  agentView,
  endpointFromRow,
  publicView,
  runtimeRepo,
  sha256,
  type AgentRow,
  type EndpointRow,
  type NetworkScope,
  type RuntimeEndpointSecret,
} from './repo.ts';
import { lockMachine } from '../machines/repo.ts';
import { emit } from '../../observe.ts';
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from '../../config.ts';
import type { Clock } from '../../clock.ts';
import { newId, randomToken } from '../../ids.ts';
import { fromJson, toJson } from '../../store/db.ts';
import { ApiError, notFound, validationError } from '../../errors.ts';
import { keysetPage, type Page, type PageQuery } from '../../store/pages.ts';
import { recordAudit } from '../audit/service.ts';
import type { MachinesService } from '../machines/service.ts';
import type {
  MachineAgentView,
  RuntimeEndpointView,
  UpsertRuntimeEndpointRequest,
} from '../../../generated/types.gen.ts';

// The views are the contract's own types (generated from openapi.yaml).
export type { RuntimeEndpointView, MachineAgentView } from '../../../generated/types.gen.ts';
export type { AuthType, NetworkScope, EndpointStatus, RuntimeEndpointSecret } from './repo.ts';
export { endpointFromRow, publicView } from './repo.ts';

/** A manual upsert body (the contract's own type). */
export type EndpointInput = UpsertRuntimeEndpointRequest;

/** Validates an http(s) base URL and strips its path, query and hash. */
export function normaliseBaseUrl(raw: string, field = '/endpointBaseUrl'): URL {
  let u: URL;
  const fail = (why: string): never => {
    throw validationError(`endpointBaseUrl ${why}.`, [{ location: 'body', path: field, rule: 'url', message: why }]);
  };
  try {
    u = new URL(raw);
  } catch {
    return fail('is not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail('must use http or https');
  if (u.username || u.password) fail('must not carry credentials; use authType and authToken');
  return new URL(`${u.protocol}//${u.host}`);
}

function defaultScope(u: URL): NetworkScope {
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || host.startsWith('127.')) return 'loopback';
  if (isIP(host) === 4 && (/^10\./.test(host) || /^192\.168\./.test(host) || /^172\.(1[6-9]|2\d|3[01])\./.test(host)))
    return 'lan';
  if (host.endsWith('.local') || host.endsWith('.lan')) return 'lan';
  return 'public';
}

export const defaultProbePath = (providerKey: string) => (providerKey === 'qvac' ? '/v1/models' : '/health');

export interface RuntimeServiceDeps {
  db: Knex;
  config: Config;
  clock: Clock;
  machines: MachinesService;
}

export class RuntimeService {
  private readonly db: Knex;
  private readonly config: Config;
  private readonly clock: Clock;
  private readonly machines: MachinesService;

  constructor(deps: RuntimeServiceDeps) {
    this.db = deps.db;
    this.config = deps.config;
    this.clock = deps.clock;
    this.machines = deps.machines;
  }

  private now() {
    return this.clock.now().toISOString();
  }

  async list(machineId: string, page: PageQuery): Promise<Page<RuntimeEndpointView>> {
    await this.machines.requireActive(machineId);
    const now = this.now();
    return keysetPage(runtimeRepo.endpointsOf(this.db, machineId), page, (r: EndpointRow) =>
      publicView(endpointFromRow(r, now)),
    );
  }

  async find(
    db: Knex | Knex.Transaction,
    machineId: string,
    providerKey: string,
  ): Promise<RuntimeEndpointSecret | undefined> {
    const r = await runtimeRepo.endpoint(db, machineId, providerKey.toLowerCase());
    return r && endpointFromRow(r, this.now());
  }

  async get(machineId: string, providerKey: string): Promise<RuntimeEndpointView> {
    await this.machines.requireActive(machineId);
    const e = await this.find(this.db, machineId, providerKey);
    if (!e) throw notFound('Runtime endpoint');
    return publicView(e);
  }

  private rowFor(
    machineId: string,
    providerKey: string,
    input: EndpointInput,
    existing: RuntimeEndpointSecret | undefined,
    source: 'manual' | 'agent',
    agentId: string | null,
    leaseExpiresAt: string | null,
    now: string,
  ): EndpointRow {
    const url = normaliseBaseUrl(input.endpointBaseUrl);
    const authType = input.authType ?? 'none';
    // PUT replaces the endpoint; an omitted authToken keeps the stored one unless auth is switched off.
    const authToken = authType === 'none' ? null : (input.authToken ?? existing?.authToken ?? null);
    return {
      id: existing?.id ?? newId('rep', Date.parse(now)),
      machine_id: machineId,
      provider_key: providerKey,
      source,
      agent_id: agentId,
      label: input.label ?? `${providerKey.toUpperCase()} runtime`,
      endpoint_base_url: url.origin,
      auth_type: authType,
      auth_token: authToken,
      model_alias: input.modelAlias ?? null,
      network_scope: input.networkScope ?? defaultScope(url),
      probe_path: input.probePath ?? defaultProbePath(providerKey),
      status: input.status ?? 'active',
      lease_expires_at: leaseExpiresAt,
      last_checked_at: existing?.lastCheckedAt ?? null,
      last_healthy_at: existing?.lastHealthyAt ?? null,
      created_at: existing?.createdAt ?? now,
      updated_at: now,
    };
  }

  async upsert(
    machineId: string,
    rawProviderKey: string,
    input: EndpointInput,
  ): Promise<{ created: boolean; item: RuntimeEndpointView }> {
    await this.machines.requireActive(machineId);
    const providerKey = rawProviderKey.toLowerCase();
    const now = this.now();
    return withTransaction(this.db, async (trx) => {
      await lockMachine(trx, machineId);
      const existing = await this.find(trx, machineId, providerKey);
      const row = this.rowFor(
        machineId,
        providerKey,
        input,
        existing,
        'manual',
        null,
        input.leaseExpiresAt ? new Date(input.leaseExpiresAt).toISOString() : null,
        now,
      );
      await runtimeRepo.saveEndpoint(trx, row, !!existing);
      const view = publicView(endpointFromRow(row, now));
      await recordAudit(trx, {
        type: 'runtime-endpoint.upserted',
        resourceType: 'runtime-endpoint',
        resourceId: row.id,
        payload: {
          machineId,
          providerKey,
          source: 'manual',
          created: !existing,
          endpointBaseUrl: view.endpointBaseUrl,
          authType: view.authType,
          hasAuthToken: view.hasAuthToken,
          status: view.status,
        },
        at: now,
      });
      return { created: !existing, item: view };
    });
  }

  async remove(machineId: string, providerKey: string): Promise<void> {
    await this.machines.requireActive(machineId);
    const now = this.now();
    await withTransaction(this.db, async (trx) => {
      await lockMachine(trx, machineId);
      const e = await this.find(trx, machineId, providerKey);
      if (!e) throw notFound('Runtime endpoint');
      await runtimeRepo.deleteEndpoint(trx, e.id);
      await recordAudit(trx, {
        type: 'runtime-endpoint.deleted',
        resourceType: 'runtime-endpoint',
        resourceId: e.id,
        payload: { machineId, providerKey: e.providerKey },
        at: now,
      });
    });
  }

  // ---- machine-side agents ----

  async enroll(
    machineId: string,
    input: { label?: string; allowedProviderKeys?: string[]; providerKeys?: string[] },
  ): Promise<MachineAgentView & { agentToken: string }> {
    await this.machines.requireActive(machineId);
    const now = this.now();
    const keys = [
      ...new Set((input.allowedProviderKeys ?? input.providerKeys ?? ['qvac']).map((k) => k.toLowerCase())),
    ];
    const token = `mat_${randomToken(32)}`;
    const row: AgentRow = {
      id: newId('mag', Date.parse(now)),
      machine_id: machineId,
      label: input.label ?? 'Machine runtime agent',
      allowed_provider_keys: toJson(keys),
      status: 'provisioned',
      token_hash: sha256(token),
      last_seen_at: null,
      created_at: now,
      updated_at: now,
    };
    await withTransaction(this.db, async (trx) => {
      await runtimeRepo.insertAgent(trx, row);
      await recordAudit(trx, {
        type: 'machine-agent.enrolled',
        resourceType: 'machine-agent',
        resourceId: row.id,
        payload: { machineId, label: row.label, allowedProviderKeys: keys },
        at: now,
      });
    });
    return { ...agentView(row), agentToken: token };
  }

  async listAgents(machineId: string, page: PageQuery): Promise<Page<MachineAgentView>> {
    await this.machines.requireActive(machineId);
    return keysetPage(runtimeRepo.agentsOf(this.db, machineId), page, (r: AgentRow) => agentView(r));
  }

  async revokeAgent(machineId: string, agentId: string): Promise<MachineAgentView> {
    await this.machines.requireActive(machineId);
    const now = this.now();
    return withTransaction(this.db, async (trx) => {
      const r = await runtimeRepo.lockedAgent(trx, agentId, machineId);
      if (!r) throw notFound('Machine agent');
      if (r.status === 'revoked') return agentView(r);
      const next = { ...r, status: 'revoked', token_hash: null, updated_at: now };
      await runtimeRepo.updateAgent(trx, agentId, { status: next.status, token_hash: null, updated_at: now });
      // Endpoints the agent leased stop counting at once.
      await runtimeRepo.expireAgentLeases(trx, agentId, now);
      await recordAudit(trx, {
        type: 'machine-agent.revoked',
        resourceType: 'machine-agent',
        resourceId: agentId,
        payload: { machineId },
        at: now,
      });
      return agentView(next);
    });
  }

  /** A runtime agent's heartbeat, authenticated by the agent token the HTTP layer read from the request. */
  async heartbeat(
    token: string,
    body: {
      machineId: string;
      agentId: string;
      leaseSeconds?: number;
      endpoints?: Array<EndpointInput & { providerKey: string }>;
    },
  ): Promise<{ item: MachineAgentView; endpoints: RuntimeEndpointView[] }> {
    const agent = await runtimeRepo.agent(this.db, body.agentId);
    if (!agent || agent.machine_id !== body.machineId) throw notFound('Machine agent');
    if (agent.status === 'revoked')
      throw new ApiError('AGENT_PAIRING_INACTIVE', 'This runtime agent has been revoked.');
    const presented = Buffer.from(sha256(token), 'hex');
    if (!agent.token_hash || !timingSafeEqual(presented, Buffer.from(agent.token_hash, 'hex')))
      throw new ApiError('AGENT_AUTH_INVALID', 'The agent token is not valid for this agent.');
    await this.machines.requireActive(body.machineId);
    const allowed: string[] = fromJson(agent.allowed_provider_keys, []);
    const endpoints = (body.endpoints ?? []).map((e) => ({ ...e, providerKey: e.providerKey.toLowerCase() }));
    const denied = endpoints.filter((e) => !allowed.includes(e.providerKey)).map((e) => e.providerKey);
    if (denied.length)
      throw new ApiError('AGENT_POLICY_DENIED', `This agent may not register provider key(s): ${denied.join(', ')}.`, {
        allowedProviderKeys: allowed,
        denied,
      });
    endpoints.forEach((e, i) => normaliseBaseUrl(e.endpointBaseUrl, `/endpoints/${i}/endpointBaseUrl`));
    const now = this.clock.now();
    const at = now.toISOString();
    const lease = new Date(now.getTime() + (body.leaseSeconds ?? 120) * 1000).toISOString();
    return withTransaction(this.db, async (trx) => {
      // A revoke that committed since the token was checked wins: no lease is written for a revoked agent.
      await lockMachine(trx, body.machineId);
      const current = await runtimeRepo.lockedAgent(trx, agent.id);
      if (!current || current.status === 'revoked')
        throw new ApiError('AGENT_PAIRING_INACTIVE', 'This runtime agent has been revoked.');
      const views: RuntimeEndpointView[] = [];
      for (const e of endpoints) {
        const existing = await this.find(trx, body.machineId, e.providerKey);
        const row = this.rowFor(body.machineId, e.providerKey, e, existing, 'agent', agent.id, lease, at);
        await runtimeRepo.saveEndpoint(trx, row, !!existing);
        views.push(publicView(endpointFromRow(row, at)));
      }
      await runtimeRepo.updateAgent(trx, agent.id, { status: 'active', last_seen_at: at, updated_at: at });
      await recordAudit(trx, {
        actor: `machine-agent:${agent.id}`,
        type: 'machine-agent.heartbeat',
        resourceType: 'machine-agent',
        resourceId: agent.id,
        payload: {
          machineId: body.machineId,
          leaseExpiresAt: lease,
          endpoints: views.map((v) => ({
            providerKey: v.providerKey,
            endpointBaseUrl: v.endpointBaseUrl,
            status: v.status,
          })),
        },
        at,
      });
      return { item: agentView({ ...agent, status: 'active', last_seen_at: at, updated_at: at }), endpoints: views };
    });
  }

  /** Headers that authenticate a call to a runtime endpoint. */
  static authHeaders(e: Pick<RuntimeEndpointSecret, 'authType' | 'authToken'>): Record<string, string> {
    if (!e.authToken) return {};
    if (e.authType === 'bearer') return { authorization: `Bearer ${e.authToken}` };
    if (e.authType === 'api-key') return { 'x-api-key': e.authToken };
    return {};
  }

  /** Probes every endpoint once: GET base+probePath with its auth and a timeout. */
  async probeAll(logger?: Logger): Promise<number> {
    const rows = await runtimeRepo.allEndpoints(this.db);
    for (const r of rows) {
      const e = endpointFromRow(r, this.now());
      let healthy = false;
      if (!(r.lease_expires_at && r.lease_expires_at <= this.now())) {
        try {
          const res = await fetch(`${e.endpointBaseUrl}${e.probePath}`, {
            headers: RuntimeService.authHeaders(e),
            signal: AbortSignal.timeout(this.config.runtimeTimeoutMs),
          });
          await res.arrayBuffer().catch(() => undefined);
          healthy = res.ok;
        } catch (err) {
          logger?.debug({ providerKey: e.providerKey, err: (err as Error).message }, 'runtime probe failed');
        }
      }
      const at = this.now();
      emit({ kind: 'probe', db: this.db, healthy });
      await runtimeRepo.recordProbe(this.db, r, healthy, at);
    }
    return rows.length;
  }
}
