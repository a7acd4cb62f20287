// Idempotency keys: the store on every engine (claim, replay, mismatch, expiry, crashed owners, concurrent
// claims), then the HTTP contract (replay with the stored status and body, 422 for another request, scoping by
// credentials, 5xx not kept, the applied mark committed with the state change), and SQLite's STORE_BUSY.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { engines, openTestStore } from './helpers/db.ts';
import { IdempotencyStore } from '../src/store/idempotency.ts';
import { requestWrites, withTransaction } from '../src/store/tx.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { activeMachine } from './helpers/identity.ts';
import { agentWallet, pair } from './helpers/pairing.ts';
import { openStore } from '../src/store/db.ts';
import { StoreBusyError } from '../src/store/busy.ts';
import { createClient, createConfig } from '../generated/client/index.ts';
import { createPolicy } from '../generated/sdk.gen.ts';

// better-sqlite3 ships no type declarations; the test needs only exec and close.
const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => {
  exec(sql: string): void;
  close(): void;
};

const policyRow = (id: string) => ({
  id,
  name: id,
  allowed_skill_keys: '[]',
  denied_skill_keys: '[]',
  region_rules: '[]',
  required_capabilities: '[]',
  native_only: false,
  handoff_allowed: true,
  created_at: 'a',
  updated_at: 'a',
});

