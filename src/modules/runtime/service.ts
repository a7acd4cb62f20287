// Runtime endpoints (manual upserts and agent leases), machine-side runtime agents and their heartbeat, and the
// health prober. Every route sits behind the machine guard. authToken is stored but never returned; agent
// tokens are stored as SHA-256 digests and compared in constant time.
import { forUpdate, withTransaction } from '../../store/tx.ts';
import { lockMachine } from '../machines/repo.ts';
import type { ClusterLease } from '../../store/lease.ts';
import { errorForLog } from '../../logger.ts';
import { emit } from '../../observe.ts';
import { createHash, timingSafeEqual } from 'node:crypto';
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
export type AuthType = RuntimeEndpointView['authType'];
export type NetworkScope = RuntimeEndpointView['networkScope'];
export type EndpointStatus = RuntimeEndpointView['status'];

/** The stored endpoint, token included: only for calling the runtime, never for a response. */
export type RuntimeEndpointSecret = Omit<RuntimeEndpointView, 'authToken'> & { authToken: string | null };

interface EndpointRow {
  id: string;
  machine_id: string;
  provider_key: string;
  source: string;
  agent_id: string | null;
  label: string;
  endpoint_base_url: string;
  auth_type: string;
  auth_token: string | null;
  model_alias: string | null;
  network_scope: string;
  probe_path: string;
  status: string;
  lease_expires_at: string | null;
  last_checked_at: string | null;
  last_healthy_at: string | null;
  created_at: string;
  updated_at: string;
}

/** A manual upsert body (the contract's own type). */
export type EndpointInput = UpsertRuntimeEndpointRequest;

