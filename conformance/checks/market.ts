import type { Kit } from '../kit.ts';
import { STATELESS, type CheckContext } from './context.ts';

export function registerMarket(kit: Kit, ctx: CheckContext): void {
  const { h, secret, tokenHeader, machine, pairing, fx } = ctx;
  kit.group('market', (check) => {
    check(
      'search (ranked quotes with reasons), order, pay (recorded), execute, confirm',
      async () => {
        const m = await machine();
        const p = await pairing();
        kit.ok(
          await h.send('PUT', `/api/v1/machines/${m.id}/runtime-endpoints/qvac`, {
            body: { endpointBaseUrl: fx.runtimeUrl },
          }),
          'upsertRuntimeEndpoint',
          [200, 201],
        );
        const s = kit.ok(
          await h.send('POST', '/api/v1/market/search', {
            body: {
              machineId: m.id,
              serviceType: 'compute.marketplace',
              providerCredentials: { conformance: { apiKey: secret } },
            },
            headers: tokenHeader(p.token),
          }),
          'searchMarket',
          201,
        );
        kit.assert(!s.rawBody.includes(secret), s, 'searchMarket', 'providerCredentials never reappear');
        const quotes = s.body.item.quotes as Array<{
          id: string;
          score: number;
          reasons: string[];
          executionMode: string;
          payment: { required: boolean };
        }>;
        if (!quotes.length) kit.skip('the target catalogue has no compute.marketplace quote');
        for (let i = 1; i < quotes.length; i++)
          kit.assert(quotes[i - 1]!.score >= quotes[i]!.score, s, 'searchMarket', 'quotes ranked by score');
        kit.assert(
          quotes.every((q) => q.reasons.length > 0),
          s,
          'searchMarket',
          'every quote has reasons',
        );
        const q = quotes.find((x) => x.executionMode === 'native') ?? quotes[0]!;
        const o = kit.ok(
          await h.send('POST', '/api/v1/market/orders', {
            body: { machineId: m.id, searchId: s.body.item.id, quoteId: q.id },
            headers: tokenHeader(p.token),
          }),
          'createMarketOrder',
          201,
        );
        kit.assert(o.body.item.status === 'created', o, 'createMarketOrder', 'a new order is created');
        const base = `/api/v1/market/orders/${o.body.item.id}`;
        const intent = kit.ok(
          await h.send('POST', `${base}/payment-intent`, { body: {}, headers: tokenHeader(p.token) }),
          'createMarketPaymentIntent',
          [200, 201],
        );
        const again = kit.ok(
          await h.send('POST', `${base}/payment-intent`, { body: {}, headers: tokenHeader(p.token) }),
          'createMarketPaymentIntent',
          [200, 201],
        );
        kit.assert(
          again.body.item.id === intent.body.item.id,
          again,
          'createMarketPaymentIntent',
          `payment-intent is idempotent (${STATELESS})`,
        );
        if (intent.body.item.status !== 'not_required') {
          kit.ok(
            await h.send('POST', `${base}/payment-proof`, {
              body: { verificationMode: 'recorded', txHash: `0x${'ab'.repeat(32)}` },
              headers: tokenHeader(p.token),
            }),
            'submitMarketPaymentProof',
            200,
          );
        }
        kit.ok(await h.send('GET', `${base}/payment`), 'getMarketPayment', 200);
        const ex = await h.send('POST', `${base}/execute`, { body: {}, headers: tokenHeader(p.token) });
        kit.ok(ex, 'executeMarketOrder', [200, 202]);
        const c = kit.ok(
          await h.send('POST', `${base}/confirm`, { headers: tokenHeader(p.token) }),
          'confirmMarketOrder',
          200,
        );
        kit.assert(c.body.item.status === 'confirmed', c, 'confirmMarketOrder', 'confirmed');
        kit.error(
          await h.send('POST', `${base}/confirm`, { headers: tokenHeader(p.token) }),
          'confirmMarketOrder',
          'ORDER_CLOSED',
        );
        const o2 = kit.ok(await h.send('GET', base), 'getMarketOrder', 200);
        kit.assert(!o2.rawBody.includes(secret), o2, 'getMarketOrder', 'providerCredentials never reappear');
        kit.ok(await h.send('GET', `/api/v1/market/orders?machineId=${m.id}`), 'listMarketOrders', 200);
      },
      { identity: true },
    );
    check(
      'payment and order lifecycles: release, escrow with dispute and refund, cancel; refused transitions in each state',
      async () => {
        const m = await machine();
        const p = await pairing();
        const t = tokenHeader(p.token);
        const s = kit.ok(
          await h.send('POST', '/api/v1/market/search', { body: { machineId: m.id, maxResults: 25 }, headers: t }),
          'searchMarket',
          201,
        );
        const paid = (
          s.body.item.quotes as Array<{ id: string; payment: { required: boolean }; executionMode: string }>
        ).find((q) => q.payment?.required && q.executionMode === 'external-handoff');
        if (!paid) kit.skip('the target catalogue offers no paid external-handoff service to this pairing');
        const order = async () =>
          kit.ok(
            await h.send('POST', '/api/v1/market/orders', {
              body: { machineId: m.id, searchId: s.body.item.id, quoteId: paid.id },
              headers: t,
            }),
            'createMarketOrder',
            201,
          ).body.item;
        const path = (id: string, step: string) => `/api/v1/market/orders/${id}/${step}`;
        const tx = () => `0x${Math.random().toString(16).slice(2).padEnd(64, '7').slice(0, 64)}`;
        // 1. intent, recorded proof, execute (hand-off), confirm, release; a second release is refused.
        const a = await order();
        kit.error(
          await h.send('POST', path(a.id, 'confirm'), { headers: t }),
          'confirmMarketOrder',
          'ORDER_NOT_DELIVERED',
        );
        kit.ok(
          await h.send('POST', path(a.id, 'payment-intent'), { body: { rail: 'wallet' }, headers: t }),
          'createMarketPaymentIntent',
          201,
        );
        const held = kit.ok(
          await h.send('POST', path(a.id, 'payment-proof'), {
            body: { txHash: tx(), verificationMode: 'recorded' },
            headers: t,
          }),
          'submitMarketPaymentProof',
          200,
        );
        kit.assert(held.body.item.status === 'held', held, 'submitMarketPaymentProof', 'the payment is held');
        kit.error(
          await h.send('POST', path(a.id, 'payment/release'), { body: {} }),
          'releaseMarketPayment',
          'ORDER_NOT_DELIVERED',
        );
        kit.ok(await h.send('POST', path(a.id, 'execute'), { body: {}, headers: t }), 'executeMarketOrder', [200, 202]);
        const confirmed = kit.ok(
          await h.send('POST', path(a.id, 'confirm'), { headers: t }),
          'confirmMarketOrder',
          200,
        );
        kit.assert(
          confirmed.body.item.paymentStatus === 'release_pending',
          confirmed,
          'confirmMarketOrder',
          'confirming moves a held payment to release_pending',
        );
        const released = kit.ok(
          await h.send('POST', path(a.id, 'payment/release'), { body: {} }),
          'releaseMarketPayment',
          200,
        );
        kit.assert(released.body.item.status === 'released', released, 'releaseMarketPayment', 'released');
        kit.error(
          await h.send('POST', path(a.id, 'payment/release'), { body: {} }),
          'releaseMarketPayment',
          'ORDER_CLOSED',
        );
        const readBack = kit.ok(await h.send('GET', path(a.id, 'payment')), 'getMarketPayment', 200);
        kit.assert(
          readBack.body.item.status === 'released',
          readBack,
          'getMarketPayment',
          `the release persists (${STATELESS})`,
        );
        // 2. escrow lock, execute, dispute (payment frozen), refund; the disputed order refuses confirm.
        const b = await order();
        const escrow = kit.ok(
          await h.send('POST', path(b.id, 'payment/escrow-lock'), { body: { escrowRef: 'kit-escrow' }, headers: t }),
          'lockMarketPaymentEscrow',
          200,
        );
        kit.assert(escrow.body.item.status === 'held', escrow, 'lockMarketPaymentEscrow', 'escrow holds the payment');
        kit.ok(await h.send('POST', path(b.id, 'execute'), { body: {}, headers: t }), 'executeMarketOrder', [200, 202]);
        const disputed = kit.ok(
          await h.send('POST', path(b.id, 'dispute'), { body: { reason: 'kit dispute' }, headers: t }),
          'disputeMarketOrder',
          200,
        );
        kit.assert(
          disputed.body.item.status === 'disputed' && disputed.body.item.paymentStatus === 'frozen',
          disputed,
          'disputeMarketOrder',
          'disputed, payment frozen',
        );
        kit.error(await h.send('POST', path(b.id, 'confirm'), { headers: t }), 'confirmMarketOrder', 'ORDER_CLOSED');
        const refunded = kit.ok(
          await h.send('POST', path(b.id, 'payment/refund'), { body: { note: 'kit' } }),
          'refundMarketPayment',
          200,
        );
        kit.assert(refunded.body.item.status === 'refunded', refunded, 'refundMarketPayment', 'refunded');
        kit.error(
          await h.send('POST', path(b.id, 'payment/refund'), { body: {} }),
          'refundMarketPayment',
          'ORDER_CLOSED',
        );
        // 3. cancel before execution; a cancelled order refuses execution, and a held payment refuses cancel.
        const c = await order();
        const cancelled = kit.ok(
          await h.send('POST', path(c.id, 'cancel'), { body: { reason: 'kit' }, headers: t }),
          'cancelMarketOrder',
          200,
        );
        kit.assert(cancelled.body.item.status === 'cancelled', cancelled, 'cancelMarketOrder', 'cancelled');
        kit.error(
          await h.send('POST', path(c.id, 'execute'), { body: {}, headers: t }),
          'executeMarketOrder',
          'ORDER_CLOSED',
        );
        kit.error(
          await h.send('POST', path(c.id, 'cancel'), { body: {}, headers: t }),
          'cancelMarketOrder',
          'ORDER_CLOSED',
        );
        const d = await order();
        kit.ok(
          await h.send('POST', path(d.id, 'payment-proof'), { body: { txHash: tx() }, headers: t }),
          'submitMarketPaymentProof',
          200,
        );
        kit.error(
          await h.send('POST', path(d.id, 'cancel'), { body: {}, headers: t }),
          'cancelMarketOrder',
          'ORDER_PAYMENT_HELD',
        );
        kit.ok(await h.send('POST', path(d.id, 'payment/refund'), { body: {} }), 'refundMarketPayment', 200);
        const after = kit.ok(await h.send('GET', `/api/v1/market/orders/${d.id}`), 'getMarketOrder', 200);
        kit.assert(
          after.body.item.status === 'cancelled',
          after,
          'getMarketOrder',
          `a refund before execution cancels the order (${STATELESS})`,
        );
      },
      { identity: true, designed: true },
    );
    check(
      'order errors: an unknown service is refused; confirming an unknown order is NOT_FOUND',
      async () => {
        const m = await machine();
        const p = await pairing();
        kit.error(
          await h.send('POST', '/api/v1/market/orders', {
            body: { machineId: m.id, serviceId: 'conformance-no-such-service' },
            headers: tokenHeader(p.token),
          }),
          'createMarketOrder',
          ['NOT_FOUND', 'VALIDATION_ERROR'],
        );
        kit.error(
          await h.send('POST', '/api/v1/market/orders/conformance-missing/confirm', { headers: tokenHeader(p.token) }),
          'confirmMarketOrder',
          'NOT_FOUND',
        );
      },
      { identity: true, designed: true },
    );
  });
}
