// Policies: cross-cutting machine rules (allowed/denied skills, budget cap, region rules, native only, handoff,
// required capabilities) applied by market search and task discovery for every machine that lists them.
import { forUpdate, withTransaction } from '../../store/tx.ts';
import type { Knex } from 'knex';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import { fromJson, toJson } from '../../store/db.ts';
import { notFound, validationError } from '../../errors.ts';
import { keysetPage, type Page, type PageQuery } from '../../store/pages.ts';
import { recordAudit } from '../audit/service.ts';
import type { MachinePolicyRule } from '../market/ranking.ts';

export interface PolicyRecord extends MachinePolicyRule {
  createdAt: string;
  updatedAt: string;
}

export type PolicyInput = Partial<Omit<MachinePolicyRule, 'id'>>;

interface Row {
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

const fromRow = (r: Row): PolicyRecord => ({
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

const toRow = (p: PolicyRecord): Row => ({
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

const uniq = (xs: string[] | undefined, fallback: string[]) => (xs ? [...new Set(xs)] : fallback);

export interface PoliciesServiceDeps {
  db: Knex;
  clock: Clock;
}

export class PoliciesService {
  private readonly db: Knex;
  private readonly clock: Clock;

  constructor(deps: PoliciesServiceDeps) {
    this.db = deps.db;
    this.clock = deps.clock;
  }

  /** Inside a transaction the row stays locked until it ends (store/tx.ts). */
  private async find(db: Knex | Knex.Transaction, id: string): Promise<PolicyRecord> {
    const r = (await forUpdate(db('policies').where({ id }).first())) as Row | undefined;
    if (!r) throw notFound('Policy');
    return fromRow(r);
  }

  get(id: string) {
    return this.find(this.db, id);
  }

  list(page: PageQuery): Promise<Page<PolicyRecord>> {
    return keysetPage(this.db('policies').select('*'), page, (r: Row) => fromRow(r));
  }

  async create(input: PolicyInput & { name: string }): Promise<PolicyRecord> {
    const now = this.clock.now().toISOString();
    const p: PolicyRecord = {
      id: newId('pol', Date.parse(now)),
      name: input.name,
      allowedSkillKeys: uniq(input.allowedSkillKeys, []),
      deniedSkillKeys: uniq(input.deniedSkillKeys, []),
      budgetCap: input.budgetCap
        ? { amount: input.budgetCap.amount, currency: input.budgetCap.currency.toUpperCase() }
        : null,
      regionRules: uniq(input.regionRules, []),
      nativeOnly: input.nativeOnly ?? false,
      handoffAllowed: input.handoffAllowed ?? true,
      requiredCapabilities: uniq(input.requiredCapabilities, []),
      createdAt: now,
      updatedAt: now,
    };
    await withTransaction(this.db, async (trx) => {
      await trx('policies').insert(toRow(p));
      await recordAudit(trx, {
        type: 'policy.created',
        resourceType: 'policy',
        resourceId: p.id,
        payload: { ...p },
        at: now,
      });
    });
    return p;
  }

  async update(id: string, input: PolicyInput): Promise<PolicyRecord> {
    const now = this.clock.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const cur = await this.find(trx, id);
      const next: PolicyRecord = {
        ...cur,
        name: input.name ?? cur.name,
        allowedSkillKeys: uniq(input.allowedSkillKeys, cur.allowedSkillKeys),
        deniedSkillKeys: uniq(input.deniedSkillKeys, cur.deniedSkillKeys),
        budgetCap:
          input.budgetCap === undefined
            ? cur.budgetCap
            : input.budgetCap && { amount: input.budgetCap.amount, currency: input.budgetCap.currency.toUpperCase() },
        regionRules: uniq(input.regionRules, cur.regionRules),
        nativeOnly: input.nativeOnly ?? cur.nativeOnly,
        handoffAllowed: input.handoffAllowed ?? cur.handoffAllowed,
        requiredCapabilities: uniq(input.requiredCapabilities, cur.requiredCapabilities),
        updatedAt: now,
      };
      const { id: _id, created_at: _c, ...rest } = toRow(next);
      void _id;
      void _c;
      await trx('policies').where({ id }).update(rest);
      await recordAudit(trx, {
        type: 'policy.updated',
        resourceType: 'policy',
        resourceId: id,
        payload: { changed: Object.keys(input), policy: next },
        at: now,
      });
      return next;
    });
  }

  async delete(id: string): Promise<void> {
    const now = this.clock.now().toISOString();
    await withTransaction(this.db, async (trx) => {
      await this.find(trx, id);
      const users = (await trx('machines').select('id', 'policy_ids')).filter((m: { policy_ids: string }) =>
        fromJson<string[]>(m.policy_ids, []).includes(id),
      );
      if (users.length) {
        throw validationError(
          `The policy is used by ${users.length} machine(s); remove it from their policyIds first.`,
          { machineIds: users.map((m: { id: string }) => m.id) },
        );
      }
      await trx('policies').where({ id }).delete();
      await recordAudit(trx, { type: 'policy.deleted', resourceType: 'policy', resourceId: id, at: now });
    });
  }

  /** For machines.policyIds: every id must name an existing policy. */
  async assertExist(trx: Knex | Knex.Transaction, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    // Locked, so a concurrent delete of one of them waits for the machine write that now uses it (and then refuses).
    const found = new Set(
      ((await forUpdate(trx('policies').whereIn('id', ids).select('id'))) as { id: string }[]).map((r) => r.id),
    );
    const missing = ids.filter((i) => !found.has(i));
    if (missing.length) {
      throw validationError(
        `Unknown policy id(s): ${missing.join(', ')}.`,
        missing.map((m) => ({ location: 'body', path: '/policyIds', rule: 'exists', message: `no policy ${m}` })),
      );
    }
  }

  async forMachine(policyIds: string[]): Promise<PolicyRecord[]> {
    if (policyIds.length === 0) return [];
    return ((await this.db('policies').whereIn('id', policyIds).select('*')) as Row[]).map(fromRow);
  }
}
