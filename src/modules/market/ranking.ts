// Ranking of catalogue services against a machine's context: a pure function, shared by market search and task
// discovery. Hard rules exclude a service (and say why); soft rules move its score. Scores are in [0, 1].
import type { CatalogService } from '../catalog/catalog-core.ts';
import type { DelegationPolicy } from '../pairings/policy.ts';
import { fixedPrice, policyRefusals, regionAllowed, type MachinePolicyRule } from './policy-check.ts';

export { regionAllowed, type MachinePolicyRule };

export interface RankingContext {
  serviceType?: string;
  skillKey?: string;
  operation?: string;
  requiredCapabilities?: string[];
  region?: string;
  budget?: { amount?: number; currency?: string };
  nativeOnly?: boolean;
  allowExternalHandoff?: boolean;
  delegationPolicy?: DelegationPolicy | null;
  machinePolicies?: MachinePolicyRule[];
  /** Micro-units the pairing has committed today: quotes that would pass the daily limit are excluded. */
  spentTodayMicros?: number;
  /** Provider keys with an active (and unexpired) runtime endpoint on the machine. */
  runtimeProviders?: Set<string>;
  /** Provider keys the caller supplied credentials for. */
  credentialProviders?: Set<string>;
  machineSkillKeys?: string[];
  preferredSkillKeys?: string[];
}

export interface RankedService {
  service: CatalogService;
  score: number;
  reasons: string[];
}

export interface Exclusion {
  serviceId: string;
  reasons: string[];
}

export interface RankingResult {
  ranked: RankedService[];
  excluded: Exclusion[];
}

const sameCurrency = (a?: string | null, b?: string | null) => !a || !b || a.toUpperCase() === b.toUpperCase();

/** True when `s` matches what was asked for (type, skill, operation); non-matching services are not "excluded". */
function matchesQuery(s: CatalogService, ctx: RankingContext): boolean {
  if (ctx.serviceType && s.serviceType !== ctx.serviceType) return false;
  if (ctx.skillKey && s.skillKey !== ctx.skillKey) return false;
  if (ctx.operation && !s.operations.includes(ctx.operation)) return false;
  return true;
}

const NO_STRINGS: readonly string[] = [];

/** Why the rules exclude `s`, or null when it passes. Allocates nothing for a service that passes: a search runs
 * this for every matching service in the catalogue. */
function hardRules(s: CatalogService, ctx: RankingContext): string[] | null {
  let why: string[] | null = null;
  const native = s.executionMode === 'native';
  if (s.integrationStatus === 'docs-only') (why ??= []).push('docs-only: there is no executable integration');
  if (ctx.nativeOnly && !native) (why ??= []).push('native execution was required');
  if (ctx.allowExternalHandoff === false && !native) (why ??= []).push('external handoff is not allowed');
  const missing = ctx.requiredCapabilities?.length
    ? ctx.requiredCapabilities.filter((c) => !s.capabilities.includes(c))
    : NO_STRINGS;
  if (missing.length) (why ??= []).push(`missing required capabilities: ${missing.join(', ')}`);
  const price = fixedPrice(s);
  if (
    price !== null &&
    ctx.budget?.amount !== undefined &&
    sameCurrency(ctx.budget.currency, s.pricing.currency) &&
    price > ctx.budget.amount
  ) {
    (why ??= []).push(
      `price ${price} ${s.pricing.currency ?? ''} is over the budget of ${ctx.budget.amount}`.replace('  ', ' '),
    );
  }
  // What the order step would refuse (delegation policy, spend limits, machine policies) excludes here too.
  const refused = policyRefusals(s, ctx);
  if (refused) for (const r of refused) (why ??= []).push(r.reason);
  return why;
}

/**
 * The service's score; with `reasons`, also why. Ranking scores every matching service but explains only the ones
 * it returns, so a large catalogue does not build thousands of reason strings per search.
 */
