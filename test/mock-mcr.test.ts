// The mock MCR answers as documented: every answer validates against mocks/mcr/openapi.yaml, errors are FastAPI
// bodies, and another process can change its registry over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractValidator } from '../src/contract/validator.ts';
import { loadSpec, MCR_SPEC_PATH } from '../src/contract/spec.ts';
import { startMockMcr, type MockMcrServer } from '../mocks/mcr/server.ts';
import { OPERATOR_A, didOf, testWallet } from '../mocks/mcr/fixtures.ts';

const validator = new ContractValidator(loadSpec(MCR_SPEC_PATH), 'mcr.json');
let mcr: MockMcrServer;
beforeAll(async () => {
  mcr = await startMockMcr();
});
afterAll(async () => {
  await mcr.close();
});

async function get(operationId: string, path: string) {
  const res = await fetch(`${mcr.url}${path}`);
  const body = await res.json();
  const check = validator.validateResponse(operationId, res.status, body, res.headers.get('content-type'));
  expect(check.errors, `${path} -> ${res.status}`).toEqual([]);
  return { status: res.status, body };
}

describe('mock MCR over HTTP', () => {
  it('serves health, readiness, cards, profiles, scores, metadata and fleets that match its spec', async () => {
    expect((await get('getHealth', '/health')).body).toEqual({ status: 'ok' });
    expect((await get('getReady', '/ready')).status).toBe(200);
    const card = await get('getMachineCard', '/machines/1');
    expect(card.body.did).toBe(didOf(testWallet('machine:1')));
    expect(card.body.operator).toBe(didOf(OPERATOR_A));
    const profile = await get('getMachineProfile', `/machine/${encodeURIComponent(didOf(testWallet('machine:2')))}`);
    expect(profile.body.peaqos).toMatchObject({ machine_id: 2, bond_status: 'bonded', mcr: 'AA' });
    expect((await get('getMachineProfile', `/machine/${testWallet('machine:4').address}`)).body.peaqos.mcr).toBe('NR');
    expect((await get('getMcr', `/mcr/${didOf(testWallet('machine:3'))}`)).body.mcr_score).toBe(40);
    expect((await get('getMetadata', '/metadata/6')).body.peaqos.data_visibility).toBe('public');
    const fleet = await get('getOperatorMachines', `/operator/${didOf(OPERATOR_A)}/machines?limit=1`);
    expect(fleet.body.pagination).toEqual({ offset: 0, limit: 1, total: 2 });
  });

  it('answers errors as FastAPI does', async () => {
    expect((await get('getMachineCard', '/machines/999')).body).toEqual({ detail: 'Machine not found' });
    expect((await get('getMachineCard', '/machines/5')).body).toEqual({ detail: 'Machine wallet not found' });
    expect((await get('getMachineCard', '/machines/0')).status).toBe(422);
    expect((await get('getMachineCard', '/machines/abc')).status).toBe(422);
    expect((await get('getMetadata', '/metadata/0')).status).toBe(422);
    expect((await get('getMachineProfile', '/machine/0x1234')).body).toEqual({
      detail: 'Invalid Ethereum address format',
    });
    expect((await get('getOperatorMachines', `/operator/${didOf(OPERATOR_A)}/machines?limit=21`)).status).toBe(422);
  });

  it('can be changed at run time through its control API', async () => {
    await fetch(`${mcr.url}/__control/machines`, {
      method: 'POST',
      body: JSON.stringify({ machineId: 42, walletLabel: 'machine:42', bondStatus: 'unbonded' }),
      headers: { 'content-type': 'application/json' },
    });
    expect((await get('getMachineCard', '/machines/42')).body.bond_status).toBe('unbonded');
    await fetch(`${mcr.url}/__control/machines/42`, { method: 'DELETE' });
    expect((await get('getMachineCard', '/machines/42')).status).toBe(404);
    for (const [mode, status] of [
      ['503', 503],
      ['429', 429],
    ] as const) {
      await fetch(`${mcr.url}/__control/failure`, {
        method: 'POST',
        body: JSON.stringify({ mode }),
        headers: { 'content-type': 'application/json' },
      });
      expect((await get('getMachineCard', '/machines/1')).status).toBe(status);
    }
    await fetch(`${mcr.url}/__control/reset`, { method: 'POST' });
    expect((await get('getMachineCard', '/machines/1')).status).toBe(200);
  });
});
