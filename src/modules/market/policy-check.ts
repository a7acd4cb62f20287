// The one policy evaluation that market search and order creation share: every rule an order enforces excludes the
// service from search, with the same reason, so no quote is offered that the order step refuses. Pure functions:
// no HTTP, no database (the caller passes what the pairing has already spent today).
import type { PolicyRecord } from '../../../generated/types.gen.ts';
import type { CatalogService } from '../catalog/catalog-core.ts';
import { policyDenial, type DelegationPolicy } from '../pairings/policy.ts';
import { toMicros } from '../orders/amounts.ts';

/** A machine policy as rules read it: the contract's policy record without its timestamps. */
export type MachinePolicyRule = Omit<PolicyRecord, 'createdAt' | 'updatedAt'>;

export type RefusalCode =
  'AGENT_POLICY_DENIED' | 'AGENT_SPEND_LIMIT_EXCEEDED' | 'AGENT_DAILY_LIMIT_EXCEEDED' | 'VALIDATION_ERROR';

export interface Refusal {
  code: RefusalCode;
  reason: string;
}

export interface SpendContext {
  delegationPolicy?: DelegationPolicy | null;
  machinePolicies?: readonly MachinePolicyRule[];
  /** The budget of the order (or of the search the quote came from): the charge when there is no fixed price. */
  budget?: { amount?: number | null; currency?: string | null } | null;
  /** Micro-units the pairing has committed today (UTC); without it the daily limit is not checked. */
  spentTodayMicros?: number;
}

export const fixedPrice = (s: CatalogService): number | null =>
  s.pricing.mode === 'fixed' && typeof s.pricing.amount === 'number' ? s.pricing.amount : null;

/** What an order of `s` charges against the pairing's limits: the fixed price, else the budget; in which currency. */
export function chargeOf(s: CatalogService, ctx: SpendContext): { amount: number | null; currency: string | null } {
  const amount = fixedPrice(s) ?? ctx.budget?.amount ?? null;
  const currency =
    (s.pricing.currency ?? ctx.budget?.currency ?? ctx.delegationPolicy?.currency ?? null)?.toUpperCase() ?? null;
  return { amount, currency };
}

/** Whether a region passes a policy's region rules: listed regions are allowed, `!region` denied. */
export function regionAllowed(region: string, rules: string[]): boolean {
  if (rules.length === 0) return true;
  if (rules.includes(`!${region}`)) return false;
  const allows = rules.filter((r) => !r.startsWith('!'));
  if (allows.length === 0) return true;
  return region === 'local' || region === 'global' || allows.includes(region);
}

const sameCurrency = (a?: string | null, b?: string | null) => !a || !b || a.toUpperCase() === b.toUpperCase();
const NO_STRINGS: readonly string[] = [];

/**
 * Every reason the pairing's delegation policy or the machine's policies refuse buying `s`, or null when none does.
 * Allocates nothing for a service that passes: search runs this for every matching service in the catalogue.
 */
export function policyRefusals(s: CatalogService, ctx: SpendContext): Refusal[] | null {
  let out: Refusal[] | null = null;
  const refuse = (code: RefusalCode, reason: string) => (out ??= []).push({ code, reason });
  const native = s.executionMode === 'native';
  const price = fixedPrice(s);
  const policy = ctx.delegationPolicy;
  if (policy) {
    const denial = policyDenial(policy, s.skillKey, s.id);
    if (denial) refuse('AGENT_POLICY_DENIED', denial);
  }
  for (const p of ctx.machinePolicies ?? []) {
    const tag = `machine policy "${p.name}"`;
    if (p.deniedSkillKeys.includes(s.skillKey)) refuse('AGENT_POLICY_DENIED', `${tag} denies skill ${s.skillKey}`);
    if (p.allowedSkillKeys.length && !p.allowedSkillKeys.includes(s.skillKey))
      refuse('AGENT_POLICY_DENIED', `${tag} does not allow skill ${s.skillKey}`);
    if (p.nativeOnly && !native) refuse('AGENT_POLICY_DENIED', `${tag} allows native execution only`);
    if (!p.handoffAllowed && !native) refuse('AGENT_POLICY_DENIED', `${tag} does not allow external handoff`);
    const capsMissing = p.requiredCapabilities.length
      ? p.requiredCapabilities.filter((c) => !s.capabilities.includes(c))
      : NO_STRINGS;
    if (capsMissing.length) refuse('AGENT_POLICY_DENIED', `${tag} requires capabilities: ${capsMissing.join(', ')}`);
    if (!regionAllowed(s.region, p.regionRules))
      refuse('AGENT_POLICY_DENIED', `${tag} does not allow region ${s.region}`);
    if (p.budgetCap && price !== null) {
      if (!sameCurrency(p.budgetCap.currency, s.pricing.currency))
        refuse(
          'AGENT_POLICY_DENIED',
          `${tag} caps spend in ${p.budgetCap.currency}; the service is priced in ${s.pricing.currency}`,
        );
      else if (price > p.budgetCap.amount)
        refuse('AGENT_POLICY_DENIED', `${tag} caps spend at ${p.budgetCap.amount} ${p.budgetCap.currency}`);
    }
  }
  if (!policy) return out;
  const limited = policy.perTransactionLimit !== null || policy.dailySpendLimit !== null;
  if (!limited) return out;
  const { amount, currency } = chargeOf(s, ctx);
  if (amount === null) {
    refuse(
      'VALIDATION_ERROR',
      'the service has no fixed price and the pairing has spending limits: give budget.amount',
    );
    return out;
  }
  if (policy.currency && currency && policy.currency !== currency) {
    refuse(
      'AGENT_POLICY_DENIED',
      `the pairing may only spend in ${policy.currency}; this service is priced in ${currency}`,
    );
    return out;
  }
  if (policy.perTransactionLimit !== null && amount > policy.perTransactionLimit) {
    refuse(
      'AGENT_SPEND_LIMIT_EXCEEDED',
      `the amount ${amount} is over the pairing's per-transaction limit of ${policy.perTransactionLimit}`,
    );
  }
  if (policy.dailySpendLimit !== null && ctx.spentTodayMicros !== undefined) {
    const total = ctx.spentTodayMicros + (toMicros(amount) ?? 0);
    if (total > (toMicros(policy.dailySpendLimit) ?? 0)) {
      refuse(
        'AGENT_DAILY_LIMIT_EXCEEDED',
        `the amount ${amount} would take the pairing's spend today (UTC) to ${total / 1e6}, over its daily limit of ${policy.dailySpendLimit}`,
      );
    }
  }
  return out;
}
