// The catalogue's types, the Catalog index and the derived fields: no file access, so the browser mock uses it too.

// The catalogue's records are the contract's (generated/ from openapi.yaml); the catalogue files are validated
// against the same schemas when they are loaded (catalog.ts).
export type {
  ServiceType,
  ExecutionMode,
  IntegrationStatus,
  MarketPaymentRailType as RailType,
  SkillSummary,
  MarketPaymentRailRecommendation as PaymentRecommendation,
  ServiceEndpoint,
  ExternalHandoff,
  CatalogService,
  MarketAdapter,
} from '../../../generated/types.gen.ts';
import type { CatalogService, MarketAdapter, SkillSummary } from '../../../generated/types.gen.ts';

export class CatalogError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    message: string,
  ) {
    super(`${file}: ${field}: ${message}`);
    this.name = 'CatalogError';
  }
}

/**
 * The same service with every field in one fixed order (absent optional ones as undefined, which JSON leaves out),
 * then any extra fields the file carries. Catalogue files list fields in whatever order their authors chose, so
 * parsed entries come in many object shapes, and ranking, which reads every service on every search, then reads
 * each field through V8's slowest (megamorphic) path: a 10,000-service search spent ~12 ms just reading fields.
 * Written as one literal on purpose: adding this many fields one by one to an empty object ends in dictionary mode.
 */
export function uniformService(s: CatalogService): CatalogService {
  const out: CatalogService = {
    id: s.id,
    skillKey: s.skillKey,
    providerKey: s.providerKey,
    companyName: s.companyName,
    serviceType: s.serviceType,
    name: s.name,
    description: s.description,
    operations: s.operations,
    pricing: s.pricing,
    payment: s.payment,
    endpoints: s.endpoints,
    endpoint: s.endpoint,
    consumption: s.consumption,
    executionMode: s.executionMode,
    integrationStatus: s.integrationStatus,
    region: s.region,
    capabilities: s.capabilities,
    handoff: s.handoff,
    metadata: s.metadata,
    providerId: s.providerId,
    providerLabel: s.providerLabel,
    authType: s.authType,
    accessMode: s.accessMode,
    distribution: s.distribution,
    maturity: s.maturity,
    kind: s.kind,
    freshnessSeconds: s.freshnessSeconds,
    requiresHumanEnablement: s.requiresHumanEnablement,
    referenceUrl: s.referenceUrl,
    artifactUrl: s.artifactUrl,
  };
  const extras = Object.keys(s).filter((k) => !(k in out));
  if (extras.length)
    return Object.assign(out, Object.fromEntries(extras.map((k) => [k, (s as unknown as Record<string, unknown>)[k]])));
  return out;
}

export class Catalog {
  readonly skills: SkillSummary[];
  readonly services: CatalogService[];
  readonly adapters: MarketAdapter[];
  private readonly skillByKey: Map<string, SkillSummary>;
  private readonly serviceById: Map<string, CatalogService>;
  private readonly adapterByKey: Map<string, MarketAdapter>;

  constructor(
    skills: SkillSummary[],
    services: CatalogService[],
    adapters: MarketAdapter[],
    readonly source: string,
  ) {
    this.skills = [...skills].sort((a, b) => (a.key < b.key ? -1 : 1));
    this.services = services.map(uniformService).sort((a, b) => (a.id < b.id ? -1 : 1));
    this.adapters = [...adapters].sort((a, b) => (a.providerKey < b.providerKey ? -1 : 1));
    this.skillByKey = new Map(this.skills.map((s) => [s.key, s]));
    this.serviceById = new Map(this.services.map((s) => [s.id, s]));
    this.adapterByKey = new Map(this.adapters.map((a) => [a.providerKey, a]));
  }

  skill(key: string) {
    return this.skillByKey.get(key);
  }
  service(id: string) {
    return this.serviceById.get(id);
  }
  adapter(providerKey: string) {
    return this.adapterByKey.get(providerKey);
  }
}

/** Fills the derived fields (consumption paths, legacy `endpoint`) the data files leave out. */
export function completeService(raw: Record<string, unknown>): CatalogService {
  const s = raw as unknown as CatalogService;
  return {
    ...s,
    endpoint: s.endpoints?.[0] ?? null,
    consumption: {
      adapterSetupPath: `/api/v1/market/adapters/${encodeURIComponent(s.providerKey)}`,
      serviceDetailPath: `/api/v1/market/services/${encodeURIComponent(s.id)}`,
      marketSearchPath: '/api/v1/market/search',
      orderPath: '/api/v1/market/orders',
    },
    handoff: s.handoff ?? null,
  };
}