describe.each(engines())('idempotency store on $name', (engine) => {
  it('claims once, replays the stored answer, refuses another request, and forgets after the TTL', async () => {
    const { db, drop } = await openTestStore(engine);
    let now = Date.parse('2026-03-01T00:00:00.000Z');
    const store = new IdempotencyStore({ db, now: () => now, ttlMs: 60_000 });
    try {
      expect(await store.claim('s', 'k', 'f1')).toEqual({ kind: 'run' });
      expect(await store.claim('s', 'k', 'f1')).toEqual({ kind: 'in-progress' });
      expect(await store.claim('s', 'k', 'f2')).toEqual({ kind: 'mismatch' });
      expect(await store.claim('other-scope', 'k', 'f2')).toEqual({ kind: 'run' });
      await store.complete('s', 'k', 201, { item: { id: 'x1' } });
      expect(await store.claim('s', 'k', 'f1')).toEqual({ kind: 'replay', status: 201, body: { item: { id: 'x1' } } });
      now += 60_001;
      expect(await store.claim('s', 'k', 'f2')).toEqual({ kind: 'run' });
      now += 120_000;
      expect(await store.purgeExpired()).toBe(2);
    } finally {
      await drop();
    }
  });

  it('releases a key whose request changed nothing, takes over a crashed claim, and never re-runs an applied one', async () => {
    const { db, drop } = await openTestStore(engine);
    let now = Date.parse('2026-03-01T00:00:00.000Z');
    const store = new IdempotencyStore({ db, now: () => now, ttlMs: 3_600_000, leaseMs: 1_000 });
    try {
      expect((await store.claim('s', 'released', 'f')).kind).toBe('run');
      await store.release('s', 'released');
      expect((await store.claim('s', 'released', 'f')).kind).toBe('run');

      expect((await store.claim('s', 'crashed', 'f')).kind).toBe('run');
      expect((await store.claim('s', 'applied', 'f')).kind).toBe('run');
      // The applied mark commits with the state change; a rolled-back transaction leaves the key running.
      await withTransaction(db, (trx) => store.markApplied(trx, 's', 'applied'));
      await expect(
        withTransaction(db, async (trx) => {
          await store.markApplied(trx, 's', 'crashed');
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      now += 1_001; // both owners are gone
      expect((await store.claim('s', 'crashed', 'f')).kind).toBe('run');
      expect((await store.claim('s', 'applied', 'f')).kind).toBe('lost');
    } finally {
      await drop();
    }
  });

  it('lets exactly one of many concurrent claims run', async () => {
    const { db, drop } = await openTestStore(engine);
    const store = new IdempotencyStore({ db, now: () => Date.now(), ttlMs: 60_000 });
    try {
      for (let round = 0; round < 20; round++) {
        const claims = await Promise.all(Array.from({ length: 8 }, () => store.claim('s', `k${round}`, 'f')));
        expect(claims.filter((c) => c.kind === 'run')).toHaveLength(1);
        expect(claims.filter((c) => c.kind !== 'run').every((c) => c.kind === 'in-progress')).toBe(true);
      }
    } finally {
      await drop();
    }
  });

  it('marks the key applied inside every transaction of the request that carries it', async () => {
    const { db, drop } = await openTestStore(engine);
    const store = new IdempotencyStore({ db, now: () => Date.now(), ttlMs: 60_000 });
    try {
      await store.claim('s', 'k', 'f');
      const writes = {
        applied: false,
        beforeCommit: (trx: Parameters<typeof store.markApplied>[0]) => store.markApplied(trx, 's', 'k'),
      };
      await requestWrites.run(writes, () => withTransaction(db, (trx) => trx('policies').insert(policyRow('pol_x'))));
      expect(writes.applied).toBe(true);
      expect((await db('idempotency_keys').where({ scope: 's', key: 'k' }).first()).state).toBe('applied');
    } finally {
      await drop();
    }
  });
});

describe('Idempotency-Key over HTTP', () => {
  useMockMcr();
  let srv: TestServer | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  it.each(engines())(
    'replays the first answer, refuses another request with 422, and scopes keys per credentials on $name',
    async (engine) => {
      srv = await startTestServer({ engine });
      const machine = await activeMachine(srv.client, 1);
      const p = await pair(srv.client, machine.id, agentWallet('idem'));
      const h = { 'x-agent-pairing-token': p.pairingToken, 'idempotency-key': 'order-1' };
      const body = { machineId: machine.id, serviceId: 'svc_humanity_pop' };
      const first = await srv.client.post('/api/v1/market/orders', body, { headers: h });
      expect(first.status).toBe(201);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const again = await srv.client.post('/api/v1/market/orders', body, { headers: h });
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      const orders = async () =>
        (await srv!.client.get(`/api/v1/market/orders?machineId=${machine.id}`)).body.items.length;
      expect(await orders()).toBe(1);

      const other = await srv.client.post(
        '/api/v1/market/orders',
        { ...body, input: { note: 'different' } },
        { headers: h },
      );
      expect(other.status).toBe(422);
      expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');

      // Other credentials, same key: a request of its own.
      const policy = await srv.client.post(
        '/api/v1/policies',
        { name: 'p1' },
        { headers: { 'idempotency-key': 'order-1' } },
      );
      expect(policy.status).toBe(201);
      const policyAgain = await srv.client.post(
        '/api/v1/policies',
        { name: 'p1' },
        { headers: { 'idempotency-key': 'order-1' } },
      );
      expect(policyAgain.body.item.id).toBe(policy.body.item.id);
      expect((await srv.client.get('/api/v1/policies')).body.items).toHaveLength(1);

      // A refusal is kept too (a retry meets the same answer without running again)...
      const refused = await srv.client.post(
        '/api/v1/market/orders',
        { machineId: machine.id, serviceId: 'svc_nope' },
        { headers: { ...h, 'idempotency-key': 'refused' } },
      );
      expect(refused.status).toBe(404);
      expect(
        (
          await srv.client.post(
            '/api/v1/market/orders',
            { machineId: machine.id, serviceId: 'svc_nope' },
            { headers: { ...h, 'idempotency-key': 'refused' } },
          )
        ).headers.get('idempotent-replayed'),
      ).toBe('true');
      // ...but a 409 that changed nothing is not: the retry runs again.
      const closed = await srv.client.post(
        `/api/v1/market/orders/${first.body.item.id}/confirm`,
        {},
        { headers: { ...h, 'idempotency-key': 'confirm-early' } },
      );
      expect(closed.status).toBe(409);
      expect(
        (
          await srv.client.post(
            `/api/v1/market/orders/${first.body.item.id}/confirm`,
            {},
            { headers: { ...h, 'idempotency-key': 'confirm-early' } },
          )
        ).headers.get('idempotent-replayed'),
      ).toBeNull();

      const bad = await srv.client.post(
        '/api/v1/policies',
        { name: 'p2' },
        { headers: { 'idempotency-key': 'has space' } },
      );
      expect(bad.status).toBe(400);
      expect(bad.body.error.details[0]).toMatchObject({ location: 'header', path: '/idempotency-key' });
      expect((await srv.client.get('/api/v1/policies')).body.items).toHaveLength(1);
    },
  );

  it('is a typed header of the generated client', async () => {
    srv = await startTestServer();
    const client = createClient(createConfig({ baseUrl: srv.url }));
    const first = await createPolicy({ client, body: { name: 'typed' }, headers: { 'Idempotency-Key': 'typed-1' } });
    const again = await createPolicy({ client, body: { name: 'typed' }, headers: { 'Idempotency-Key': 'typed-1' } });
    expect(first.response.status).toBe(201);
    expect(again.response.headers.get('idempotent-replayed')).toBe('true');
    expect(again.data?.item.id).toBe(first.data?.item.id);
  });

  it('does not keep a 500: the retry runs the operation again', async () => {
    srv = await startTestServer();
    const original = srv.services.policies.create.bind(srv.services.policies);
    let calls = 0;
    srv.services.policies.create = async (...args: Parameters<typeof original>) => {
      if (++calls === 1) throw new Error('disk on fire');
      return original(...args);
    };
    const h = { headers: { 'idempotency-key': 'p-500' } };
    expect((await srv.client.post('/api/v1/policies', { name: 'p' }, h)).status).toBe(500);
    const retry = await srv.client.post('/api/v1/policies', { name: 'p' }, h);
    expect(retry.status).toBe(201);
    expect(calls).toBe(2);
  });
});

describe('SQLite shared by processes', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('waits for another process holding the write lock, then answers StoreBusyError past the budget', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peaqos-busy-'));
    dirs.push(dir);
    const file = join(dir, 'db.sqlite');
    const db = await openStore(file, { busyTimeoutMs: 300 });
    const other = new Database(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      const started = Date.now();
      // The lock is released after 100 ms: the write waits (without blocking the event loop) and succeeds.
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      setTimeout(() => other.exec('COMMIT'), 100);
      await withTransaction(db, (trx) => trx('policies').insert(policyRow('pol_a')));
      clearInterval(ticker);
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
      expect(ticks).toBeGreaterThan(3);
      // Held past the budget: StoreBusyError (503 STORE_BUSY over HTTP), and nothing written.
      other.exec('BEGIN IMMEDIATE');
      await expect(withTransaction(db, (trx) => trx('policies').insert(policyRow('pol_b')))).rejects.toBeInstanceOf(
        StoreBusyError,
      );
      other.exec('COMMIT');
      expect((await db('policies').select('id')).map((r: { id: string }) => r.id)).toEqual(['pol_a']);
    } finally {
      other.close();
      await db.destroy();
    }
  });
});
