import { describe, expect, it } from 'vitest';
import { McrClient } from '../src/identity/mcr-client.ts';
import { OPERATOR_A, didOf, testWallet } from '../mocks/mcr/fixtures.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { MCR_TEST_URL } from './helpers/server.ts';

const registry = useMockMcr();
const client = (over: Partial<ConstructorParameters<typeof McrClient>[0]> = {}) => new McrClient({ baseUrl: MCR_TEST_URL, timeoutMs: 300, cacheTtlMs: 0, ...over });

describe('MCR client', () => {
  it('resolves did:peaq DIDs to the machine and operator addresses', async () => {
    const r = await client().resolve(didOf(testWallet('machine:1')));
    expect(r).toMatchObject({ machineId: 1, bondStatus: 'bonded', controllerAddresses: [testWallet('machine:1').address, OPERATOR_A.address] });
    expect(r?.mcr?.rating).toBe('BBB');
  });

  it('resolves lower-case DIDs and peaqos:machine public ids to checksummed controllers', async () => {
    const lower = await client().resolve(didOf(testWallet('machine:3')).toLowerCase());
    expect(lower?.controllerAddresses).toEqual([testWallet('machine:3').address]);
    const pub = await client().resolve('peaqos:machine:2');
    expect(pub).toMatchObject({ machineId: 2, did: didOf(testWallet('machine:2')) });
    expect(pub?.controllerAddresses).toContain(OPERATOR_A.address);
  });

  it('answers null for unknown machines and a zero-address wallet', async () => {
    expect(await client().resolve('peaqos:machine:999')).toBeNull();
    expect(await client().resolve('peaqos:machine:5')).toBeNull();
    expect(await client().resolve(didOf(testWallet('nobody')))).toBeNull();
  });

  it.each(['503', '429', '500', 'hang'] as const)('maps MCR %s to PEAQOS_IDENTITY_UNAVAILABLE', async (mode) => {
    registry.setFailure(mode);
    await expect(client().resolve('peaqos:machine:1')).rejects.toMatchObject({ code: 'PEAQOS_IDENTITY_UNAVAILABLE', status: 503 });
  });

  it('maps an unreachable MCR to PEAQOS_IDENTITY_UNAVAILABLE', async () => {
    await expect(new McrClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 300, cacheTtlMs: 0 }).resolve('peaqos:machine:1')).rejects.toMatchObject({ code: 'PEAQOS_IDENTITY_UNAVAILABLE' });
  });

  it('caches answers for the TTL and collapses concurrent look-ups into one request', async () => {
    let now = 1_000_000;
    const c = client({ cacheTtlMs: 1000, now: () => now });
    await Promise.all(Array.from({ length: 10 }, () => c.resolve('peaqos:machine:1')));
    expect(c.requestsSent).toBe(1);
    await c.resolve('peaqos:machine:1');
    expect(c.requestsSent).toBe(1);
    now += 1001;
    await c.resolve('peaqos:machine:1');
    expect(c.requestsSent).toBe(2);
  });

  it('with TTL 0 asks MCR every time', async () => {
    const c = client();
    await c.resolve('peaqos:machine:1');
    await c.resolve('peaqos:machine:1');
    expect(c.requestsSent).toBe(2);
  });

  it('does not cache failures', async () => {
    const c = client({ cacheTtlMs: 60_000 });
    registry.setFailure('503');
    await expect(c.resolve('peaqos:machine:1')).rejects.toThrow();
    registry.setFailure('none');
    expect(await c.resolve('peaqos:machine:1')).not.toBeNull();
  });
});
