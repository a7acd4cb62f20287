// Machine-aware market search. Preconditions: an active, bonded machine with a verified identity and an active
// pairing presenting its token. Ranks the catalogue with the pairing's delegation policy and the machine's
// policies applied, persists the search and its quotes (with an expiry) for the order step, and never stores
// or logs providerCredentials.
import type {
  MarketQuote,
  MarketSearch as MarketSearchRecord,
  MarketSearchRequest,
} from '../../../generated/types.gen.ts';
import { searchesRepo } from './repo.ts';
import { withTransaction } from '../../store/tx.ts';
import type { Knex } from 'knex';
import type { Config } from '../../config.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import { ApiError } from '../../errors.ts';
import { recordAudit } from '../audit/service.ts';
import type { Catalog, CatalogService } from '../catalog/catalog.ts';
import type { MachinesService } from '../machines/service.ts';
import type { Caller } from '../../auth/caller.ts';
import { spentToday } from '../orders/repo.ts';
import type { PairingsService } from '../pairings/service.ts';
import { policyDenial } from '../pairings/policy.ts';
import { rankServices, type MachinePolicyRule } from './ranking.ts';

// Quotes, searches and search requests are the contract's own types (generated from openapi.yaml).
export type { MarketQuote, MarketSearch as MarketSearchRecord } from '../../../generated/types.gen.ts';
export type SearchInput = MarketSearchRequest;

/** What the orchestration group tells the market about a machine. */
export interface MachineContext {
  policies(policyIds: string[]): Promise<MachinePolicyRule[]>;
  activeRuntimeProviders(machineId: string): Promise<Set<string>>;
}

/** Keeps the shape (which providers, which fields) and drops every value. */
export function redactCredentials(
  creds: SearchInput['providerCredentials'],
): Record<string, Record<string, string>> | undefined {
  if (!creds) return undefined;
  return Object.fromEntries(
    Object.entries(creds).map(([p, fields]) => [
      p,
      Object.fromEntries(Object.keys(fields ?? {}).map((k) => [k, '[REDACTED]'])),
    ]),
  );
}

export function toQuote(
  s: CatalogService,
  score: number,
  reasons: string[],
  operation: string | undefined,
  runtime: boolean,
  expiresAt: string,
  now: number,
): MarketQuote {
  return {
    id: newId('mqt', now),
    serviceId: s.id,
    skillKey: s.skillKey,
    providerKey: s.providerKey,
    executionMode: s.executionMode,
    integrationStatus: s.integrationStatus,
    operation: operation ?? s.operations[0]!,
    score,
    reasons,
    pricing: {
      mode: s.pricing.mode,
      amount: s.pricing.amount ?? null,
      currency: s.pricing.currency ?? null,
      rate: s.pricing.rate ?? null,
      notes: s.pricing.notes,
    },
    payment: s.payment,
    runtimeEndpointAvailable: runtime,
    handoff: s.executionMode === 'external-handoff' ? (s.handoff ?? null) : null,
    expiresAt,
  };
}

export interface MarketSearchServiceDeps {
  db: Knex;
  config: Config;
  clock: Clock;
  catalog: Catalog;
  machines: MachinesService;
  pairings: PairingsService;
  context: MachineContext;
}

export class MarketSearchService {
  private readonly db: Knex;
  private readonly config: Config;
  private readonly clock: Clock;
  private readonly catalog: Catalog;
  private readonly machines: MachinesService;
  private readonly pairings: PairingsService;
  private readonly context: MachineContext;

  constructor(deps: MarketSearchServiceDeps) {
    this.db = deps.db;
    this.config = deps.config;
    this.clock = deps.clock;
    this.catalog = deps.catalog;
    this.machines = deps.machines;
    this.pairings = deps.pairings;
    this.context = deps.context;
  }

  async search(caller: Caller, input: SearchInput): Promise<MarketSearchRecord> {
    const principal = await this.pairings.authenticate(caller, {
      machineId: input.machineId,
      agentPairingId: input.agentPairingId,
    });
    const { machine } = await this.machines.requireActive(input.machineId, { bonded: true });
    const pairing = principal.pairing;
    const policy = pairing.delegationPolicy;
    if (input.skillKey) {
      const denial = policyDenial(policy, input.skillKey, '');
      if (denial && !denial.startsWith('service'))
        throw new ApiError('AGENT_POLICY_DENIED', `The pairing may not buy ${input.skillKey}: ${denial}.`);
    }
    const now = this.clock.now();
    const [machinePolicies, runtimeProviders, spentTodayMicros] = await Promise.all([
      this.context.policies(machine.policyIds),
      this.context.activeRuntimeProviders(machine.id),
      // The daily limit excludes too: the order step would refuse what today's spend leaves no room for.
      policy.dailySpendLimit !== null
        ? spentToday(this.db, pairing.id, now.toISOString().slice(0, 10))
        : Promise.resolve(undefined),
    ]);
    const result = rankServices(
      this.catalog.services,
      {
        serviceType: input.serviceType,
        skillKey: input.skillKey,
        operation: input.operation,
        requiredCapabilities: input.requiredCapabilities,
        region: input.region,
        budget: input.budget,
        nativeOnly: input.executionPreference?.nativeOnly ?? false,
        allowExternalHandoff: input.executionPreference?.allowExternalHandoff ?? true,
        delegationPolicy: policy,
        machinePolicies,
        spentTodayMicros,
        runtimeProviders,
        credentialProviders: new Set(Object.keys(input.providerCredentials ?? {})),
        machineSkillKeys: machine.skillKeys,
      },
      input.maxResults ?? 10,
    );
    const expiresAt = new Date(now.getTime() + this.config.marketQuoteTtlMs).toISOString();
    const quotes = result.ranked.map((r) =>
      toQuote(
        r.service,
        r.score,
        r.reasons,
        input.operation,
        runtimeProviders.has(r.service.providerKey),
        expiresAt,
        now.getTime(),
      ),
    );
    const { providerCredentials, ...rest } = input;
    const query = {
      ...rest,
      ...(providerCredentials ? { providerCredentials: redactCredentials(providerCredentials) } : {}),
    };
    const record: MarketSearchRecord = {
      id: newId('msr', now.getTime()),
      machineId: machine.id,
      agentPairingId: pairing.id,
      status: quotes.length ? 'matched' : 'no_match',
      query,
      quotes,
      excluded: result.excluded,
      expiresAt,
      createdAt: now.toISOString(),
    };
    await withTransaction(this.db, async (trx) => {
      await searchesRepo.insert(trx, record);
      await recordAudit(trx, {
        actor: `agent:${pairing.id}`,
        type: 'market.search.performed',
        resourceType: 'market-search',
        resourceId: record.id,
        payload: {
          machineId: machine.id,
          agentPairingId: pairing.id,
          status: record.status,
          quoteCount: quotes.length,
          excludedCount: result.excluded.length,
          serviceType: input.serviceType ?? null,
          skillKey: input.skillKey ?? null,
        },
        at: record.createdAt,
      });
    });
    return record;
  }

  find(db: Knex | Knex.Transaction, id: string): Promise<MarketSearchRecord | undefined> {
    return searchesRepo.find(db, id);
  }
}