interface AgentRow {
  id: string;
  machine_id: string;
  label: string;
  allowed_provider_keys: string;
  status: string;
  token_hash: string | null;
  last_seen_at: string | null;
  created_at: string;
  updated_at: string;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** An expired lease reads as unreachable, whatever was last reported. */
export function endpointFromRow(r: EndpointRow, nowIso: string): RuntimeEndpointSecret {
  const expired = !!r.lease_expires_at && r.lease_expires_at <= nowIso;
  return {
    id: r.id,
    machineId: r.machine_id,
    providerKey: r.provider_key,
    source: r.source as 'manual' | 'agent',
    agentId: r.agent_id,
    label: r.label,
    endpointBaseUrl: r.endpoint_base_url,
    authType: r.auth_type as AuthType,
    hasAuthToken: !!r.auth_token,
    authToken: r.auth_token,
    modelAlias: r.model_alias,
    networkScope: r.network_scope as NetworkScope,
    probePath: r.probe_path,
    status: expired ? 'unreachable' : (r.status as EndpointStatus),
    leaseExpiresAt: r.lease_expires_at,
    lastCheckedAt: r.last_checked_at,
    lastHealthyAt: r.last_healthy_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function publicView(e: RuntimeEndpointSecret): RuntimeEndpointView {
  const { authToken: _t, ...view } = e;
  void _t;
  return view;
}

const agentView = (r: AgentRow): MachineAgentView => ({
  id: r.id,
  machineId: r.machine_id,
  label: r.label,
  allowedProviderKeys: fromJson(r.allowed_provider_keys, []),
  status: r.status as MachineAgentView['status'],
  hasAgentToken: !!r.token_hash,
  lastSeenAt: r.last_seen_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

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
    return keysetPage(
      this.db('runtime_endpoints').where({ machine_id: machineId }).select('*'),
      page,
      (r: EndpointRow) => publicView(endpointFromRow(r, now)),
    );
  }

  async find(
    db: Knex | Knex.Transaction,
    machineId: string,
    providerKey: string,
  ): Promise<RuntimeEndpointSecret | undefined> {
    const r = (await db('runtime_endpoints')
      .where({ machine_id: machineId, provider_key: providerKey.toLowerCase() })
      .first()) as EndpointRow | undefined;
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

  private async write(trx: Knex.Transaction, row: EndpointRow, existed: boolean): Promise<void> {
    if (existed) {
      const { id, created_at: _c, ...rest } = row;
      void _c;
      await trx('runtime_endpoints').where({ id }).update(rest);
    } else {
      await trx('runtime_endpoints').insert(row);
    }
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
      await this.write(trx, row, !!existing);
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
      await trx('runtime_endpoints').where({ id: e.id }).delete();
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
      await trx('machine_agents').insert(row);
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
    return keysetPage(this.db('machine_agents').where({ machine_id: machineId }).select('*'), page, (r: AgentRow) =>
      agentView(r),
    );
  }

  async revokeAgent(machineId: string, agentId: string): Promise<MachineAgentView> {
    await this.machines.requireActive(machineId);
    const now = this.now();
    return withTransaction(this.db, async (trx) => {
      const r = (await forUpdate(trx('machine_agents').where({ id: agentId, machine_id: machineId }).first())) as
        AgentRow | undefined;
      if (!r) throw notFound('Machine agent');
      if (r.status === 'revoked') return agentView(r);
      const next = { ...r, status: 'revoked', token_hash: null, updated_at: now };
      await trx('machine_agents')
        .where({ id: agentId })
        .update({ status: next.status, token_hash: null, updated_at: now });
      // Endpoints the agent leased stop counting at once.
      await trx('runtime_endpoints')
        .where({ agent_id: agentId, source: 'agent' })
        .update({ status: 'unreachable', lease_expires_at: now, updated_at: now });
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
    const agent = (await this.db('machine_agents').where({ id: body.agentId }).first()) as AgentRow | undefined;
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
      const current = (await forUpdate(trx('machine_agents').where({ id: agent.id }).first('status'))) as
        { status: string } | undefined;
      if (!current || current.status === 'revoked')
        throw new ApiError('AGENT_PAIRING_INACTIVE', 'This runtime agent has been revoked.');
      const views: RuntimeEndpointView[] = [];
      for (const e of endpoints) {
        const existing = await this.find(trx, body.machineId, e.providerKey);
        const row = this.rowFor(body.machineId, e.providerKey, e, existing, 'agent', agent.id, lease, at);
        await this.write(trx, row, !!existing);
        views.push(publicView(endpointFromRow(row, at)));
      }
      await trx('machine_agents')
        .where({ id: agent.id })
        .update({ status: 'active', last_seen_at: at, updated_at: at });
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
    const rows = (await this.db('runtime_endpoints').select('*')) as EndpointRow[];
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
      // Only if the endpoint is still the one probed: a heartbeat or PUT meanwhile wins over this verdict.
      await this.db('runtime_endpoints')
        .where({ id: r.id, updated_at: r.updated_at })
        .update({
          status: healthy ? 'active' : 'unreachable',
          last_checked_at: at,
          ...(healthy ? { last_healthy_at: at } : {}),
        });
    }
    return rows.length;
  }
}

/** Runs probeAll on an interval (PEAQOS_RUNTIME_PROBE_INTERVAL_MS; 0 = off). */
/**
 * Probes runtime endpoints every `intervalMs`. With several replicas one of them probes per round: each round
 * first takes the `runtime-prober` cluster lease (store/lease.ts), so endpoints are not probed N times and
 * replicas do not overwrite each other's verdicts; a replica that dies hands over when its lease runs out.
 * Lease expiry needs no background work: an expired lease is read as unreachable (active.ts).
 */
export interface RuntimeProberDeps {
  runtime: RuntimeService;
  intervalMs: number;
  logger: Logger;
  lease: ClusterLease;
}

export class RuntimeProber {
  static readonly LEASE = 'runtime-prober';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly runtime: RuntimeService;
  private readonly intervalMs: number;
  private readonly logger: Logger;
  private readonly lease: ClusterLease;

  constructor(deps: RuntimeProberDeps) {
    this.runtime = deps.runtime;
    this.intervalMs = deps.intervalMs;
    this.logger = deps.logger;
    this.lease = deps.lease;
  }
  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.round()
        .catch((err) => this.logger.warn({ err: errorForLog(err) }, 'runtime probe round failed'))
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }
  /** One round, if this replica holds the lease. Returns how many endpoints it probed (null: another replica's turn). */
  async round(): Promise<number | null> {
    // The lease outlives one interval a little, so the holder keeps it from round to round.
    if (!(await this.lease.acquire(RuntimeProber.LEASE, Math.ceil(this.intervalMs * 1.5)))) return null;
    return this.runtime.probeAll(this.logger);
  }
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    if (this.intervalMs > 0) await this.lease.release(RuntimeProber.LEASE).catch(() => undefined);
  }
}
