// Ranking is a pure function: tested here without HTTP or a database.
import { describe, expect, it } from 'vitest';
import { rankServices, regionAllowed, type MachinePolicyRule } from '../src/modules/market/ranking.ts';
import { loadCatalog, type CatalogService } from '../src/modules/catalog/catalog.ts';
import { normalisePolicy } from '../src/modules/pairings/policy.ts';

const catalog = loadCatalog();
const base = catalog.service('svc_qvac_llm_local')!;
const svc = (over: Partial<CatalogService>): CatalogService => ({
  ...base,
  ...over,
  pricing: { ...base.pricing, ...(over.pricing ?? {}) },
});
const policy = (over: Partial<MachinePolicyRule>): MachinePolicyRule => ({
  id: 'p',
  name: 'p',
  allowedSkillKeys: [],
  deniedSkillKeys: [],
  budgetCap: null,
  regionRules: [],
  nativeOnly: false,
  handoffAllowed: true,
  requiredCapabilities: [],
  ...over,
});

describe('rankServices', () => {
  it('with a limit returns exactly the head of the full ranking, reasons included, and the same exclusions', () => {
    const services = catalog.services.flatMap((s, i) => [
      s,
      svc({ ...s, id: `${s.id}_copy${i}`, region: i % 2 ? 'eu-central' : 'us-east' }),
    ]);
    const ctx = {
      region: 'eu-central',
      budget: { amount: 0.5, currency: 'USDT' },
      runtimeProviders: new Set(['qvac']),
    };
    const full = rankServices(services, ctx);
    expect(full.ranked.length).toBeGreaterThan(5);
    for (const limit of [0, 1, 3, full.ranked.length, full.ranked.length + 5]) {
      const head = rankServices(services, ctx, limit);
      expect(head.ranked).toEqual(full.ranked.slice(0, limit));
      expect(head.excluded).toEqual(full.excluded);
    }
  });

  it('ranks a native service with an active runtime endpoint above the same service without one', () => {
    const a = svc({ id: 'a', providerKey: 'qvac' });
    const b = svc({ id: 'b', providerKey: 'other' });
    const { ranked } = rankServices([b, a], { runtimeProviders: new Set(['qvac']) });
    expect(ranked.map((r) => r.service.id)).toEqual(['a', 'b']);
    expect(ranked[0]!.reasons).toContain('native execution on an active runtime endpoint');
    expect(ranked[1]!.reasons.join(' ')).toMatch(/no active runtime endpoint/);
    expect(ranked[0]!.score).toBeGreaterThan(ranked[1]!.score);
  });

  it('breaks ties by cheaper fixed price, then by service id, the same way every time', () => {
    const x = svc({ id: 'x', pricing: { mode: 'fixed', amount: 0, currency: 'USDT', rate: null, notes: [] } });
    const y = svc({ id: 'y', pricing: { mode: 'fixed', amount: 0, currency: 'USDT', rate: null, notes: [] } });
    const z = svc({ id: 'z', pricing: { mode: 'fixed', amount: 0, currency: 'USDT', rate: null, notes: [] } });
    for (const order of [
      [z, x, y],
      [y, z, x],
      [x, y, z],
    ]) {
      expect(rankServices(order, {}).ranked.map((r) => r.service.id)).toEqual(['x', 'y', 'z']);
    }
    const cheap = svc({
      id: 'k',
      integrationStatus: 'credentials-required',
      pricing: { mode: 'fixed', amount: 1, currency: 'USDT', rate: null, notes: [] },
    });
    const dear = svc({
      id: 'j',
      integrationStatus: 'credentials-required',
      pricing: { mode: 'fixed', amount: 1.0000001, currency: 'USDT', rate: null, notes: [] },
    });
    const r = rankServices([dear, cheap], {});
    expect(r.ranked[0]!.score).toBe(r.ranked[1]!.score);
    expect(r.ranked.map((q) => q.service.id)).toEqual(['k', 'j']);
  });

  it('excludes budget overruns and says why; prices within budget score by headroom', () => {
    const dear = svc({ id: 'dear', pricing: { mode: 'fixed', amount: 5, currency: 'USDT', rate: null, notes: [] } });
    const fair = svc({ id: 'fair', pricing: { mode: 'fixed', amount: 1, currency: 'USDT', rate: null, notes: [] } });
    const { ranked, excluded } = rankServices([dear, fair], { budget: { amount: 2, currency: 'USDT' } });
    expect(ranked.map((r) => r.service.id)).toEqual(['fair']);
    expect(excluded).toEqual([{ serviceId: 'dear', reasons: [expect.stringMatching(/over the budget of 2/)] }]);
    // A budget in another currency is not compared.
    expect(rankServices([dear], { budget: { amount: 2, currency: 'EUR' } }).ranked).toHaveLength(1);
  });

  it('penalises a region mismatch but keeps local and global services neutral', () => {
    const eu = svc({ id: 'eu', region: 'eu-central' });
    const us = svc({ id: 'us', region: 'us-east' });
    const global = svc({ id: 'gl', region: 'global' });
    const { ranked } = rankServices([us, eu, global], { region: 'eu-central' });
    expect(ranked.map((r) => r.service.id)).toEqual(['eu', 'gl', 'us']);
    expect(ranked.find((r) => r.service.id === 'us')!.reasons.join(' ')).toMatch(/region mismatch/);
  });

  it('excludes services missing required capabilities', () => {
    const withCap = svc({ id: 'w', capabilities: ['llm.inference', 'vision'] });
    const without = svc({ id: 'wo', capabilities: ['llm.inference'] });
    const { ranked, excluded } = rankServices([withCap, without], { requiredCapabilities: ['vision'] });
    expect(ranked.map((r) => r.service.id)).toEqual(['w']);
    expect(excluded[0]!.reasons[0]).toMatch(/missing required capabilities: vision/);
  });

  it('applies the delegation policy and the machine policies, and reports every exclusion', () => {
    const services = catalog.services;
    const delegation = normalisePolicy({
      deniedServiceIds: ['svc_geodnet_rtk_us'],
      perTransactionLimit: 0.005,
      currency: 'USDC',
    });
    const machinePolicy = policy({
      name: 'eu only',
      regionRules: ['eu-central'],
      deniedSkillKeys: ['akash.compute-lease'],
    });
    const { ranked, excluded } = rankServices(services, {
      delegationPolicy: delegation,
      machinePolicies: [machinePolicy],
    });
    const why = Object.fromEntries(excluded.map((e) => [e.serviceId, e.reasons.join('; ')]));
    expect(why.svc_geodnet_rtk_us).toMatch(/denied by the pairing's delegation policy/);
    expect(why.svc_geodnet_rtk_x402).toMatch(/per-transaction limit/);
    expect(why.svc_akash_gpu_lease).toMatch(/machine policy "eu only" denies skill/);
    expect(why.svc_peaq_partner_console).toMatch(/docs-only/);
    expect(ranked.every((r) => !why[r.service.id])).toBe(true);
    const native = rankServices(services, { machinePolicies: [policy({ name: 'native', nativeOnly: true })] });
    expect(native.ranked.every((r) => r.service.executionMode === 'native')).toBe(true);
    const capped = rankServices(services, {
      machinePolicies: [policy({ name: 'cap', budgetCap: { amount: 0.01, currency: 'USDT' } })],
    });
    expect(capped.excluded.find((e) => e.serviceId === 'svc_filecoin_pin_paysh')!.reasons.join()).toMatch(
      /caps spend at 0.01 USDT/,
    );
  });

  it('keeps to the query: other service types are neither ranked nor reported as excluded', () => {
    const { ranked, excluded } = rankServices(catalog.services, {
      serviceType: 'data.location',
      operation: 'position.correct',
    });
    expect(ranked.map((r) => r.service.serviceType)).toEqual(['data.location', 'data.location']);
    expect(excluded).toEqual([]);
  });

  it('reads region rules as allow lists with !denials', () => {
    expect(regionAllowed('eu-central', [])).toBe(true);
    expect(regionAllowed('eu-central', ['eu-central'])).toBe(true);
    expect(regionAllowed('us-east', ['eu-central'])).toBe(false);
    expect(regionAllowed('global', ['eu-central'])).toBe(true);
    expect(regionAllowed('us-east', ['!us-east'])).toBe(false);
    expect(regionAllowed('eu-central', ['!us-east'])).toBe(true);
  });
});
