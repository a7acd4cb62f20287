// The skill registry, service catalogue and adapter setup catalogue: versioned JSON files loaded at start-up
// (catalog/ in the repo, or PEAQOS_CATALOG_DIR). Every entry is validated against openapi.yaml's schemas; a
// malformed file stops start-up with the file and the field named.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContractValidator, contractValidator } from '../../contract/validator.ts';

export const DEFAULT_CATALOG_DIR = fileURLToPath(new URL('../../../catalog', import.meta.url));

export type ServiceType =
  | 'oracle.price-feed'
  | 'compute.marketplace'
  | 'storage.object'
  | 'data.location'
  | 'network.partner-console'
  | 'identity.proof-of-person'
  | 'device.control'
  | 'machine.commerce';
export type ExecutionMode = 'native' | 'external-handoff';
export type IntegrationStatus = 'native' | 'credentials-required' | 'partner-required' | 'local-config-required' | 'setup-required' | 'docs-only';
export type RailType = 'not-required' | 'wallet' | 'x402' | 'xvv42' | 'vault-stripe' | 'wdk-usdt-transfer' | 'escrow' | 'offchain-record' | 'external' | 'onchain-escrow';

export interface SkillSummary {
  key: string;
  providerKey: string;
  label: string;
  description: string;
  serviceTypes: ServiceType[];
  operations: string[];
  executionMode: ExecutionMode;
  integrationStatus: IntegrationStatus;
}

export interface PaymentRecommendation {
  required: boolean;
  defaultRail: RailType;
  supportedRails: RailType[];
  network?: string | null;
  payeeAddress?: string | null;
  tokenAddress?: string | null;
  notes?: string[];
}

export interface ServiceEndpoint {
  label?: string | null;
  operation?: string | null;
  url?: string | null;
  method?: string | null;
  path?: string | null;
  providerName?: string | null;
  key?: string | null;
  protocols: string[];
  networks: string[];
}

export interface ExternalHandoff {
  label: string;
  url: string;
  notes: string[];
}

export interface CatalogService {
  id: string;
  skillKey: string;
  providerKey: string;
  companyName: string;
  serviceType: ServiceType;
  name: string;
  description: string;
  operations: string[];
  pricing: { mode: 'provider-defined' | 'fixed' | 'quote-required'; amount?: number | null; currency?: string | null; rate?: string | null; notes: string[] };
  payment: PaymentRecommendation;
  endpoints: ServiceEndpoint[];
  endpoint: ServiceEndpoint | null;
  consumption: { adapterSetupPath: string; serviceDetailPath: string; marketSearchPath: string; orderPath: string };
  executionMode: ExecutionMode;
  integrationStatus: IntegrationStatus;
  region: string;
  capabilities: string[];
  handoff?: ExternalHandoff | null;
  metadata: Record<string, unknown> & { runtime?: { method?: string; path?: string } };
  providerId: string;
  providerLabel: string;
  authType: string;
  accessMode: string;
  distribution: string;
  maturity: string;
  kind: string;
  freshnessSeconds: number;
  requiresHumanEnablement: boolean;
  referenceUrl?: string;
  artifactUrl?: string;
}

export interface MarketAdapter {
  providerKey: string;
  label: string;
  description: string;
  serviceTypes: ServiceType[];
  executionMode: ExecutionMode;
  integrationStatus: IntegrationStatus;
  credentials: Array<{ key: string; label: string; required: boolean; secret: boolean; description?: string }>;
  setupSteps: Array<{ title: string; detail: string }>;
  docsUrl: string | null;
}

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

export class Catalog {
  readonly skills: SkillSummary[];
  readonly services: CatalogService[];
  readonly adapters: MarketAdapter[];
  private readonly skillByKey: Map<string, SkillSummary>;
  private readonly serviceById: Map<string, CatalogService>;
  private readonly adapterByKey: Map<string, MarketAdapter>;

  constructor(skills: SkillSummary[], services: CatalogService[], adapters: MarketAdapter[], readonly source: string) {
    this.skills = [...skills].sort((a, b) => (a.key < b.key ? -1 : 1));
    this.services = [...services].sort((a, b) => (a.id < b.id ? -1 : 1));
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

function readItems(dir: string, name: string): unknown[] {
  const file = join(dir, name);
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch {
    throw new CatalogError(file, '(file)', 'cannot be read');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (err) {
    throw new CatalogError(file, '(file)', `is not valid JSON (${(err as Error).message})`);
  }
  const d = doc as { version?: unknown; items?: unknown };
  if (d.version !== 1) throw new CatalogError(file, 'version', 'must be 1');
  if (!Array.isArray(d.items)) throw new CatalogError(file, 'items', 'must be an array');
  return d.items;
}

function check(v: ContractValidator, schema: string, file: string, items: unknown[], idOf: (x: Record<string, unknown>) => unknown): void {
  const seen = new Set<unknown>();
  items.forEach((item, i) => {
    const r = v.validateSchema(schema, item);
    const id = item && typeof item === 'object' ? idOf(item as Record<string, unknown>) : undefined;
    if (!r.ok) throw new CatalogError(file, `items[${i}]${id ? ` (${String(id)})` : ''}${r.errors[0]!.split(' ')[0] === '(root)' ? '' : r.errors[0]!.split(' ')[0]}`, r.errors[0]!.split(' ').slice(1).join(' '));
    if (seen.has(id)) throw new CatalogError(file, `items[${i}]`, `duplicate id ${String(id)}`);
    seen.add(id);
  });
}

/** Fills the derived fields (consumption paths, legacy `endpoint`) the data files leave out. */
function completeService(raw: Record<string, unknown>): CatalogService {
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

export function loadCatalog(dir: string = DEFAULT_CATALOG_DIR, validator: ContractValidator = contractValidator()): Catalog {
  const skillItems = readItems(dir, 'skills.json');
  check(validator, 'SkillSummary', join(dir, 'skills.json'), skillItems, (x) => x.key);
  const serviceItems = readItems(dir, 'services.json').map((x) => (x && typeof x === 'object' ? completeService(x as Record<string, unknown>) : x));
  check(validator, 'CatalogService', join(dir, 'services.json'), serviceItems, (x) => x.id);
  const adapterItems = readItems(dir, 'adapters.json');
  check(validator, 'MarketAdapter', join(dir, 'adapters.json'), adapterItems, (x) => x.providerKey);

  const skills = skillItems as SkillSummary[];
  const services = serviceItems as CatalogService[];
  const keys = new Set(skills.map((s) => s.key));
  services.forEach((s, i) => {
    if (!keys.has(s.skillKey)) throw new CatalogError(join(dir, 'services.json'), `items[${i}] (${s.id})/skillKey`, `names unknown skill ${s.skillKey}`);
    if (!s.payment.supportedRails.includes(s.payment.defaultRail)) {
      throw new CatalogError(join(dir, 'services.json'), `items[${i}] (${s.id})/payment/defaultRail`, 'must be one of supportedRails');
    }
  });
  return new Catalog(skills, services, adapterItems as MarketAdapter[], dir);
}
