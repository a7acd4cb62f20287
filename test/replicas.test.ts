// Conflicting calls fired at once against real server processes started as `npm start` starts them: two replicas on
// one PostgreSQL database (when PEAQOS_TEST_DATABASE_URL is set), one process on a SQLite file, and two processes on
// one SQLite file. Each race runs ROUNDS times; every round checks the final state against what the 2xx answers
// acknowledged, and no answer may be a 5xx other than 503 STORE_BUSY (which promises that nothing was written).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractClient, type CallResult } from './helpers/contract-client.ts';
import { activeMachine, machineBody, machineDid, machineProof, machineWallet } from './helpers/identity.ts';
import { pair, pairingProof } from './helpers/pairing.ts';
import { PG_URL } from './helpers/db.ts';
import { startMockMcr, startOrchestrator, startPgReplicas, stopAll } from './helpers/processes.ts';

const ROUNDS = 20;
const FIXED_1_USDT = 'svc_humanity_pop'; // fixed price 1 USDT, external hand-off, escrow rail
const dirs: string[] = [];
let mcrUrl: string;

beforeAll(async () => {
  mcrUrl = (await startMockMcr()).url;
}, 60_000);

afterAll(async () => {
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Topology {
  name: string;
  skip?: string;
  /** Starts the replicas; returns their base URLs and a cleanup. */
  start(): Promise<{ urls: string[]; drop(): Promise<void> }>;
}

const serverEnv = () => ({
  PEAQOS_MCR_API_URL: mcrUrl,
  PEAQOS_AGENT_PAIRING_SESSION_SECRET: 'replica-shared-session-secret-0123456789abcdef',
});

function sqliteFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'peaqos-replicas-'));
  dirs.push(dir);
  return join(dir, 'orchestrator.sqlite');
}

const topologies: Topology[] = [
  {
    name: 'two replicas on one PostgreSQL database',
    skip: PG_URL ? undefined : 'PEAQOS_TEST_DATABASE_URL is not set',
    async start() {
      const { replicas, drop } = await startPgReplicas(serverEnv());
      return { urls: replicas.map((r) => r.url), drop };
    },
  },
  {
    name: 'one process on a SQLite file',
    async start() {
      const r = await startOrchestrator({ ...serverEnv(), PEAQOS_DATABASE_URL: sqliteFile() });
      return { urls: [r.url, r.url], drop: async () => void r.proc.kill('SIGTERM') };
    },
  },
  {
    name: 'two processes on one SQLite file',
    async start() {
      const env = { ...serverEnv(), PEAQOS_DATABASE_URL: sqliteFile() };
      const replicas = await Promise.all([startOrchestrator(env), startOrchestrator(env)]);
      return { urls: replicas.map((r) => r.url), drop: async () => replicas.forEach((r) => r.proc.kill('SIGTERM')) };
    },
  },
];

/** Every answer of a race: a 5xx is a defect unless it is 503 STORE_BUSY (nothing written, retry). */
function noServerErrors(...answers: CallResult[]) {
  for (const a of answers) {
    if (a.status >= 500)
      expect(a.body?.error?.code, `${a.operationId} answered ${a.status}: ${JSON.stringify(a.body)}`).toBe(
        'STORE_BUSY',
      );
  }
}
const ok = (a: CallResult) => a.status >= 200 && a.status < 300;

