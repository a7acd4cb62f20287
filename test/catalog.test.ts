// The shipped catalogue, the loader's validation, and the discovery endpoints with filters and pagination.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  CatalogError,
  DEFAULT_CATALOG_DIR,
  completeService,
  loadCatalog,
  uniformService,
} from '../src/modules/catalog/catalog.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

const SERVICE_TYPES = [
  'oracle.price-feed',
  'compute.marketplace',
  'storage.object',
  'data.location',
  'network.partner-console',
  'identity.proof-of-person',
  'device.control',
  'machine.commerce',
];
const STATUSES = [
  'native',
  'credentials-required',
  'partner-required',
  'local-config-required',
  'setup-required',
  'docs-only',
];

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function copyCatalog(): string {
  const d = mkdtempSync(join(tmpdir(), 'peaqos-catalog-'));
  dirs.push(d);
  cpSync(DEFAULT_CATALOG_DIR, d, { recursive: true });
  return d;
}
function edit(dir: string, file: string, f: (doc: { items: Record<string, unknown>[] }) => void) {
  const doc = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  f(doc);
  writeFileSync(join(dir, file), JSON.stringify(doc));
}

describe('catalogue entries in one shape', () => {
  it('keeps every field and value, extra fields included, and lists the known fields in one order', () => {
    const items = JSON.parse(readFileSync(join(DEFAULT_CATALOG_DIR, 'services.json'), 'utf8')).items as Record<
      string,
      unknown
    >[];
    const orders = new Set<string>();
    for (const raw of items) {
      const complete = completeService({ ...raw, vendorNote: 'kept' });
      const uniform = uniformService(complete);
      expect(JSON.parse(JSON.stringify(uniform))).toEqual(JSON.parse(JSON.stringify(complete)));
      expect((uniform as unknown as Record<string, unknown>).vendorNote).toBe('kept');
      orders.add(Object.keys(uniformService(completeService(raw))).join(','));
    }
    expect(orders.size).toBe(1);
    expect(loadCatalog().services.every((s) => Object.keys(s).join(',') === [...orders][0])).toBe(true);
  });
});

describe('shipped catalogue', () => {
  const c = loadCatalog();
  it('is labelled as sample data and covers all eight service types and every integration status', () => {
    for (const f of ['skills.json', 'services.json', 'adapters.json'])
      expect(JSON.parse(readFileSync(join(DEFAULT_CATALOG_DIR, f), 'utf8')).sample).toBe(true);
    expect(new Set(c.skills.flatMap((s) => s.serviceTypes))).toEqual(new Set(SERVICE_TYPES));
    expect(new Set(c.services.map((s) => s.serviceType))).toEqual(new Set(SERVICE_TYPES));
    expect(new Set(c.services.map((s) => s.integrationStatus))).toEqual(new Set(STATUSES));
  });
  it('has a native QVAC runtime service, x402 handoff services and other rails, and adapters for every provider', () => {
    expect(c.service('svc_qvac_llm_local')).toMatchObject({ providerKey: 'qvac', executionMode: 'native' });
    const x402 = c.services.filter((s) => s.payment.defaultRail === 'x402');
    expect(x402.length).toBeGreaterThan(0);
    expect(x402.every((s) => s.executionMode === 'external-handoff' && s.handoff)).toBe(true);
    expect(new Set(c.services.map((s) => s.payment.defaultRail)).size).toBeGreaterThan(3);
    for (const s of c.services) {
      expect(c.adapter(s.providerKey), s.providerKey).toBeDefined();
      expect(s.consumption.serviceDetailPath).toBe(`/api/v1/market/services/${s.id}`);
      expect(s.endpoint).toEqual(s.endpoints[0] ?? null);
    }
  });
});

