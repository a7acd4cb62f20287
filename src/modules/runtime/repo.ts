// The runtime tables (runtime_endpoints, machine_agents): rows, their mapping to the contract's views, and the
// queries. No rules here.
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { MachineAgentView, RuntimeEndpointView } from '../../../generated/types.gen.ts';
import { fromJson } from '../../store/db.ts';
import { forUpdate } from '../../store/tx.ts';

type Db = Knex | Knex.Transaction;
export type AuthType = RuntimeEndpointView['authType'];
export type NetworkScope = RuntimeEndpointView['networkScope'];
export type EndpointStatus = RuntimeEndpointView['status'];

/** The stored endpoint, token included: only for calling the runtime, never for a response. */
export type RuntimeEndpointSecret = Omit<RuntimeEndpointView, 'authToken'> & { authToken: string | null };

export interface EndpointRow {
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

export interface AgentRow {
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

export const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

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

export const agentView = (r: AgentRow): MachineAgentView => ({
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

export function publicView(e: RuntimeEndpointSecret): RuntimeEndpointView {
  const { authToken: _token, ...view } = e;
  return view;
}

export const runtimeRepo = {
  endpointsOf: (db: Db, machineId: string) => db('runtime_endpoints').where({ machine_id: machineId }).select('*'),
  async endpoint(db: Db, machineId: string, providerKey: string): Promise<EndpointRow | undefined> {
    return (await db('runtime_endpoints').where({ machine_id: machineId, provider_key: providerKey }).first()) as
      EndpointRow | undefined;
  },
  async allEndpoints(db: Db): Promise<EndpointRow[]> {
    return (await db('runtime_endpoints').select('*')) as EndpointRow[];
  },
  async saveEndpoint(db: Db, row: EndpointRow, existed: boolean): Promise<void> {
    if (existed) {
      const { id, created_at: _created, ...rest } = row;
      await db('runtime_endpoints').where({ id }).update(rest);
    } else {
      await db('runtime_endpoints').insert(row);
    }
  },
  async deleteEndpoint(db: Db, id: string): Promise<void> {
    await db('runtime_endpoints').where({ id }).delete();
  },
  /** Expires the leases of every endpoint an agent registered. */
  async expireAgentLeases(db: Db, agentId: string, at: string): Promise<void> {
    await db('runtime_endpoints')
      .where({ agent_id: agentId, source: 'agent' })
      .update({ status: 'unreachable', lease_expires_at: at, updated_at: at });
  },
  /** Records a probe verdict, only if the endpoint is still the one probed (a heartbeat or PUT meanwhile wins). */
  async recordProbe(db: Db, row: EndpointRow, healthy: boolean, at: string): Promise<void> {
    await db('runtime_endpoints')
      .where({ id: row.id, updated_at: row.updated_at })
      .update({
        status: healthy ? 'active' : 'unreachable',
        last_checked_at: at,
        ...(healthy ? { last_healthy_at: at } : {}),
      });
  },
  agentsOf: (db: Db, machineId: string) => db('machine_agents').where({ machine_id: machineId }).select('*'),
  async agent(db: Db, agentId: string): Promise<AgentRow | undefined> {
    return (await db('machine_agents').where({ id: agentId }).first()) as AgentRow | undefined;
  },
  /** Inside a transaction the row stays locked until it ends (store/tx.ts). */
  async lockedAgent(db: Db, agentId: string, machineId?: string): Promise<AgentRow | undefined> {
    return (await forUpdate(
      db('machine_agents')
        .where({ id: agentId, ...(machineId ? { machine_id: machineId } : {}) })
        .first(),
    )) as AgentRow | undefined;
  },
  async insertAgent(db: Db, row: AgentRow): Promise<void> {
    await db('machine_agents').insert(row);
  },
  async updateAgent(
    db: Db,
    agentId: string,
    change: Partial<Omit<AgentRow, 'id' | 'machine_id' | 'created_at'>>,
  ): Promise<void> {
    await db('machine_agents').where({ id: agentId }).update(change);
  },
};

/** Provider keys with an active runtime endpoint whose lease (if any) has not expired. Expired leases count as unreachable. */
export async function activeProviderKeys(db: Db, machineId: string, nowIso: string): Promise<Set<string>> {
  const rows = (await db('runtime_endpoints')
    .where({ machine_id: machineId, status: 'active' })
    .andWhere((w) => w.whereNull('lease_expires_at').orWhere('lease_expires_at', '>', nowIso))
    .select('provider_key')) as { provider_key: string }[];
  return new Set(rows.map((r) => r.provider_key));
}
