import type { HandlerMap } from '../../http/types.ts';
import { created, ok } from '../../http/types.ts';
import { pageQuery } from '../../http/pagination.ts';
import type { OrdersService } from './service.ts';
import type { PaymentsService } from './payments.ts';

export function orderHandlers(orders: OrdersService, payments: PaymentsService) {
  return {
    listMarketOrders: async (ctx) => ok(await orders.list(ctx.query.machineId, ctx.query.status, pageQuery(ctx.query))),
    createMarketOrder: async (ctx) => created({ item: await orders.create(ctx.caller, ctx.body) }),
    getMarketOrder: async (ctx) => ok({ item: await orders.get(ctx.params.orderId, ctx.caller) }),
    createMarketPaymentIntent: async (ctx) => {
      const r = await payments.paymentIntent(ctx.caller, ctx.params.orderId, ctx.body ?? {});
      return { status: r.created ? 201 : 200, body: { item: r.payment } };
    },
    submitMarketPaymentProof: async (ctx) =>
      ok({ item: await payments.paymentProof(ctx.caller, ctx.params.orderId, ctx.body) }),
    getMarketPayment: async (ctx) => ok({ item: await payments.payment(ctx.params.orderId, ctx.caller) }),
    lockMarketPaymentEscrow: async (ctx) =>
      ok({ item: await payments.escrowLock(ctx.caller, ctx.params.orderId, ctx.body ?? {}) }),
    releaseMarketPayment: async (ctx) => ok({ item: await payments.release(ctx.params.orderId, ctx.body ?? {}) }),
    refundMarketPayment: async (ctx) => ok({ item: await payments.refund(ctx.params.orderId, ctx.body ?? {}) }),
    executeMarketOrder: async (ctx) => {
      const r = await orders.execute(ctx.caller, ctx.params.orderId, ctx.body ?? {});
      if (r.error)
        return r.status === 503 ? { status: 503, body: { error: r.error } } : { status: 502, body: { error: r.error } };
      const body = { item: r.order, outcome: r.outcome, run: r.run, handoff: r.order.handoff };
      return r.status === 202 ? { status: 202, body } : { status: 200, body };
    },
    confirmMarketOrder: async (ctx) => ok({ item: await orders.confirm(ctx.caller, ctx.params.orderId) }),
    disputeMarketOrder: async (ctx) => ok({ item: await orders.dispute(ctx.caller, ctx.params.orderId, ctx.body) }),
    cancelMarketOrder: async (ctx) => ok({ item: await orders.cancel(ctx.caller, ctx.params.orderId, ctx.body ?? {}) }),
  } satisfies HandlerMap;
}