function score(s: CatalogService, ctx: RankingContext, reasons?: string[]): number {
  let v = 0.5;
  const hasRuntime = ctx.runtimeProviders?.has(s.providerKey) ?? false;
  if (s.executionMode === 'native') {
    if (hasRuntime) {
      v += 0.3;
      reasons?.push('native execution on an active runtime endpoint');
    } else {
      v += 0.1;
      reasons?.push('native, but this machine has no active runtime endpoint for it');
    }
  } else {
    reasons?.push('external handoff to the provider');
  }
  switch (s.integrationStatus) {
    case 'native':
      v += 0.1;
      reasons?.push('integrated natively');
      break;
    case 'credentials-required':
      if (ctx.credentialProviders?.has(s.providerKey)) {
        v += 0.05;
        reasons?.push('provider credentials supplied');
      } else {
        v -= 0.1;
        reasons?.push('needs provider credentials');
      }
      break;
    case 'partner-required':
      v -= 0.15;
      reasons?.push('needs a partner agreement');
      break;
    case 'setup-required':
      v -= 0.1;
      reasons?.push('needs provider set-up');
      break;
    case 'local-config-required':
      if (!hasRuntime) {
        v -= 0.1;
        reasons?.push('needs local configuration');
      }
      break;
    default:
      break;
  }
  if (ctx.region) {
    if (s.region === ctx.region) {
      v += 0.05;
      reasons?.push(`in region ${ctx.region}`);
    } else if (s.region !== 'global' && s.region !== 'local') {
      v -= 0.15;
      reasons?.push(`region mismatch: served from ${s.region}, asked for ${ctx.region}`);
    }
  }
  const price = fixedPrice(s);
  if (price !== null) {
    if (price === 0) {
      v += 0.05;
      reasons?.push('no provider charge');
    } else if (ctx.budget?.amount && sameCurrency(ctx.budget.currency, s.pricing.currency)) {
      v += 0.05 * (1 - price / ctx.budget.amount);
      reasons?.push(`within budget (${price} of ${ctx.budget.amount})`);
    } else if (ctx.budget?.amount !== undefined && !sameCurrency(ctx.budget.currency, s.pricing.currency)) {
      reasons?.push(`priced in ${s.pricing.currency}; the budget is in ${ctx.budget.currency}`);
    }
  } else {
    reasons?.push(s.pricing.mode === 'quote-required' ? 'price on request' : 'price set by the provider');
  }
  if (ctx.machineSkillKeys?.includes(s.skillKey)) {
    v += 0.05;
    reasons?.push('the machine lists this skill');
  }
  if (ctx.preferredSkillKeys?.includes(s.skillKey)) {
    v += 0.05;
    reasons?.push('a preferred skill');
  }
  return Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;
}

/**
 * Ranks the services that match the query and pass the hard rules, best first, and lists the matching ones the
 * rules excluded. With `limit`, only the best `limit` are returned (each with its reasons).
 */
export function rankServices(services: CatalogService[], ctx: RankingContext, limit?: number): RankingResult {
  const scored: { service: CatalogService; score: number; price: number; id: string }[] = [];
  const excluded: Exclusion[] = [];
  for (const s of services) {
    if (!matchesQuery(s, ctx)) continue;
    const why = hardRules(s, ctx);
    if (why) {
      excluded.push({ serviceId: s.id, reasons: why });
      continue;
    }
    scored.push({ service: s, score: score(s, ctx), price: fixedPrice(s) ?? Infinity, id: s.id });
  }
  // Ties: the cheaper fixed price first, then the service id, so equal scores always come out in the same order.
  // The sort keys are read once per service, not once per comparison: on a large catalogue the comparisons
  // outnumber the services by an order of magnitude.
  scored.sort((a, b) => b.score - a.score || a.price - b.price || (a.id < b.id ? -1 : 1));
  const best = limit === undefined ? scored : scored.slice(0, Math.max(0, limit));
  const ranked = best.map(({ service, score: value }) => {
    const reasons: string[] = [];
    score(service, ctx, reasons);
    return { service, score: value, reasons };
  });
  return { ranked, excluded };
}
