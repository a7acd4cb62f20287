// Abuse limits and honest operation: per-client write and challenge budgets (429 RATE_LIMITED with Retry-After,
// shared by replicas on PostgreSQL), expired challenges purged, socket timeouts and a connection cap on the
// server process, readiness that fails when the store cannot write, and a start-up failure that names its variable.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { machineDid } from './helpers/identity.ts';
import { engines, PG_URL } from './helpers/db.ts';
import { buildServer, startOrchestrator, startPgReplicas, stopAll } from './helpers/processes.ts';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { ManualClock } from '../src/clock.ts';
import pino from 'pino';
import knexFactory from 'knex';

useMockMcr();
let servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers) await s.close();
  servers = [];
});
afterAll(stopAll);

const limited = (engine = engines()[0]!) =>
  startTestServer({
    engine,
    env: {
      PEAQOS_RATE_LIMIT_WRITES_PER_MINUTE: '5',
      PEAQOS_RATE_LIMIT_CHALLENGES_PER_MINUTE: '3',
      PEAQOS_API_KEYS: 'key-a,key-b',
    },
  }).then((s) => (servers.push(s), s));

describe.each(engines())('abuse limits on $name', (engine) => {
  it('gives each client a budget of challenges and writes, then answers 429 RATE_LIMITED with Retry-After and runs nothing', async () => {
    const s = await limited(engine);
    const challenge = () => s.client.post('/api/v1/machine-identity/challenges', { identityRef: machineDid(1) });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await challenge()).status);
    expect(statuses).toEqual([201, 201, 201, 429]);
    const refused = await challenge();
    expect(refused.body.error.code).toBe('RATE_LIMITED');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number((await s.db('challenges').count({ n: '*' }))[0]!.n)).toBe(3);
    // Reads are not counted; writes are: 3 challenges + 2 policies use the 5.
    expect((await s.client.get('/api/v1/policies')).status).toBe(200);
    expect((await s.client.post('/api/v1/policies', { name: 'a' })).status).toBe(201);
    expect((await s.client.post('/api/v1/policies', { name: 'b' })).status).toBe(201);
    expect((await s.client.post('/api/v1/policies', { name: 'c' })).status).toBe(429);
    // A configured key is a client of its own; an unknown key is not (it would buy a fresh budget per request).
    expect((await s.client.post('/api/v1/policies', { name: 'd' }, { headers: { 'x-api-key': 'key-a' } })).status).toBe(
      201,
    );
    expect(
      (await s.client.post('/api/v1/policies', { name: 'e' }, { headers: { 'x-api-key': `made-up-${Math.random()}` } }))
        .status,
    ).toBe(429);
    expect((await s.client.get('/api/v1/policies')).body.items).toHaveLength(3);
  });
});

describe.skipIf(!PG_URL)('abuse limits across replicas (PostgreSQL)', () => {
  it('counts one client across two app instances on one database', async () => {
    const a = await limited(engines()[1]!);
    // A second app on the same schema: a replica.
    const config = loadConfig({
      ...process.env,
      PEAQOS_RATE_LIMIT_WRITES_PER_MINUTE: '5',
      PEAQOS_MCR_API_URL: 'http://mcr.test',
      PEAQOS_AGENT_PAIRING_SESSION_SECRET: 'x'.repeat(40),
      PEAQOS_RUNTIME_PROBE_INTERVAL_MS: '0',
    });
    const b = await createApp({
      config,
      db: a.db,
      clock: new ManualClock(Date.now()),
      logger: pino({ level: 'silent' }),
    });
    const { createServer } = await import('node:http');
    const server = createServer(b.app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const urlB = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const post = (url: string, i: number) =>
        fetch(`${url}/api/v1/policies`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: `p${i}` }),
        });
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await post(i % 2 ? a.url : urlB, i)).status);
      expect(statuses.filter((x) => x === 201)).toHaveLength(5);
      expect(statuses.slice(5)).toEqual([429, 429, 429]);
      // The counters skip the write-ahead log (migration 008): a table of its own persistence 'u' (unlogged).
      const persistence = await a.db.raw(
        "SELECT relpersistence FROM pg_class WHERE relname = 'rate_limits' AND relnamespace = current_schema()::regnamespace",
      );
      expect(persistence.rows).toEqual([{ relpersistence: 'u' }]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await b.close();
    }
  });
});

