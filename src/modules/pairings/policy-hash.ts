import { createHash } from 'node:crypto';
import { canonicalJson, type DelegationPolicy } from './policy.ts';

/** sha256 of the canonical policy JSON: the session token's delegationPolicyHash. */
export function policyHash(p: DelegationPolicy): string {
  return createHash('sha256').update(canonicalJson(p)).digest('hex');
}
