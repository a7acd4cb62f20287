// Delegation policy: normalisation, canonical hashing (the JWT's delegationPolicyHash) and the pure checks
// market calls apply.
import type {
  DelegationPolicy as ContractDelegationPolicy,
  DelegationPolicyInput,
} from '../../../generated/types.gen.ts';

/** The contract's delegation policy with every field present (limits and currency null when unset): the form that
 * is stored and hashed, so one policy always has one hash. */
export type DelegationPolicy = Required<ContractDelegationPolicy>;

export type { DelegationPolicyInput } from '../../../generated/types.gen.ts';

const uniq = (xs: string[] | undefined) => [...new Set(xs ?? [])].sort();

export function normalisePolicy(input: DelegationPolicyInput | undefined, base?: DelegationPolicy): DelegationPolicy {
  const b: DelegationPolicy = base ?? {
    allowedSkillKeys: [],
    deniedSkillKeys: [],
    allowedServiceIds: [],
    deniedServiceIds: [],
    perTransactionLimit: null,
    dailySpendLimit: null,
    currency: null,
  };
  const i = input ?? {};
  return {
    allowedSkillKeys: uniq(i.allowedSkillKeys ?? b.allowedSkillKeys),
    deniedSkillKeys: uniq(i.deniedSkillKeys ?? b.deniedSkillKeys),
    allowedServiceIds: uniq(i.allowedServiceIds ?? b.allowedServiceIds),
    deniedServiceIds: uniq(i.deniedServiceIds ?? b.deniedServiceIds),
    perTransactionLimit: i.perTransactionLimit !== undefined ? i.perTransactionLimit : b.perTransactionLimit,
    dailySpendLimit: i.dailySpendLimit !== undefined ? i.dailySpendLimit : b.dailySpendLimit,
    currency: i.currency !== undefined ? (i.currency === null ? null : i.currency.toUpperCase()) : b.currency,
  };
}

/** JSON with sorted keys at every level: the same policy always hashes the same. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** Why a skill/service pair is outside the policy's allow and deny lists, or null when it is allowed. */
export function policyDenial(p: DelegationPolicy, skillKey: string, serviceId: string): string | null {
  if (p.deniedSkillKeys.includes(skillKey)) return `skill ${skillKey} is denied by the pairing's delegation policy`;
  if (p.deniedServiceIds.includes(serviceId))
    return `service ${serviceId} is denied by the pairing's delegation policy`;
  if (p.allowedSkillKeys.length > 0 && !p.allowedSkillKeys.includes(skillKey))
    return `skill ${skillKey} is not in the pairing's allowed skills`;
  if (p.allowedServiceIds.length > 0 && !p.allowedServiceIds.includes(serviceId))
    return `service ${serviceId} is not in the pairing's allowed services`;
  return null;
}