describe.skipIf(!PG_URL)('abuse limits under concurrency (PostgreSQL, two server processes)', () => {
  // Charges of one client that arrive while its counter's update is in flight are coalesced into the next update
  // (src/http/rate-limit.ts); each must still be counted at its own position, so a burst split over two replicas
  // lets exactly the budget through.
  it('lets exactly the budget through when one client fires a burst at both replicas at once, round after round', async () => {
    const ROUNDS = 12;
    const BUDGET = 7;
    const BURST = 20;
    const keys = Array.from({ length: ROUNDS }, (_, i) => `burst-key-${i}`);
    const { databaseUrl, replicas, drop } = await startPgReplicas({
      PEAQOS_MCR_API_URL: 'http://127.0.0.1:9',
      PEAQOS_AGENT_PAIRING_SESSION_SECRET: 'x'.repeat(40),
      PEAQOS_API_KEYS: keys.join(','),
      PEAQOS_RATE_LIMIT_WRITES_PER_MINUTE: String(BUDGET),
    });
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // Each round is a client of its own (its API key), so each starts with a full budget.
        const answers = await Promise.all(
          Array.from({ length: BURST }, (_, i) =>
            fetch(`${replicas[i % 2]!.url}/api/v1/policies`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-api-key': keys[round]! },
              body: JSON.stringify({ name: `r${round}-p${i}` }),
            }).then(async (r) => ({
              status: r.status,
              retryAfter: r.headers.get('retry-after'),
              body: await r.json(),
            })),
          ),
        );
        const statuses = answers.map((a) => a.status).sort();
        expect(statuses, `round ${round}`).toEqual([
          ...Array<number>(BUDGET).fill(201),
          ...Array<number>(BURST - BUDGET).fill(429),
        ]);
        for (const a of answers.filter((x) => x.status === 429)) {
          expect(a.body.error.code).toBe('RATE_LIMITED');
          expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
        }
      }
      // What was acknowledged is what was stored: BUDGET policies per round, nothing from a refused request.
      const stored = await fetch(`${replicas[0]!.url}/api/v1/policies?limit=100`, {
        headers: { 'x-api-key': keys[0]! },
      }).then((r) => r.json() as Promise<{ items: { name: string }[] }>);
      expect(stored.items).toHaveLength(ROUNDS * BUDGET);
      // The counters hold every charge, refused ones too (as a single charge does).
      const db = knexFactory({ client: 'pg', connection: databaseUrl });
      try {
        const counted = await db.raw(
          `SELECT sum(points)::int AS n, count(*)::int AS clients FROM rate_limits WHERE key LIKE 'w:%'`,
        );
        expect(counted.rows).toEqual([{ n: ROUNDS * BURST, clients: ROUNDS }]);
      } finally {
        await db.destroy();
      }
    } finally {
      await drop();
    }
  }, 120_000);
});

