// Market orders and payments through HTTP, with payment proofs verified on a real EVM chain (ganache) against a
// real ERC-20 (compiled with solc-js). Flows: paid and delivered, disputed, refunded; every error code.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { activeMachine } from './helpers/identity.ts';
import { agentWallet, pair, rotate } from './helpers/pairing.ts';
import { startFakeRuntime, type FakeRuntime } from './helpers/runtime-server.ts';
import { startChain, type TestChain } from './helpers/chain.ts';
import { engines } from './helpers/db.ts';

const registry = useMockMcr();
const PAYEE = '0x2F6D5B3A0EE31Ac9C4A5C46e0E4C84C4d0d3f6A1';
let chain: TestChain;
beforeAll(async () => {
  chain = await startChain();
}, 60_000);
afterAll(async () => {
  await chain.close();
});
let srv: TestServer | undefined;
let rt: FakeRuntime | undefined;
afterEach(async () => {
  await srv?.close();
  await rt?.close();
  srv = undefined;
  rt = undefined;
});

interface Ctx {
  machine: { id: string };
  pairing: { id: string; pairingToken: string };
  h: { headers: Record<string, string> };
}

async function setup(
  env: Record<string, string> = {},
  policy: Record<string, unknown> = {},
  engine = engines()[0]!,
): Promise<Ctx> {
  rt = await startFakeRuntime();
  srv = await startTestServer({ engine, env: { PEAQOS_PAYMENT_RPC_URL: chain.rpcUrl, ...env } });
  const machine = await activeMachine(srv.client, 1);
  await srv.client.put(`/api/v1/machines/${machine.id}/runtime-endpoints/wdk`, { endpointBaseUrl: rt.url });
  await srv.client.put(`/api/v1/machines/${machine.id}/runtime-endpoints/qvac`, { endpointBaseUrl: rt.url });
  const pairing = await pair(srv.client, machine.id, agentWallet('orders'), { delegationPolicy: policy });
  return { machine, pairing, h: { headers: { 'x-agent-pairing-token': pairing.pairingToken } } };
}

const order = (c: Ctx, body: Record<string, unknown>) =>
  srv!.client.post('/api/v1/market/orders', { machineId: c.machine.id, ...body }, c.h);
const step = (c: Ctx, id: string, path: string, body?: unknown, auth = true) =>
  srv!.client.post(`/api/v1/market/orders/${id}/${path}`, body, auth ? c.h : {});
const types = async (id: string) =>
  (await srv!.client.get(`/api/v1/audit-events?limit=500`)).body.items
    .filter(
      (e: { payload: { orderId?: string }; resourceId: string }) => e.resourceId === id || e.payload.orderId === id,
    )
    .map((e: { type: string }) => e.type);

