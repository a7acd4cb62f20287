// Market search: ranked quotes under the pairing's delegation policy and the machine's policies.
import { rankServices } from '../../../src/modules/market/ranking.ts';
import type { DelegationPolicy } from '../../../src/modules/pairings/policy.ts';
import { clockMs, mockId, now } from '../state.ts';
import {
  type Operation,
  created,
  audit,
  activeMachine,
  spentToday,
  pairingFor,
  policiesOf,
  runtimeProviders,
  type OpsContext,
} from './common.ts';

export function marketOperations(ctx: OpsContext): Record<string, Operation> {
  const { catalog } = ctx;
  return {
    searchMarket: (state, req) => {
      const p = pairingFor(state, req.headers, req.body.machineId);
      const m = activeMachine(state, req.body.machineId);
      const b = req.body;
      const spentTodayMicros = spentToday(state, p.id);
      const result = rankServices(
        catalog.services,
        {
          serviceType: b.serviceType,
          skillKey: b.skillKey,
          operation: b.operation,
          requiredCapabilities: b.requiredCapabilities,
          region: b.region,
          budget: b.budget,
          nativeOnly: b.executionPreference?.nativeOnly ?? false,
          allowExternalHandoff: b.executionPreference?.allowExternalHandoff ?? true,
          delegationPolicy: p.delegationPolicy as DelegationPolicy,
          machinePolicies: policiesOf(state, m),
          spentTodayMicros,
          runtimeProviders: runtimeProviders(state, m.id),
          credentialProviders: new Set(Object.keys(b.providerCredentials ?? {})),
          machineSkillKeys: m.skillKeys,
        },
        b.maxResults ?? 10,
      );
      const at = now(state);
      const expiresAt = new Date(clockMs(state) + 600_000).toISOString();
      const quotes = result.ranked.map((x) => ({
        id: mockId(state, 'mqt'),
        serviceId: x.service.id,
        skillKey: x.service.skillKey,
        providerKey: x.service.providerKey,
        executionMode: x.service.executionMode,
        integrationStatus: x.service.integrationStatus,
        operation: b.operation ?? x.service.operations[0]!,
        score: x.score,
        reasons: x.reasons,
        pricing: {
          mode: x.service.pricing.mode,
          amount: x.service.pricing.amount ?? null,
          currency: x.service.pricing.currency ?? null,
          rate: x.service.pricing.rate ?? null,
          notes: x.service.pricing.notes,
        },
        payment: x.service.payment,
        runtimeEndpointAvailable: runtimeProviders(state, m.id).has(x.service.providerKey),
        handoff: x.service.executionMode === 'external-handoff' ? (x.service.handoff ?? null) : null,
        expiresAt,
      }));
      const { providerCredentials, ...query } = b;
      const redacted = providerCredentials
        ? Object.fromEntries(
            Object.entries(providerCredentials as Record<string, Record<string, string>>).map(([k, v]) => [
              k,
              Object.fromEntries(Object.keys(v).map((f) => [f, '[REDACTED]'])),
            ]),
          )
        : undefined;
      const item = {
        id: mockId(state, 'msr'),
        machineId: m.id,
        agentPairingId: p.id,
        status: quotes.length ? ('matched' as const) : ('no_match' as const),
        query: { ...query, ...(redacted ? { providerCredentials: redacted } : {}) },
        quotes,
        excluded: result.excluded,
        expiresAt,
        createdAt: at,
      };
      state.searches.set(item.id, item as never);
      audit(state, 'market.search.performed', 'market-search', item.id, { machineId: m.id });
      return created({ item });
    },
  };
}
