// The policies table: rows, their mapping to the contract's record, and the queries. No rules here.
import type { Knex } from 'knex';
import type { PolicyRecord } from '../../../generated/types.gen.ts';
import { fromJson, toJson } from '../../store/db.ts';
import { forUpdate } from '../../store/tx.ts';

type Db = Knex | Knex.Transaction;

export interface PolicyRow {
  id: string;
  name: string;
  allowed_skill_keys: string;
  denied_skill_keys: string;
  budget_cap: string | null;
  region_rules: string;
  native_only: boolean | number;
  handoff_allowed: boolean | number;
  required_capabilities: string;
  created_at: string;
  updated_at: string;
}

export const policyFrom = (r: PolicyRow): PolicyRecord => ({
  id: r.id,
  name: r.name,
  allowedSkillKeys: fromJson(r.allowed_skill_keys, []),
  deniedSkillKeys: fromJson(r.denied_skill_keys, []),
  budgetCap: fromJson(r.budget_cap, null),
  regionRules: fromJson(r.region_rules, []),
  nativeOnly: !!r.native_only,
  handoffAllowed: !!r.handoff_allowed,
  requiredCapabilities: fromJson(r.required_capabilities, []),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toRow = (p: PolicyRecord): PolicyRow => ({
  id: p.id,
  name: p.name,
  allowed_skill_keys: toJson(p.allowedSkillKeys),
  denied_skill_keys: toJson(p.deniedSkillKeys),
  budget_cap: p.budgetCap ? toJson(p.budgetCap) : null,
  region_rules: toJson(p.regionRules),
  native_only: p.nativeOnly,
  handoff_allowed: p.handoffAllowed,
  required_capabilities: toJson(p.requiredCapabilities),
  created_at: p.createdAt,
  updated_at: p.updatedAt,
});

export const policiesRepo = {
  /** Inside a transaction the row stays locked until it ends (store/tx.ts). */
  async find(db: Db, id: string): Promise<PolicyRecord | undefined> {
    const r = (await forUpdate(db('policies').where({ id }).first())) as PolicyRow | undefined;
    return r ? policyFrom(r) : undefined;
  },
  all: (db: Db) => db('policies').select('*'),
  async many(db: Db, ids: string[]): Promise<PolicyRecord[]> {
    return ((await db('policies').whereIn('id', ids).select('*')) as PolicyRow[]).map(policyFrom);
  },
  /** The ids among `ids` that exist, locked so a concurrent delete waits for the write that uses them. */
  async lockExisting(db: Db, ids: string[]): Promise<string[]> {
    return ((await forUpdate(db('policies').whereIn('id', ids).select('id'))) as { id: string }[]).map((r) => r.id);
  },
  async insert(db: Db, p: PolicyRecord): Promise<void> {
    await db('policies').insert(toRow(p));
  },
  async update(db: Db, p: PolicyRecord): Promise<void> {
    const { id, created_at: _created, ...rest } = toRow(p);
    await db('policies').where({ id }).update(rest);
  },
  async delete(db: Db, id: string): Promise<void> {
    await db('policies').where({ id }).delete();
  },
  /** The machines whose policyIds name the policy. */
  async machinesUsing(db: Db, policyId: string): Promise<string[]> {
    const rows = (await db('machines').select('id', 'policy_ids')) as { id: string; policy_ids: string }[];
    return rows.filter((m) => fromJson<string[]>(m.policy_ids, []).includes(policyId)).map((m) => m.id);
  },
};
