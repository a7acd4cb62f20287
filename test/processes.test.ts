// The orchestrator and the mock MCR as separate processes talking real HTTP: register and activate a machine
// with a signed proof, then watch MCR go down. The orchestrator runs as `npm start` runs it (its bin).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractClient } from './helpers/contract-client.ts';
import { machineBody, machineDid, machineProof, machineWallet } from './helpers/identity.ts';
import { startMockMcr, startOrchestrator, stopAll } from './helpers/processes.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'peaqos-proc-'));
let api: ContractClient;
let mcrUrl: string;

beforeAll(async () => {
  mcrUrl = (await startMockMcr()).url;
  const server = await startOrchestrator({
    PEAQOS_MCR_API_URL: mcrUrl,
    PEAQOS_MCR_CACHE_TTL_MS: '0',
    PEAQOS_DATABASE_URL: join(dataDir, 'orchestrator.sqlite'),
  });
  api = new ContractClient(server.url);
}, 40_000);

afterAll(async () => {
  await stopAll();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('separate processes over HTTP', () => {
  it('registers, activates, reads back, and reports MCR outages', async () => {
    const ref = machineDid(3);
    const created = await api.post(
      '/api/v1/machines',
      machineBody(ref, { identityProof: await machineProof(api, ref, machineWallet(3)) }),
    );
    expect(created.status).toBe(201);
    const id = created.body.item.id;
    expect((await api.patch(`/api/v1/machines/${id}`, { status: 'active' })).body.item.status).toBe('active');
    expect((await api.get(`/api/v1/machines/${id}`)).body.item.identityProof.signerAddress).toBe(
      machineWallet(3).address,
    );
    expect((await api.get('/api/v1/readiness')).body.status).toBe('ready');
    await fetch(`${mcrUrl}/__control/failure`, {
      method: 'POST',
      body: JSON.stringify({ mode: '503' }),
      headers: { 'content-type': 'application/json' },
    });
    const down = await api.get(`/api/v1/machines/${id}`);
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('PEAQOS_IDENTITY_UNAVAILABLE');
    await fetch(`${mcrUrl}/__control/machines/3`, { method: 'DELETE' });
    await fetch(`${mcrUrl}/__control/failure`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'none' }),
      headers: { 'content-type': 'application/json' },
    });
    expect((await api.get(`/api/v1/machines/${id}`)).body.error.code).toBe('MACHINE_NOT_ACTIVATED');
  });
});