describe('maintenance and readiness', () => {
  it('purges challenges expired over an hour ago', async () => {
    const s = await startTestServer();
    servers.push(s);
    await s.client.post('/api/v1/machine-identity/challenges', { identityRef: machineDid(1) });
    await s.db('challenges').insert({
      id: 'mic_old',
      purpose: 'machine-identity',
      subject: 'x',
      machine_id: null,
      payload: '{}',
      message: 'm',
      issued_at: '2020-01-01T00:00:00.000Z',
      expires_at: '2020-01-01T00:10:00.000Z',
      consumed_at: null,
    });
    await s.services.purgeExpired();
    expect((await s.db('challenges').select('id')).map((r: { id: string }) => r.id)).not.toContain('mic_old');
    expect(Number((await s.db('challenges').count({ n: '*' }))[0]!.n)).toBe(1);
  });

  it('is not ready when the store cannot write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peaqos-ready-'));
    const s = await startTestServer({ engine: { name: 'sqlite', url: join(dir, 'db.sqlite') } });
    servers.push(s);
    try {
      expect((await s.client.get('/api/v1/readiness')).status).toBe(200);
      await s.db.raw('PRAGMA query_only = ON'); // the one writer connection can no longer write
      const r = await s.client.get('/api/v1/readiness');
      expect(r.status).toBe(503);
      expect(r.body.checks.find((c: { name: string }) => c.name === 'store')).toMatchObject({
        ok: false,
        detail: expect.stringContaining('cannot write'),
      });
      await s.db.raw('PRAGMA query_only = OFF');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the server process', () => {
  it('cuts off clients that send headers too slowly and refuses connections past the cap', async () => {
    const srv = await startOrchestrator({
      PEAQOS_DATABASE_URL: ':memory:',
      PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled',
      PEAQOS_HEADERS_TIMEOUT_MS: '300',
      PEAQOS_REQUEST_TIMEOUT_MS: '600',
    });
    // Slow headers: answered 408 and closed soon after the timeout, not held for Node's 60 s.
    const slow = connect(Number(new URL(srv.url).port), '127.0.0.1');
    slow.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    const started = Date.now();
    let said = '';
    slow.on('data', (d) => (said += d));
    await new Promise<void>((resolve) => slow.once('close', () => resolve()));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(said).toMatch(/^HTTP\/1.1 408/);

    const capped = await startOrchestrator({
      PEAQOS_DATABASE_URL: ':memory:',
      PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled',
      PEAQOS_MAX_CONNECTIONS: '3',
    });
    const port = Number(new URL(capped.url).port);
    // Three idle connections fill the cap; a fourth is closed at once.
    const held = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<ReturnType<typeof connect>>((r) => {
            const c = connect(port, '127.0.0.1', () => r(c));
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    const extra = connect(port, '127.0.0.1');
    extra.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const answer = await new Promise<string>((resolve) => {
      let got = '';
      extra.on('data', (d) => (got += d));
      extra.once('close', () => resolve(got));
      extra.once('error', () => resolve(got));
    });
    expect(answer).not.toMatch(/200 OK/);
    held.forEach((c) => c.destroy());
    // With room again, requests are served.
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${capped.url}/health`)).status).toBe(200);
  });

  it('warns at start when API auth is off in production, and readiness says so', async () => {
    const srv = await startOrchestrator({
      NODE_ENV: 'production',
      PEAQOS_AGENT_PAIRING_SESSION_SECRET: 'p'.repeat(40),
      PEAQOS_DATABASE_URL: ':memory:',
      PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled',
    });
    expect(srv.output()).toMatch(/PEAQOS_REQUIRE_API_AUTH is false in production/);
    const ready = (await (await fetch(`${srv.url}/api/v1/readiness`)).json()) as {
      checks: Array<{ name: string; detail: string }>;
    };
    expect(ready.checks.find((c) => c.name === 'auth')!.detail).toMatch(/auth off/);
  });

  it('names PEAQOS_DATABASE_URL when the store cannot be opened', () => {
    buildServer();
    const dir = mkdtempSync(join(tmpdir(), 'peaqos-ro-'));
    try {
      // A file where the store's folder must be: no user, root included, can create the database there.
      const file = join(dir, 'file');
      spawnSync('touch', [file]);
      const run = spawnSync(process.execPath, ['bin/peaqos-orchestrator.js', 'serve'], {
        env: { ...process.env, PORT: '0', HOST: '127.0.0.1', PEAQOS_DATABASE_URL: join(file, 'db.sqlite') },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(run.status).toBe(78);
      expect(run.stderr).toMatch(/PEAQOS_DATABASE_URL/);
      expect(run.stderr).not.toMatch(/\n\s+at /); // one line, no stack
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