describe('catalogue loader', () => {
  it('names the file and the field of a malformed entry', () => {
    const d = copyCatalog();
    edit(d, 'services.json', (doc) => {
      (doc.items[2]!.pricing as Record<string, unknown>).mode = 'free';
    });
    expect(() => loadCatalog(d)).toThrow(CatalogError);
    expect(() => loadCatalog(d)).toThrow(
      /services\.json: items\[2\] \(svc_\w+\)\/pricing\/mode: must be equal to one of the allowed values/,
    );
  });
  it('refuses unknown skills, bad JSON, a missing file and duplicates', () => {
    const a = copyCatalog();
    edit(a, 'services.json', (doc) => {
      doc.items[0]!.skillKey = 'nope.skill';
    });
    expect(() => loadCatalog(a)).toThrow(/skillKey: names unknown skill nope\.skill/);
    const b = copyCatalog();
    writeFileSync(join(b, 'skills.json'), '{ not json');
    expect(() => loadCatalog(b)).toThrow(/skills\.json: \(file\): is not valid JSON/);
    const c = copyCatalog();
    rmSync(join(c, 'adapters.json'));
    expect(() => loadCatalog(c)).toThrow(/adapters\.json: \(file\): cannot be read/);
    const d = copyCatalog();
    edit(d, 'skills.json', (doc) => doc.items.push(doc.items[0]!));
    expect(() => loadCatalog(d)).toThrow(/duplicate id qvac\.llm/);
  });
  it('stops start-up when PEAQOS_CATALOG_DIR holds a bad catalogue', async () => {
    const d = copyCatalog();
    edit(d, 'adapters.json', (doc) => {
      delete doc.items[0]!.label;
    });
    await expect(startTestServer({ env: { PEAQOS_CATALOG_DIR: d } })).rejects.toThrow(
      /adapters\.json: items\[0\] \(agentic-market\): must have required property 'label'/,
    );
  });
});

describe('discovery endpoints', () => {
  let srv: TestServer | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  it('lists, filters, pages and gets skills, services and adapters', async () => {
    srv = await startTestServer();
    const skills = await srv.client.get('/api/v1/skills?serviceType=compute.marketplace');
    expect(skills.body.items.map((s: { key: string }) => s.key)).toEqual([
      'akash.compute-lease',
      'qvac.embeddings',
      'qvac.llm',
    ]);
    expect((await srv.client.get('/api/v1/skills/qvac.llm')).body.item.providerKey).toBe('qvac');
    expect((await srv.client.get('/api/v1/skills/nope')).status).toBe(404);

    const native = await srv.client.get('/api/v1/market/services?executionMode=native&providerKey=qvac');
    expect(native.body.items.map((s: { id: string }) => s.id)).toEqual([
      'svc_qvac_embeddings_local',
      'svc_qvac_llm_local',
    ]);
    const byStatus = await srv.client.get('/api/v1/market/services?integrationStatus=docs-only');
    expect(byStatus.body.items).toHaveLength(1);
    const byRegion = await srv.client.get('/api/v1/market/services?region=eu-central&skillKey=geodnet.positioning');
    expect(byRegion.body.items.map((s: { id: string }) => s.id)).toEqual(['svc_geodnet_rtk_x402']);
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await srv.client.get(`/api/v1/market/services?limit=5${cursor ? `&cursor=${cursor}` : ''}`);
      ids.push(...page.body.items.map((s: { id: string }) => s.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(ids).toEqual(srv.services.catalog.services.map((s) => s.id));
    expect((await srv.client.get('/api/v1/market/services/svc_qvac_llm_local')).body.item.kind).toBe('runtime');
    expect((await srv.client.get('/api/v1/market/services/nope')).status).toBe(404);
    expect((await srv.client.get('/api/v1/market/services?serviceType=teleportation')).status).toBe(400);

    const adapters = await srv.client.get('/api/v1/market/adapters?executionMode=native');
    expect(adapters.body.items.map((a: { providerKey: string }) => a.providerKey)).toEqual([
      'minio',
      'qvac',
      'ros2-bridge',
      'wdk',
    ]);
    const adapter = await srv.client.get('/api/v1/market/adapters/agentic-market');
    expect(adapter.body.item.credentials.map((c: { key: string }) => c.key)).toEqual(['walletAddress', 'apiKey']);
    expect((await srv.client.get('/api/v1/market/adapters/nope')).status).toBe(404);
  });

  it('serves a replacement catalogue from PEAQOS_CATALOG_DIR', async () => {
    const d = copyCatalog();
    edit(d, 'services.json', (doc) => {
      doc.items = doc.items.filter((s) => s.providerKey === 'qvac');
    });
    srv = await startTestServer({ env: { PEAQOS_CATALOG_DIR: d } });
    expect((await srv.client.get('/api/v1/market/services')).body.items).toHaveLength(2);
    const ready = await srv.client.get('/api/v1/readiness');
    expect(ready.body.checks.find((c: { name: string }) => c.name === 'catalog').detail).toMatch(/2 services/);
  });
});