for (const topology of topologies) {
  describe.skipIf(!!topology.skip)(`races: ${topology.name}`, () => {
    let a: ContractClient;
    let b: ContractClient;
    let drop: () => Promise<void>;
    let m1: { id: string };
    let m2: { id: string };

    beforeAll(async () => {
      const started = await topology.start();
      drop = started.drop;
      a = new ContractClient(started.urls[0]!);
      b = new ContractClient(started.urls[1]!);
      m1 = await activeMachine(a, 1);
      m2 = await activeMachine(b, 2);
    }, 90_000);
    afterAll(async () => drop?.());

    const agent = (h: { pairingToken: string }) => ({ headers: { 'x-agent-pairing-token': h.pairingToken } });
    const order = (
      c: ContractClient,
      machineId: string,
      p: { pairingToken: string },
      extra: Record<string, unknown> = {},
      headers: Record<string, string> = {},
    ) =>
      c.post(
        '/api/v1/market/orders',
        { machineId, serviceId: FIXED_1_USDT, ...extra },
        { headers: { ...agent(p).headers, ...headers } },
      );

    it('the same identity registered on both replicas at once: one machine, the other MACHINE_IDENTITY_EXISTS', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        // A machine new to the mock MCR each round; odd rounds race its DID against its other form.
        const mcrId = 1000 + round;
        await fetch(`${mcrUrl}/__control/machines`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ machineId: mcrId }),
        });
        const refs = [machineDid(mcrId), round % 2 ? `peaqos:machine:${mcrId}` : machineDid(mcrId)];
        const proofs = await Promise.all(refs.map((ref, i) => machineProof(i ? b : a, ref, machineWallet(mcrId))));
        const answers = await Promise.all(
          refs.map((ref, i) => (i ? b : a).post('/api/v1/machines', machineBody(ref, { identityProof: proofs[i] }))),
        );
        noServerErrors(...answers);
        const created = answers.filter(ok);
        expect(created.length, `round ${round}: ${JSON.stringify(answers.map((x) => x.body))}`).toBe(1);
        for (const r of answers.filter((x) => !ok(x) && x.status !== 503))
          expect(r.body.error.code).toBe('MACHINE_IDENTITY_EXISTS');
        const stored = (await b.get('/api/v1/machines?limit=500')).body.items.filter((m: { identityRef: string }) =>
          refs.includes(m.identityRef),
        );
        expect(stored.map((m: { id: string }) => m.id)).toEqual([created[0]!.body.item.id]);
      }
    });

    it('revoke vs rotate: an acknowledged revoke stays revoked, and no rotated token places an order', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const w = Wallet.createRandom();
        const p = await pair(a, m1.id, w);
        const proof = await pairingProof(b, m1.id, w);
        const [revoke, rotated] = await Promise.all([
          a.post(`/api/v1/machines/${m1.id}/agent-pairings/${p.id}/revoke`),
          b.post(`/api/v1/machines/${m1.id}/agent-pairings/${p.id}/sessions`, { agentProof: proof }),
        ]);
        noServerErrors(revoke, rotated);
        expect(revoke.status, JSON.stringify(revoke.body)).toBe(200);
        expect((await b.get(`/api/v1/machines/${m1.id}/agent-pairings/${p.id}`)).body.item.status).toBe('revoked');
        if (ok(rotated)) {
          const placed = await order(a, m1.id, rotated.body.item);
          expect(placed.status, `round ${round}: a rotated token placed an order after the revoke`).not.toBe(201);
        }
      }
    });

    it('PATCH vs PATCH and PATCH vs rotate: every acknowledged policy change survives', async () => {
      const w = Wallet.createRandom();
      const p = await pair(a, m1.id, w, { delegationPolicy: { currency: 'USDT' } });
      for (let round = 0; round < ROUNDS; round++) {
        const per = 1 + round;
        const daily = 100 + round;
        const proof = await pairingProof(a, m1.id, w);
        const [p1, p2, rot] = await Promise.all([
          a.patch(`/api/v1/machines/${m1.id}/agent-pairings/${p.id}`, {
            delegationPolicy: { perTransactionLimit: per },
          }),
          b.patch(`/api/v1/machines/${m1.id}/agent-pairings/${p.id}`, { delegationPolicy: { dailySpendLimit: daily } }),
          a.post(`/api/v1/machines/${m1.id}/agent-pairings/${p.id}/sessions`, { agentProof: proof }),
        ]);
        noServerErrors(p1, p2, rot);
        expect([p1.status, p2.status, rot.status], JSON.stringify([p1.body, p2.body, rot.body])).toEqual([
          200, 200, 201,
        ]);
        const policy = (await b.get(`/api/v1/machines/${m1.id}/agent-pairings/${p.id}`)).body.item.delegationPolicy;
        expect(policy, `round ${round}`).toMatchObject({ perTransactionLimit: per, dailySpendLimit: daily });
      }
    });

    it('archive vs create order: never an archived machine with an open order', async () => {
      const p = await pair(b, m2.id, Wallet.createRandom());
      for (let round = 0; round < ROUNDS; round++) {
        const [archive, placed] = await Promise.all([
          a.patch(`/api/v1/machines/${m2.id}`, { status: 'archived' }),
          order(b, m2.id, p),
        ]);
        noServerErrors(archive, placed);
        expect(ok(archive) && ok(placed), `round ${round}: both the archive and the order were acknowledged`).toBe(
          false,
        );
        expect(ok(archive) || ok(placed), `round ${round}: ${JSON.stringify([archive.body, placed.body])}`).toBe(true);
        if (ok(archive)) {
          expect((await a.patch(`/api/v1/machines/${m2.id}`, { status: 'active' })).status).toBe(200);
        } else {
          expect(archive.body.error.code).toBe('OPEN_MARKET_ORDERS');
          expect((await b.post(`/api/v1/market/orders/${placed.body.item.id}/cancel`, {}, agent(p))).status).toBe(200);
        }
      }
    });

    it('revoke vs create order: never a revoked pairing with an open order', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const p = await pair(a, m1.id, Wallet.createRandom());
        const [revoke, placed] = await Promise.all([
          b.post(`/api/v1/machines/${m1.id}/agent-pairings/${p.id}/revoke`),
          order(a, m1.id, p),
        ]);
        noServerErrors(revoke, placed);
        expect(ok(revoke) && ok(placed), `round ${round}: both the revoke and the order were acknowledged`).toBe(false);
        expect(ok(revoke) || ok(placed), `round ${round}: ${JSON.stringify([revoke.body, placed.body])}`).toBe(true);
        if (ok(placed)) {
          expect(revoke.body.error.code).toBe('OPEN_MARKET_ORDERS');
          expect((await a.get(`/api/v1/machines/${m1.id}/agent-pairings/${p.id}`)).body.item.status).toBe('active');
          expect((await b.post(`/api/v1/market/orders/${placed.body.item.id}/cancel`, {}, agent(p))).status).toBe(200);
        }
      }
    });

    it('cancel vs payment proof: a cancelled order never holds money', async () => {
      const p = await pair(a, m1.id, Wallet.createRandom());
      for (let round = 0; round < ROUNDS; round++) {
        const o = (await order(a, m1.id, p)).body.item;
        expect(
          (await a.post(`/api/v1/market/orders/${o.id}/payment-intent`, { rail: 'wallet' }, agent(p))).status,
        ).toBe(201);
        const txHash = `0x${randomBytes(32).toString('hex')}`;
        const [cancel, proof] = await Promise.all([
          a.post(`/api/v1/market/orders/${o.id}/cancel`, {}, agent(p)),
          b.post(`/api/v1/market/orders/${o.id}/payment-proof`, { txHash, verificationMode: 'recorded' }, agent(p)),
        ]);
        noServerErrors(cancel, proof);
        expect(ok(cancel) && ok(proof), `round ${round}: both the cancel and the proof were acknowledged`).toBe(false);
        const after = (await b.get(`/api/v1/market/orders/${o.id}`)).body.item;
        if (ok(proof)) {
          expect(cancel.body.error.code).toBe('ORDER_PAYMENT_HELD');
          expect(after).toMatchObject({ status: 'ready', paymentStatus: 'held' });
          // Refund (operator) is how held money leaves; it cancels the order.
          expect((await a.post(`/api/v1/market/orders/${o.id}/payment/refund`, {})).body.item.status).toBe('refunded');
        } else {
          expect(after.status).toBe('cancelled');
          expect(after.paymentStatus).not.toBe('held');
        }
      }
    });

    it('release vs refund: exactly one settles the payment, and the stored state is the acknowledged one', async () => {
      const p = await pair(a, m1.id, Wallet.createRandom());
      for (let round = 0; round < ROUNDS; round++) {
        const o = (await order(a, m1.id, p)).body.item;
        await a.post(`/api/v1/market/orders/${o.id}/payment-intent`, { rail: 'wallet' }, agent(p));
        expect(
          (
            await b.post(
              `/api/v1/market/orders/${o.id}/payment-proof`,
              { txHash: `0x${randomBytes(32).toString('hex')}` },
              agent(p),
            )
          ).status,
        ).toBe(200);
        expect((await a.post(`/api/v1/market/orders/${o.id}/execute`, {}, agent(p))).body.item.status).toBe('handoff');
        expect((await b.post(`/api/v1/market/orders/${o.id}/confirm`, {}, agent(p))).body.item.paymentStatus).toBe(
          'release_pending',
        );
        const [release, refund] = await Promise.all([
          a.post(`/api/v1/market/orders/${o.id}/payment/release`, {}),
          b.post(`/api/v1/market/orders/${o.id}/payment/refund`, {}),
        ]);
        noServerErrors(release, refund);
        expect(
          [ok(release), ok(refund)].filter(Boolean),
          `round ${round}: ${JSON.stringify([release.body, refund.body])}`,
        ).toHaveLength(1);
        const stored = (await a.get(`/api/v1/market/orders/${o.id}/payment`)).body.item.status;
        expect(stored).toBe(ok(release) ? 'released' : 'refunded');
      }
    });

    it('concurrent orders vs the daily limit: never more than the limit, on either replica', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const p = await pair(a, m1.id, Wallet.createRandom(), {
          delegationPolicy: { perTransactionLimit: 1, dailySpendLimit: 3, currency: 'USDT' },
        });
        const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => order(i % 2 ? a : b, m1.id, p)));
        noServerErrors(...answers);
        const placed = answers.filter(ok);
        expect(placed.length, `round ${round}`).toBeLessThanOrEqual(3);
        for (const r of answers.filter((x) => !ok(x) && x.status !== 503))
          expect(r.body.error.code).toBe('AGENT_DAILY_LIMIT_EXCEEDED');
        const stored = (await b.get(`/api/v1/market/orders?machineId=${m1.id}&limit=500`)).body.items.filter(
          (o: { agentPairingId: string }) => o.agentPairingId === p.id,
        );
        expect(stored.map((o: { id: string }) => o.id).sort()).toEqual(placed.map((r) => r.body.item.id).sort());
      }
    });

    it('the same Idempotency-Key on both replicas at once: one order, the same answer twice', async () => {
      const p = await pair(a, m1.id, Wallet.createRandom());
      for (let round = 0; round < ROUNDS; round++) {
        const key = `order-${round}-${randomBytes(4).toString('hex')}`;
        const [r1, r2] = await Promise.all([
          order(a, m1.id, p, {}, { 'idempotency-key': key }),
          order(b, m1.id, p, {}, { 'idempotency-key': key }),
        ]);
        noServerErrors(r1, r2);
        const created = [r1, r2].filter((r) => r.status === 201);
        expect(created.length, JSON.stringify([r1.body, r2.body])).toBeGreaterThanOrEqual(1);
        for (const r of [r1, r2]) if (r.status !== 201) expect(r.body.error.code).toBe('IDEMPOTENCY_KEY_IN_PROGRESS');
        expect(new Set(created.map((r) => r.body.item.id)).size).toBe(1);
        const mine = (await a.get(`/api/v1/market/orders?machineId=${m1.id}&limit=500`)).body.items.filter(
          (o: { id: string; agentPairingId: string }) => o.agentPairingId === p.id,
        );
        expect(mine.filter((o: { id: string }) => o.id === created[0]!.body.item.id)).toHaveLength(1);
        expect(mine, `round ${round}: one key made ${mine.length - round} orders`).toHaveLength(round + 1);
      }
    });
  });
}
