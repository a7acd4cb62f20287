import { describe, expect, it } from 'vitest';
import { McrClient } from '../src/identity/mcr-client.ts';
import { OPERATOR_A, didOf, testWallet } from '../mocks/mcr/fixtures.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { MCR_TEST_URL } from './helpers/server.ts';

const registry = useMockMcr();
const client = (over: Partial<ConstructorParameters<typeof McrClient>[0]> = {}) =>
  new McrClient({ baseUrl: MCR_TEST_URL, timeoutMs: 300, cacheTtlMs: 0, ...over });

describe('MCR client', () => {
  it('resolves did:peaq DIDs to the machine and operator addresses', async () => {
    const r = await client().resolve(didOf(testWallet('machine:1')));
    expect(r).toMatchObject({
      machineId: 1,
      bondStatus: 'bonded',
      controllerAddresses: [testWallet('machine:1').address, OPERATOR_A.address],
    });
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
    await expect(client().resolve('peaqos:machine:1')).rejects.toMatchObject({
      code: 'PEAQOS_IDENTITY_UNAVAILABLE',
      status: 503,
    });
  });

  it('maps an unreachable MCR to PEAQOS_IDENTITY_UNAVAILABLE', async () => {
    await expect(
      new McrClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 300, cacheTtlMs: 0 }).resolve('peaqos:machine:1'),
    ).rejects.toMatchObject({ code: 'PEAQOS_IDENTITY_UNAVAILABLE' });
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

  it('hands out a fresh cached answer without asking, and nothing once it is stale or with TTL 0', async () => {
    let now = 1_000_000;
    const hits: boolean[] = [];
    const c = client({ cacheTtlMs: 1000, now: () => now, onCache: (hit: boolean) => hits.push(hit) });
    expect(c.cached('peaqos:machine:1')).toBeUndefined();
    const resolved = await c.resolve('peaqos:machine:1');
    expect(resolved).not.toBeNull();
    hits.length = 0;
    expect(c.cached('peaqos:machine:1')).toEqual(resolved);
    expect(hits).toEqual([true]);
    expect(c.cached('peaqos:machine:999999')).toBeUndefined();
    now += 1001;
    expect(c.cached('peaqos:machine:1')).toBeUndefined();
    expect(c.requestsSent).toBe(1);
    const uncached = client();
    await uncached.resolve('peaqos:machine:1');
    expect(uncached.cached('peaqos:machine:1')).toBeUndefined();
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

  describe('fails closed', () => {
    const did = didOf(testWallet('machine:1'));
    const answering = (
      body: BodyInit | null,
      status = 200,
      headers: Record<string, string> = { 'content-type': 'application/json' },
    ) => client({ fetch: async () => new Response(body, { status, headers }), requestsPerMinute: 0 });

    it.each([
      ['an empty object', '{}'],
      ['an array', '[1,2,3]'],
      ['a profile without the machine fields', JSON.stringify({ schema_version: '1.0', name: 'x', peaqos: { did } })],
      [
        'a profile with a bad bond status',
        JSON.stringify({
          schema_version: '1.0',
          name: 'x',
          peaqos: {
            machine_id: 1,
            did,
            operator: null,
            mcr: 'BBB',
            mcr_score: 50,
            bond_status: 'yes',
            negative_flag: false,
            event_count: 1,
            data_visibility: 'private',
            documentation_url: null,
          },
        }),
      ],
      ['not JSON', 'hello'],
    ])('a 200 with %s is PEAQOS_IDENTITY_UNAVAILABLE, never a resolution', async (_what, body) => {
      await expect(answering(body).resolve(did)).rejects.toMatchObject({ code: 'PEAQOS_IDENTITY_UNAVAILABLE' });
      await expect(answering(body).resolve('peaqos:machine:1')).rejects.toMatchObject({
        code: 'PEAQOS_IDENTITY_UNAVAILABLE',
      });
    });

    it('refuses the profile of another DID and the card of another machine', async () => {
      const other = didOf(testWallet('machine:2'));
      const profile = {
        schema_version: '1.0',
        name: 'x',
        peaqos: {
          machine_id: 2,
          did: other,
          operator: null,
          mcr: 'BBB',
          mcr_score: 50,
          bond_status: 'bonded',
          negative_flag: false,
          event_count: 1,
          data_visibility: 'private',
          documentation_url: null,
        },
      };
      await expect(answering(JSON.stringify(profile)).resolve(did)).rejects.toMatchObject({
        code: 'PEAQOS_IDENTITY_UNAVAILABLE',
      });
      const real = await (await fetch(`${MCR_TEST_URL}/machines/2`)).json();
      await expect(answering(JSON.stringify(real)).resolve('peaqos:machine:1')).rejects.toMatchObject({
        code: 'PEAQOS_IDENTITY_UNAVAILABLE',
      });
      expect(await answering(JSON.stringify(real)).resolve('peaqos:machine:2')).toMatchObject({
        machineId: 2,
        did: other,
      });
    });

    it('stops reading an answer over 1 MiB, declared or streamed', async () => {
      const big = 'x'.repeat(2 * 1024 * 1024);
      await expect(answering(big).resolve(did)).rejects.toMatchObject({
        code: 'PEAQOS_IDENTITY_UNAVAILABLE',
        message: expect.stringContaining('over'),
      });
      let sent = 0;
      const endless = new ReadableStream<Uint8Array>({
        pull(controller) {
          sent += 65536;
          controller.enqueue(new Uint8Array(65536).fill(32));
          if (sent > 64 * 1024 * 1024) controller.close();
        },
      });
      await expect(answering(endless).resolve(did)).rejects.toMatchObject({ code: 'PEAQOS_IDENTITY_UNAVAILABLE' });
      expect(sent).toBeLessThan(4 * 1024 * 1024);
    });

    it('keeps within the MCR request budget: past it, 503 with Retry-After and no request sent', async () => {
      const c = client({ requestsPerMinute: 3 });
      for (let i = 0; i < 3; i++) await c.resolve('peaqos:machine:1');
      const err = await c.resolve('peaqos:machine:1').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PEAQOS_IDENTITY_UNAVAILABLE', status: 503 });
      expect(Number((err as { headers: Record<string, string> }).headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(c.requestsSent).toBe(3);
    });
  });
});
