import type { Knex } from 'knex';
import { statementsOn, type PreparedReads, type Values } from '../../store/prepared.ts';
import { fromJson, toJson } from '../../store/db.ts';
import type { DelegationPolicy } from './policy.ts';
import type { AgentPairing } from '../../../generated/types.gen.ts';

export type PairingVerification = NonNullable<AgentPairing['verification']>;

/** The stored pairing: the contract's pairing with its normalised policy, the policy hash and the token digest
 * (which never leave the server; the view drops them). */
export type PairingRecord = Omit<AgentPairing, 'hasAuthToken' | 'delegationPolicy' | 'description'> & {
  description: string | null;
  delegationPolicy: DelegationPolicy;
  policyHash: string;
  tokenHash: string | null;
};

interface Row {
  id: string;
  machine_id: string;
  status: string;
  agent_address: string;
  agent_did: string | null;
  agent_provider: string;
  agent_role: string;
  description: string | null;
  verification: string | null;
  delegation_policy: string;
  policy_hash: string;
  token_hash: string | null;
  token_last_four: string | null;
  session_id: string | null;
  session_token_id: string | null;
  session_issued_at: string | null;
  session_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export function fromRow(r: Row): PairingRecord {
  return {
    id: r.id,
    machineId: r.machine_id,
    status: r.status as PairingRecord['status'],
    agentAddress: r.agent_address,
    agentDid: r.agent_did,
    agentProvider: r.agent_provider,
    agentRole: r.agent_role,
    description: r.description,
    verification: fromJson(r.verification, null),
    delegationPolicy: fromJson(r.delegation_policy, {} as DelegationPolicy),
    policyHash: r.policy_hash,
    tokenHash: r.token_hash,
    tokenLastFour: r.token_last_four,
    sessionId: r.session_id,
    sessionTokenId: r.session_token_id,
    sessionIssuedAt: r.session_issued_at,
    sessionExpiresAt: r.session_expires_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toRow(p: PairingRecord): Row {
  return {
    id: p.id,
    machine_id: p.machineId,
    status: p.status,
    agent_address: p.agentAddress,
    agent_did: p.agentDid,
    agent_provider: p.agentProvider,
    agent_role: p.agentRole,
    description: p.description,
    verification: p.verification ? toJson(p.verification) : null,
    delegation_policy: toJson(p.delegationPolicy),
    policy_hash: p.policyHash,
    token_hash: p.tokenHash,
    token_last_four: p.tokenLastFour,
    session_id: p.sessionId,
    session_token_id: p.sessionTokenId,
    session_issued_at: p.sessionIssuedAt,
    session_expires_at: p.sessionExpiresAt,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
}

const COLUMNS =
  'id, machine_id, status, agent_address, agent_did, agent_provider, agent_role, description, verification, delegation_policy, policy_hash, token_hash, token_last_four, session_id, session_token_id, session_issued_at, session_expires_at, created_at, updated_at';
const PAIRING_BY_ID = `select ${COLUMNS} from agent_pairings where id = ? limit 1`;

/** A pairing from the values of COLUMNS, in order. */
const fromValues = (v: Values): PairingRecord =>
  fromRow({
    id: v[0],
    machine_id: v[1],
    status: v[2],
    agent_address: v[3],
    agent_did: v[4],
    agent_provider: v[5],
    agent_role: v[6],
    description: v[7],
    verification: v[8],
    delegation_policy: v[9],
    policy_hash: v[10],
    token_hash: v[11],
    token_last_four: v[12],
    session_id: v[13],
    session_token_id: v[14],
    session_issued_at: v[15],
    session_expires_at: v[16],
    created_at: v[17],
    updated_at: v[18],
  } as Row);

/** The pairing, outside any transaction (a prepared read: store/prepared.ts). */
export async function readPairing(reads: PreparedReads, id: string): Promise<PairingRecord | undefined> {
  const v = await reads.one(PAIRING_BY_ID, [id]);
  return v && fromValues(v);
}

/** With `lock`, inside a transaction, the pairing's row stays locked until the transaction ends (PostgreSQL). */
export async function findPairing(
  db: Knex | Knex.Transaction,
  id: string,
  lock = false,
): Promise<PairingRecord | undefined> {
  const sql = await statementsOn(db);
  const v = await sql.one(`${PAIRING_BY_ID}${lock ? sql.forUpdate : ''}`, [id]);
  return v && fromValues(v);
}

export async function insertPairing(db: Knex | Knex.Transaction, p: PairingRecord): Promise<void> {
  await db('agent_pairings').insert(toRow(p));
}

export async function savePairing(db: Knex | Knex.Transaction, p: PairingRecord): Promise<void> {
  const { id, created_at: _c, ...rest } = toRow(p);
  void _c;
  await db('agent_pairings').where({ id }).update(rest);
}

export function pairingsQuery(db: Knex, machineId: string, status?: string): Knex.QueryBuilder {
  const qb = db('agent_pairings').select('*').where({ machine_id: machineId });
  if (status) qb.where({ status });
  return qb;
}