describe('market orders', () => {
  it('full flow: search, order from a quote, pay on chain (rpc), execute natively, confirm, release', async () => {
    const c = await setup({}, { perTransactionLimit: 1, dailySpendLimit: 5, currency: 'USDT' });
    const search = await srv!.client.post(
      '/api/v1/market/search',
      { machineId: c.machine.id, serviceType: 'machine.commerce' },
      c.h,
    );
    const quote = search.body.item.quotes[0];
    expect(quote.serviceId).toBe('svc_wdk_usdt_transfer');
    const created = await order(c, {
      searchId: search.body.item.id,
      quoteId: quote.id,
      input: { to: PAYEE, amount: '1' },
    });
    expect(created.status).toBe(201);
    const o = created.body.item;
    expect(o).toMatchObject({
      status: 'created',
      serviceId: 'svc_wdk_usdt_transfer',
      amount: 0.05,
      currency: 'USDT',
      agentPairingId: c.pairing.id,
      searchId: search.body.item.id,
      quoteId: quote.id,
      paymentStatus: null,
    });
    expect(o.payment).toMatchObject({ required: true, defaultRail: 'wdk-usdt-transfer' });

    const intent = await step(c, o.id, 'payment-intent', { rail: 'wallet', payerAddress: chain.payer.address });
    expect(intent.status).toBe(201);
    expect(intent.body.item).toMatchObject({
      status: 'intent_created',
      rail: 'wallet',
      payeeAddress: PAYEE,
      amount: 0.05,
    });
    const again = await step(c, o.id, 'payment-intent', { rail: 'x402' });
    expect(again.status).toBe(200);
    expect(again.body.item.id).toBe(intent.body.item.id);
    expect((await srv!.client.get(`/api/v1/market/orders/${o.id}`)).body.item.status).toBe('payment_pending');

    const tx = await chain.pay(PAYEE, '0.05');
    const proof = await step(c, o.id, 'payment-proof', {
      verificationMode: 'rpc',
      txHash: tx,
      tokenAddress: chain.tokenAddress,
      paymentHeaders: { xPayment: 'raw-header-secret' },
    });
    expect(proof.status).toBe(200);
    expect(proof.body.item).toMatchObject({
      status: 'held',
      rail: 'wdk-usdt-transfer',
      verificationMode: 'rpc',
      txHash: tx,
      payerAddress: chain.payer.address,
    });
    expect(proof.body.item.verifiedAt).toBeTruthy();
    expect((await srv!.client.get(`/api/v1/market/orders/${o.id}`)).body.item).toMatchObject({
      status: 'ready',
      paymentStatus: 'held',
    });

    const early = await step(c, o.id, 'confirm');
    expect(early.body.error.code).toBe('ORDER_NOT_DELIVERED');

    const exec = await step(c, o.id, 'execute', { input: { memo: 'x' } });
    expect(exec.status).toBe(200);
    expect(exec.body.item).toMatchObject({
      status: 'delivered',
      runId: exec.body.run.id,
      outcomeId: exec.body.outcome.id,
    });
    expect(exec.body.outcome).toMatchObject({ status: 'completed', serviceId: 'svc_wdk_usdt_transfer' });
    expect(rt!.requests.find((r) => r.path === '/transfers')!.body).toMatchObject({
      to: PAYEE,
      memo: 'x',
      operation: 'transfer.send',
    });
    expect(
      (await srv!.client.get(`/api/v1/machines/${c.machine.id}/tasks/${exec.body.item.taskId}`)).body.item.status,
    ).toBe('completed');

    const tooEarly = await srv!.client.post(`/api/v1/market/orders/${o.id}/payment/release`);
    expect(tooEarly.body.error.code).toBe('ORDER_NOT_DELIVERED');
    const confirmed = await step(c, o.id, 'confirm');
    expect(confirmed.body.item).toMatchObject({ status: 'confirmed', paymentStatus: 'release_pending' });
    expect((await step(c, o.id, 'confirm')).body.error.code).toBe('ORDER_CLOSED');
    expect((await step(c, o.id, 'dispute', { reason: 'late' })).body.error.code).toBe('ORDER_CLOSED');
    const released = await srv!.client.post(`/api/v1/market/orders/${o.id}/payment/release`, { note: 'paid out' });
    expect(released.body.item.status).toBe('released');
    expect((await srv!.client.get(`/api/v1/market/orders/${o.id}/payment`)).body.item.status).toBe('released');
    expect(await types(o.id)).toEqual([
      'market.order.created',
      'market.payment.intent-created',
      'market.payment.proof-recorded',
      'market.order.executed',
      'market.order.confirmed',
      'market.payment.released',
    ]);
    for (const t of ['market_payments', 'market_orders', 'audit_events'])
      expect(JSON.stringify(await srv!.db(t).select('*'))).not.toContain('raw-header-secret');
  });

  it('disputed flow: escrow lock, execute, dispute freezes the payment, refund settles it', async () => {
    const c = await setup();
    const o = (await order(c, { serviceId: 'svc_humanity_pop' })).body.item;
    expect(o.executionMode).toBe('external-handoff');
    const locked = await step(c, o.id, 'payment/escrow-lock', { escrowRef: 'escrow-17' });
    expect(locked.body.item).toMatchObject({ status: 'held', rail: 'escrow', escrowRef: 'escrow-17' });
    expect((await step(c, o.id, 'payment/escrow-lock', {})).body.item.escrowRef).toBe('escrow-17');
    const exec = await step(c, o.id, 'execute', {});
    expect(exec.status).toBe(202);
    expect(exec.body.item.status).toBe('handoff');
    expect(exec.body.handoff.url).toBe('https://humanity.org/verify');
    expect(exec.body.outcome.status).toBe('external');
    const disputed = await step(c, o.id, 'dispute', {
      reason: 'Verification never completed.',
      evidence: { ticket: 42 },
    });
    expect(disputed.body.item).toMatchObject({
      status: 'disputed',
      paymentStatus: 'frozen',
      disputeReason: 'Verification never completed.',
    });
    expect((await step(c, o.id, 'execute', {})).body.error.code).toBe('ORDER_CLOSED');
    expect((await step(c, o.id, 'payment/escrow-lock', {})).body.error.code).toBe('ORDER_CLOSED');
    expect((await srv!.client.get(`/api/v1/market/orders/${o.id}/payment`)).body.item.status).toBe('frozen');
    const refunded = await srv!.client.post(`/api/v1/market/orders/${o.id}/payment/refund`, { note: 'dispute upheld' });
    expect(refunded.body.item.status).toBe('refunded');
    expect((await srv!.client.post(`/api/v1/market/orders/${o.id}/payment/refund`)).body.error.code).toBe(
      'ORDER_CLOSED',
    );
    expect(await types(o.id)).toEqual([
      'market.order.created',
      'market.payment.escrow-held',
      'market.order.executed',
      'market.order.disputed',
      'market.payment.refunded',
    ]);
  });

  it('refunded flow: a recorded proof, then a refund before execution cancels the order', async () => {
    const c = await setup();
    const o = (await order(c, { serviceId: 'svc_filecoin_pin_paysh' })).body.item;
    const proof = await step(c, o.id, 'payment-proof', {
      txHash: `0x${'ab'.repeat(32)}`,
      payerAddress: chain.payer.address,
    });
    expect(proof.body.item).toMatchObject({ status: 'held', verificationMode: 'recorded', rail: 'wallet' });
    const refunded = await srv!.client.post(`/api/v1/market/orders/${o.id}/payment/refund`, {});
    expect(refunded.body.item.status).toBe('refunded');
    expect((await srv!.client.get(`/api/v1/market/orders/${o.id}`)).body.item.status).toBe('cancelled');
    expect((await step(c, o.id, 'payment-proof', { txHash: `0x${'cd'.repeat(32)}` })).body.error.code).toBe(
      'ORDER_CLOSED',
    );
  });

  it('verifies rpc proofs against the chain: not mined, reverted, wrong amount, recipient or token, RPC down, no RPC', async () => {
    const c = await setup();
    const o = (await order(c, { serviceId: 'svc_filecoin_pin_paysh' })).body.item;
    const proofOf = (txHash: string, extra: Record<string, unknown> = {}) =>
      step(c, o.id, 'payment-proof', { verificationMode: 'rpc', txHash, tokenAddress: chain.tokenAddress, ...extra });
    const pending = await chain.pending(PAYEE, '0.5');
    const notMined = await proofOf(pending.hash);
    expect(notMined.status).toBe(409);
    expect(notMined.body.error.code).toBe('PAYMENT_NOT_MINED');
    await pending.resume();
    const reverted = await proofOf(await chain.reverted(PAYEE));
    expect(reverted.status).toBe(402);
    expect(reverted.body.error.code).toBe('PAYMENT_TX_FAILED');
    const wrongAmount = await proofOf(await chain.pay(PAYEE, '0.4'));
    expect(wrongAmount.status).toBe(400);
    expect(wrongAmount.body.error.code).toBe('PAYMENT_TRANSFER_NOT_FOUND');
    expect((await proofOf(await chain.pay(chain.payer.address, '0.5'))).body.error.code).toBe(
      'PAYMENT_TRANSFER_NOT_FOUND',
    );
    expect((await proofOf(await chain.pay(PAYEE, '0.5', chain.otherToken))).body.error.code).toBe(
      'PAYMENT_TRANSFER_NOT_FOUND',
    );
    const wrongSender = await proofOf(await chain.pay(PAYEE, '0.5'), { payerAddress: agentWallet('someone').address });
    expect(wrongSender.body.error.code).toBe('PAYMENT_TRANSFER_NOT_FOUND');
    expect((await srv!.client.get(`/api/v1/market/orders/${o.id}`)).body.item.status).toBe('created');
    const good = await proofOf(pending.hash);
    expect(good.body.item.status).toBe('held');
    await srv!.close();
    srv = undefined;

    const down = await setup({ PEAQOS_PAYMENT_RPC_URL: 'http://127.0.0.1:9' });
    const o2 = (await order(down, { serviceId: 'svc_filecoin_pin_paysh' })).body.item;
    const rpcDown = await step(down, o2.id, 'payment-proof', {
      verificationMode: 'rpc',
      txHash: `0x${'12'.repeat(32)}`,
      tokenAddress: chain.tokenAddress,
    });
    expect(rpcDown.status).toBe(502);
    expect(rpcDown.body.error.code).toBe('PAYMENT_RPC_ERROR');
    await srv!.close();
    await rt!.close();
    srv = undefined;
    rt = undefined;

    const noRpc = await setup({ PEAQOS_PAYMENT_RPC_URL: '', PEAQOS_REQUIRE_PAYMENT_RPC_VERIFICATION: 'true' });
    srv!.config.paymentRpcUrl = null;
    const o3 = (await order(noRpc, { serviceId: 'svc_filecoin_pin_paysh' })).body.item;
    const forced = await step(noRpc, o3.id, 'payment-proof', {
      verificationMode: 'recorded',
      txHash: `0x${'34'.repeat(32)}`,
    });
    expect(forced.status).toBe(400);
    expect(forced.body.error.code).toBe('PAYMENT_RPC_REQUIRED');
    const solana = await step(noRpc, o3.id, 'payment-proof', {
      chain: 'solana',
      txHash: '5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW',
      payeeAddress: '7EYnhQoR9YM3N7UoaKRoA44Uy8JeaZV3qyouov87awMs',
    });
    expect(solana.body.item).toMatchObject({ status: 'held', verificationMode: 'recorded', chain: 'solana' });
  });

  it('enforces quotes, policy, per-transaction and daily limits (UTC day), and pairing auth', async () => {
    const c = await setup(
      { PEAQOS_REQUIRE_MARKET_QUOTES: 'true' },
      { perTransactionLimit: 0.6, dailySpendLimit: 1, currency: 'USDT', deniedSkillKeys: ['akash.compute-lease'] },
    );
    const noQuote = await order(c, { serviceId: 'svc_filecoin_pin_paysh' });
    expect(noQuote.body.error.code).toBe('VALIDATION_ERROR');
    const search = await srv!.client.post(
      '/api/v1/market/search',
      { machineId: c.machine.id, serviceType: 'storage.object' },
      c.h,
    );
    const q = search.body.item.quotes.find((x: { serviceId: string }) => x.serviceId === 'svc_filecoin_pin_paysh');
    srv!.clock.advance(srv!.config.marketQuoteTtlMs + 1);
    const expired = await order(c, { searchId: search.body.item.id, quoteId: q.id });
    expect(expired.status).toBe(410);
    expect(expired.body.error.code).toBe('QUOTE_EXPIRED');
    expect((await order(c, { searchId: search.body.item.id, quoteId: 'mqt_nope' })).status).toBe(404);
    expect((await order(c, { searchId: 'msr_nope', quoteId: q.id })).status).toBe(404);
    await srv!.close();
    await rt!.close();

    const d = await setup(
      {},
      { perTransactionLimit: 0.6, dailySpendLimit: 1, currency: 'USDT', deniedSkillKeys: ['akash.compute-lease'] },
    );
    expect(
      (await order(d, { serviceId: 'svc_akash_gpu_lease', budget: { amount: 0.1, currency: 'USDT' } })).body.error.code,
    ).toBe('AGENT_POLICY_DENIED');
    expect((await order(d, { serviceId: 'svc_redstone_price_x402' })).body.error.code).toBe('AGENT_POLICY_DENIED');
    expect((await order(d, { serviceId: 'svc_humanity_pop' })).body.error.code).toBe('AGENT_SPEND_LIMIT_EXCEEDED');
    expect((await order(d, { serviceId: 'svc_minio_object_local' })).body.error.code).toBe('VALIDATION_ERROR');
    expect((await order(d, { serviceId: 'svc_nope' })).status).toBe(404);
    expect((await order(d, {})).body.error.code).toBe('VALIDATION_ERROR');
    expect((await order(d, { serviceId: 'svc_filecoin_pin_paysh' })).status).toBe(201);
    expect((await order(d, { serviceId: 'svc_filecoin_pin_paysh' })).status).toBe(201);
    const over = await order(d, { serviceId: 'svc_filecoin_pin_paysh' });
    expect(over.status).toBe(403);
    expect(over.body.error.code).toBe('AGENT_DAILY_LIMIT_EXCEEDED');
    const now = srv!.clock.now();
    // The next UTC day, and past the pairing token's hour (run late in a day, the day's end comes sooner).
    const nextDay = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1, 0, 0, 1);
    srv!.clock.set(Math.max(nextDay, now.getTime() + 3_600_000 + 1_000));
    const stale = await order(d, { serviceId: 'svc_filecoin_pin_paysh' });
    expect(stale.body.error.code).toBe('AGENT_AUTH_EXPIRED');
    const fresh = (await rotate(srv!.client, d.machine.id, d.pairing.id, agentWallet('orders'))).body.item.pairingToken;
    d.h.headers['x-agent-pairing-token'] = fresh;
    expect((await order(d, { serviceId: 'svc_filecoin_pin_paysh' })).status).toBe(201);

    const none = await srv!.client.post('/api/v1/market/orders', {
      machineId: d.machine.id,
      serviceId: 'svc_qvac_llm_local',
    });
    expect(none.body.error.code).toBe('AGENT_AUTH_REQUIRED');
    registry.unregister(1);
    expect((await order(d, { serviceId: 'svc_qvac_llm_local' })).body.error.code).toBe('MACHINE_NOT_ACTIVATED');
    registry.reset();
    await srv!.client.patch(`/api/v1/machines/${d.machine.id}/agent-pairings/${d.pairing.id}`, { status: 'paused' });
    expect((await order(d, { serviceId: 'svc_qvac_llm_local' })).body.error.code).toBe('AGENT_PAIRING_INACTIVE');
  });

  it('names its pairing when pairing auth is off; AGENT_PAIRING_REQUIRED otherwise', async () => {
    const c = await setup({ PEAQOS_REQUIRE_AGENT_PAIRING_AUTH: 'false' });
    const r = await srv!.client.post('/api/v1/market/orders', {
      machineId: c.machine.id,
      serviceId: 'svc_qvac_llm_local',
    });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('AGENT_PAIRING_REQUIRED');
    expect(
      (
        await srv!.client.post('/api/v1/market/orders', {
          machineId: c.machine.id,
          agentPairingId: c.pairing.id,
          serviceId: 'svc_qvac_llm_local',
        })
      ).status,
    ).toBe(201);
  });

  it('gates execution on payment when required, checks rails and addresses, cancels, and blocks archiving and revoking with open orders', async () => {
    const c = await setup({
      PEAQOS_REQUIRE_PAYMENT_BEFORE_EXECUTE: 'true',
      PEAQOS_ENFORCE_SERVICE_PAYMENT_RAILS: 'true',
    });
    const o = (await order(c, { serviceId: 'svc_filecoin_pin_paysh' })).body.item;
    const unpaid = await step(c, o.id, 'execute', {});
    expect(unpaid.status).toBe(402);
    expect(unpaid.body.error.code).toBe('PAYMENT_REQUIRED');
    expect((await step(c, o.id, 'payment-intent', { rail: 'x402' })).body.error.code).toBe('VALIDATION_ERROR');
    expect((await step(c, o.id, 'payment-intent', { rail: 'not-required' })).body.error.code).toBe('VALIDATION_ERROR');
    expect((await step(c, o.id, 'payment-intent', { rail: 'wallet', payerAddress: '0x1234' })).body.error.code).toBe(
      'VALIDATION_ERROR',
    );
    expect((await srv!.client.get(`/api/v1/market/orders/${o.id}/payment`)).status).toBe(404);
    const free = (
      await order(c, { serviceId: 'svc_qvac_llm_local', input: { messages: [{ role: 'user', content: 'hi' }] } })
    ).body.item;
    const fi = await step(c, free.id, 'payment-intent', {});
    expect(fi.body.item.status).toBe('not_required');
    expect((await srv!.client.get(`/api/v1/market/orders/${free.id}`)).body.item.status).toBe('ready');
    expect((await step(c, free.id, 'execute', {})).status).toBe(200);

    expect(
      (await srv!.client.post(`/api/v1/machines/${c.machine.id}/agent-pairings/${c.pairing.id}/revoke`)).body.error
        .code,
    ).toBe('OPEN_MARKET_ORDERS');
    expect((await srv!.client.patch(`/api/v1/machines/${c.machine.id}`, { status: 'archived' })).body.error.code).toBe(
      'OPEN_MARKET_ORDERS',
    );
    const cancelled = await step(c, o.id, 'cancel', { reason: 'changed my mind' });
    expect(cancelled.body.item.status).toBe('cancelled');
    expect((await step(c, o.id, 'cancel', {})).body.error.code).toBe('ORDER_CLOSED');
    await step(c, free.id, 'confirm');
    expect(
      (await srv!.client.post(`/api/v1/machines/${c.machine.id}/agent-pairings/${c.pairing.id}/revoke`)).status,
    ).toBe(200);
    expect((await srv!.client.patch(`/api/v1/machines/${c.machine.id}`, { status: 'archived' })).status).toBe(200);
    expect((await srv!.client.get('/api/v1/market/orders/mor_nope')).status).toBe(404);
    expect((await srv!.client.get(`/api/v1/market/orders?machineId=${c.machine.id}`)).body.error.code).toBe(
      'MACHINE_NOT_ACTIVE',
    );
    expect((await srv!.client.get('/api/v1/market/orders')).status).toBe(400);
  });

  it("refuses another pairing's token on an order", async () => {
    const c = await setup();
    const o = (await order(c, { serviceId: 'svc_qvac_llm_local' })).body.item;
    const other = await pair(srv!.client, c.machine.id, agentWallet('other-orders'));
    const r = await srv!.client.post(
      `/api/v1/market/orders/${o.id}/execute`,
      {},
      { headers: { 'x-agent-pairing-token': other.pairingToken } },
    );
    expect(r.body.error.code).toBe('AGENT_AUTH_INVALID');
    expect((await srv!.client.get(`/api/v1/market/orders/${o.id}`)).body.item.status).toBe('created');
  });
});

