// Policies: cross-cutting machine rules (allowed/denied skills, budget cap, region rules, native only, handoff,
// required capabilities) applied by market search and task discovery for every machine that lists them.
import { withTransaction } from '../../store/tx.ts';
import type { PolicyRecord } from '../../../generated/types.gen.ts';
import { policiesRepo, policyFrom } from './repo.ts';
import type { Knex } from 'knex';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import { notFound, validationError } from '../../errors.ts';
import { keysetPage, type Page, type PageQuery } from '../../store/pages.ts';
import { recordAudit } from '../audit/service.ts';

// The record is the contract's (generated from openapi.yaml); it is also the rule search and discovery apply.
export type { PolicyRecord } from '../../../generated/types.gen.ts';
export type PolicyInput = Partial<Omit<PolicyRecord, 'id' | 'createdAt' | 'updatedAt'>>;

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
    const p = await policiesRepo.find(db, id);
    if (!p) throw notFound('Policy');
    return p;
  }

  get(id: string) {
    return this.find(this.db, id);
  }

  list(page: PageQuery): Promise<Page<PolicyRecord>> {
    return keysetPage(policiesRepo.all(this.db), page, policyFrom);
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
      await policiesRepo.insert(trx, p);
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
      await policiesRepo.update(trx, next);
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
      const users = await policiesRepo.machinesUsing(trx, id);
      if (users.length) {
        throw validationError(
          `The policy is used by ${users.length} machine(s); remove it from their policyIds first.`,
          { machineIds: users },
        );
      }
      await policiesRepo.delete(trx, id);
      await recordAudit(trx, { type: 'policy.deleted', resourceType: 'policy', resourceId: id, at: now });
    });
  }

  /** For machines.policyIds: every id must name an existing policy. */
  async assertExist(trx: Knex | Knex.Transaction, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    // Locked, so a concurrent delete of one of them waits for the machine write that now uses it (and then refuses).
    const found = new Set(await policiesRepo.lockExisting(trx, ids));
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
    return policiesRepo.many(this.db, policyIds);
  }
}
