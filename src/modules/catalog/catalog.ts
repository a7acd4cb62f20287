// The skill registry, service catalogue and adapter setup catalogue: versioned JSON files loaded at start-up
// (catalog/ in the repo, or PEAQOS_CATALOG_DIR). Every entry is validated against openapi.yaml's schemas; a
// malformed file stops start-up with the file and the field named.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContractValidator } from '../../contract/validator.ts';
import { contractValidator } from '../../contract/spec.ts';
import { packageFile } from '../../paths.ts';

export const DEFAULT_CATALOG_DIR = packageFile('catalog');

export * from './catalog-core.ts';
import {
  Catalog,
  CatalogError,
  completeService,
  type CatalogService,
  type MarketAdapter,
  type SkillSummary,
} from './catalog-core.ts';

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

function check(
  v: ContractValidator,
  schema: string,
  file: string,
  items: unknown[],
  idOf: (x: Record<string, unknown>) => unknown,
): void {
  const seen = new Set<unknown>();
  items.forEach((item, i) => {
    const r = v.validateSchema(schema, item);
    const id = item && typeof item === 'object' ? idOf(item as Record<string, unknown>) : undefined;
    if (!r.ok)
      throw new CatalogError(
        file,
        `items[${i}]${id ? ` (${String(id)})` : ''}${r.errors[0]!.split(' ')[0] === '(root)' ? '' : r.errors[0]!.split(' ')[0]}`,
        r.errors[0]!.split(' ').slice(1).join(' '),
      );
    if (seen.has(id)) throw new CatalogError(file, `items[${i}]`, `duplicate id ${String(id)}`);
    seen.add(id);
  });
}

export function loadCatalog(
  dir: string = DEFAULT_CATALOG_DIR,
  validator: ContractValidator = contractValidator(),
): Catalog {
  const skillItems = readItems(dir, 'skills.json');
  check(validator, 'SkillSummary', join(dir, 'skills.json'), skillItems, (x) => x.key);
  const serviceItems = readItems(dir, 'services.json').map((x) =>
    x && typeof x === 'object' ? completeService(x as Record<string, unknown>) : x,
  );
  check(validator, 'CatalogService', join(dir, 'services.json'), serviceItems, (x) => x.id);
  const adapterItems = readItems(dir, 'adapters.json');
  check(validator, 'MarketAdapter', join(dir, 'adapters.json'), adapterItems, (x) => x.providerKey);

  const skills = skillItems as SkillSummary[];
  const services = serviceItems as CatalogService[];
  const keys = new Set(skills.map((s) => s.key));
  services.forEach((s, i) => {
    if (!keys.has(s.skillKey))
      throw new CatalogError(
        join(dir, 'services.json'),
        `items[${i}] (${s.id})/skillKey`,
        `names unknown skill ${s.skillKey}`,
      );
    if (!s.payment.supportedRails.includes(s.payment.defaultRail)) {
      throw new CatalogError(
        join(dir, 'services.json'),
        `items[${i}] (${s.id})/payment/defaultRail`,
        'must be one of supportedRails',
      );
    }
  });
  return new Catalog(skills, services, adapterItems as MarketAdapter[], dir);
}