describe.each(engines())('spend limits under concurrency on $name', (engine) => {
  it('20 concurrent orders at a daily limit that fits 3: exactly 3 succeed', async () => {
    const c = await setup({}, { dailySpendLimit: 1.5, currency: 'USDT' }, engine);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => order(c, { serviceId: 'svc_filecoin_pin_paysh' })),
    );
    const codes = results.map((r) => (r.status === 201 ? 'ok' : r.body.error.code));
    expect(codes.filter((x) => x === 'ok')).toHaveLength(3);
    expect(codes.filter((x) => x === 'AGENT_DAILY_LIMIT_EXCEEDED')).toHaveLength(17);
    expect(Number((await srv!.db('market_orders').count({ n: '*' }))[0]!.n)).toBe(3);
  });

  it('held money counts: cancel refuses a held payment, the held amount stays on the daily limit until refunded', async () => {
    const c = await setup({}, { perTransactionLimit: 1, dailySpendLimit: 1, currency: 'USDT' });
    const o = (await order(c, { serviceId: 'svc_humanity_pop' })).body.item;
    expect(o.amount).toBe(1);
    await step(c, o.id, 'payment-intent', { rail: 'wallet' });
    expect((await step(c, o.id, 'payment-proof', { txHash: `0x${'ab'.repeat(32)}` })).body.item.status).toBe('held');
    const cancel = await step(c, o.id, 'cancel', { reason: 'changed my mind' });
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('ORDER_PAYMENT_HELD');
    expect((await srv!.client.get(`/api/v1/market/orders/${o.id}`)).body.item).toMatchObject({
      status: 'ready',
      paymentStatus: 'held',
    });
    expect((await order(c, { serviceId: 'svc_humanity_pop' })).body.error.code).toBe('AGENT_DAILY_LIMIT_EXCEEDED');
    // The refund (operator) returns the money and cancels the order: the limit is free again.
    expect((await srv!.client.post(`/api/v1/market/orders/${o.id}/payment/refund`, {})).body.item.status).toBe(
      'refunded',
    );
    expect((await srv!.client.get(`/api/v1/market/orders/${o.id}`)).body.item.status).toBe('cancelled');
    const second = await order(c, { serviceId: 'svc_humanity_pop' });
    expect(second.status).toBe(201);
    expect((await order(c, { serviceId: 'svc_humanity_pop' })).body.error.code).toBe('AGENT_DAILY_LIMIT_EXCEEDED');
    // A cancelled order with no money committed stops counting.
    expect((await step(c, second.body.item.id, 'cancel', {})).status).toBe(200);
    expect((await order(c, { serviceId: 'svc_humanity_pop' })).status).toBe(201);
  });
});
