import type { Knex } from 'knex';
import { andThen, type Awaitable } from '../../awaitable.ts';
import { fromJson, toJson } from '../../store/db.ts';
import { statementsOn, type PreparedReads, type Values } from '../../store/prepared.ts';
import type { Machine, MachineIdentityProof } from './types.ts';

export interface MachineRow {
  id: string;
  display_name: string;
  status: string;
  owner_id: string;
  identity_ref: string;
  identity_proof: string | null;
  machine_type: string;
  runtime_profile: string;
  capabilities: string;
  labels: string;
  policy_ids: string;
  skill_keys: string;
  created_at: string;
  updated_at: string;
}

export function toMachine(r: MachineRow): Machine {
  return {
    id: r.id,
    displayName: r.display_name,
    status: r.status as Machine['status'],
    ownerId: r.owner_id,
    identityRef: r.identity_ref,
    identityProof: fromJson<MachineIdentityProof | null>(r.identity_proof, null),
    machineType: r.machine_type,
    runtimeProfile: r.runtime_profile,
    capabilities: fromJson(r.capabilities, []),
    labels: fromJson(r.labels, {}),
    policyIds: fromJson(r.policy_ids, []),
    skillKeys: fromJson(r.skill_keys, []),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function toRow(m: Machine): MachineRow {
  return {
    id: m.id,
    display_name: m.displayName,
    status: m.status,
    owner_id: m.ownerId,
    identity_ref: m.identityRef,
    identity_proof: m.identityProof ? toJson(m.identityProof) : null,
    machine_type: m.machineType,
    runtime_profile: m.runtimeProfile,
    capabilities: toJson(m.capabilities),
    labels: toJson(m.labels),
    policy_ids: toJson(m.policyIds),
    skill_keys: toJson(m.skillKeys),
    created_at: m.createdAt,
    updated_at: m.updatedAt,
  };
}

const COLUMNS =
  'id, display_name, status, owner_id, identity_ref, identity_proof, machine_type, runtime_profile, capabilities, labels, policy_ids, skill_keys, created_at, updated_at';
const MACHINE_BY_ID = `select ${COLUMNS} from machines where id = ? limit 1`;
const FIRST_MACHINES = `select ${COLUMNS} from machines order by created_at asc, id asc limit ?`;
const MACHINES_AFTER = `select ${COLUMNS} from machines where (created_at, id) > (?, ?) order by created_at asc, id asc limit ?`;

/** A machine from the values of COLUMNS, in order. */
const fromValues = (v: Values): Machine =>
  toMachine({
    id: v[0],
    display_name: v[1],
    status: v[2],
    owner_id: v[3],
    identity_ref: v[4],
    identity_proof: v[5],
    machine_type: v[6],
    runtime_profile: v[7],
    capabilities: v[8],
    labels: v[9],
    policy_ids: v[10],
    skill_keys: v[11],
    created_at: v[12],
    updated_at: v[13],
  } as MachineRow);

/** With `lock`, inside a transaction, the machine's row stays locked until the transaction ends. */
export async function findMachine(db: Knex | Knex.Transaction, id: string, lock = false): Promise<Machine | undefined> {
  const sql = await statementsOn(db);
  const v = await sql.one(`${MACHINE_BY_ID}${lock ? sql.forUpdate : ''}`, [id]);
  return v && fromValues(v);
}

/**
 * Locks the machine's row for the rest of the transaction: writes that create or change rows under a machine
 * (runtime endpoints, agent leases, orders) take it first, so they cannot interleave with archiving it or with
 * each other's insert of the same (machine, key).
 */
export async function lockMachine(trx: Knex.Transaction, id: string): Promise<void> {
  const sql = await statementsOn(trx);
  await sql.one(`select id from machines where id = ? limit 1${sql.forUpdate}`, [id]);
}

/** `identityKey`: the canonical identity (lower-cased DID) when known; unique across machines. */
export async function insertMachine(
  db: Knex | Knex.Transaction,
  m: Machine,
  identityKey: string | null,
): Promise<void> {
  await (await statementsOn(db)).insertDeferred('machines', { ...toRow(m), identity_key: identityKey });
}

/**
 * The id of a machine registered under any form of this identity: the same identityRef, the same canonical key, or
 * (for rows registered before keys were stored) the other identityRef form of the same MCR machine.
 */
export async function machineWithIdentity(
  db: Knex | Knex.Transaction,
  refs: string[],
  identityKey: string | null,
): Promise<string | undefined> {
  const where = [
    ...(refs.length ? [`identity_ref in (${refs.map(() => '?').join(', ')})`] : []),
    ...(identityKey ? ['identity_key = ?'] : []),
  ].join(' or ');
  if (!where) return undefined;
  // Only the id: every column of the select list comes back described with each answer, found or not.
  const v = await (
    await statementsOn(db)
  ).one(`select id from machines where ${where} limit 1`, [...refs, ...(identityKey ? [identityKey] : [])]);
  return v && (v[0] as string);
}

export async function updateMachineRow(db: Knex | Knex.Transaction, m: Machine): Promise<void> {
  const { id, created_at: _c, ...rest } = toRow(m);
  void _c;
  await db('machines').where({ id }).update(rest);
}

/** The machine, outside any transaction (a prepared read: store/prepared.ts; now on SQLite, see awaitable.ts). */
export function readMachine(reads: PreparedReads, id: string): Awaitable<Machine | undefined> {
  return andThen(reads.one(MACHINE_BY_ID, [id]), (row) => row && fromValues(row));
}

/** Up to `limit` machines after the keyset position, in (createdAt, id) order, outside any transaction. */
export async function readMachinePage(
  reads: PreparedReads,
  after: { t: string; i: string } | undefined,
  limit: number,
): Promise<Machine[]> {
  const rows = after
    ? await reads.all(MACHINES_AFTER, [after.t, after.i, limit])
    : await reads.all(FIRST_MACHINES, [limit]);
  return rows.map(fromValues);
}
