// Market orders and their payments, through the reference state machines.
import type { CatalogService } from '../../../src/modules/catalog/catalog-core.ts';
import { chargeOf, policyRefusals } from '../../../src/modules/market/policy-check.ts';
import type { DelegationPolicy } from '../../../src/modules/pairings/policy.ts';
import {
  orderStep,
  paymentStep,
  CLOSED_ORDER_STATUSES,
  MONEY_COMMITTED,
  type OrderStatus,
  type PaymentStatus,
} from '../../../src/modules/orders/state.ts';
import { ApiError } from '../../../src/errors.ts';
import type { MarketOrderRecord, MarketPayment, RouteRecord, TaskRecord } from '../../../generated/types.gen.ts';
import { clockMs, mockId, now, type MockState } from '../state.ts';
import {
  type Operation,
  ok,
  created,
  gone,
  page,
  sorted,
  audit,
  activeMachine,
  spentToday,
  pairingFor,
  policiesOf,
  executeRoute,
  order,
  type OpsContext,
} from './common.ts';

function setOrderStatus(o: MarketOrderRecord, action: Parameters<typeof orderStep>[1], at: string) {
  o.status = orderStep(o.status as OrderStatus, action) as MarketOrderRecord['status'];
  o.updatedAt = at;
}

function setPayment(state: MockState, o: MarketOrderRecord, p: MarketPayment, status: PaymentStatus, at: string) {
  p.status = status;
  p.updatedAt = at;
  o.paymentStatus = status;
  state.payments.set(o.id, p);
}

function newPayment(state: MockState, o: MarketOrderRecord, rail: MarketPayment['rail'], at: string): MarketPayment {
  return {
    id: mockId(state, 'mpy'),
    orderId: o.id,
    machineId: o.machineId,
    status: rail === 'not-required' ? 'not_required' : 'intent_created',
    rail,
    required: rail !== 'not-required',
    amount: o.amount,
    currency: o.currency,
    chain: o.payment.network ?? null,
    payerAddress: null,
    payeeAddress: o.payment.payeeAddress ?? null,
    tokenAddress: o.payment.tokenAddress ?? null,
    txHash: null,
    verificationMode: null,
    verifiedAt: null,
    escrowRef: null,
    challenge:
      rail === 'x402'
        ? { scheme: 'x402', payTo: o.payment.payeeAddress ?? null, asset: o.currency, maxAmountRequired: o.amount }
        : null,
    note: null,
    createdAt: at,
    updatedAt: at,
  };
}

export function ordersOperations(ctx: OpsContext): Record<string, Operation> {
  const { catalog } = ctx;
  return {
    listMarketOrders: (state, req) => {
      activeMachine(state, req.query.machineId!);
      return ok(
        page(
          sorted(state.orders).filter(
            (o) => o.machineId === req.query.machineId && (!req.query.status || o.status === req.query.status),
          ),
          req.query,
        ),
      );
    },
    createMarketOrder: (state, req) => {
      const b = req.body;
      const p = pairingFor(state, req.headers, b.machineId);
      activeMachine(state, b.machineId);
      let service: CatalogService | undefined;
      let operation = b.operation;
      let quoteBudget: { amount?: number; currency?: string } | undefined;
      if (b.searchId || b.quoteId) {
        const search = state.searches.get(b.searchId) ?? gone('Market search');
        const q = search.quotes.find((x) => x.id === b.quoteId) ?? gone('Quote');
        if (Date.parse(q.expiresAt) <= clockMs(state))
          throw new ApiError('QUOTE_EXPIRED', 'The quote has expired: search again.');
        service = catalog.service(q.serviceId);
        operation ??= q.operation;
        quoteBudget = (search.query as { budget?: { amount?: number; currency?: string } }).budget;
      } else if (b.serviceId) service = catalog.service(b.serviceId);
      else throw new ApiError('VALIDATION_ERROR', 'Name the service (serviceId) or the quote (searchId and quoteId).');
      if (!service) gone('Service');
      // The server's evaluation, shared with search: a quote the mock offered is an order it accepts.
      const policy = p.delegationPolicy as DelegationPolicy;
      const spend = {
        delegationPolicy: policy,
        machinePolicies: policiesOf(state, activeMachine(state, b.machineId)),
        budget: b.budget ?? quoteBudget ?? null,
        spentTodayMicros: spentToday(state, p.id),
      };
      const refusal = policyRefusals(service!, spend)?.[0];
      if (refusal) throw new ApiError(refusal.code, `${refusal.reason}.`);
      const { amount } = chargeOf(service!, spend);
      const at = now(state);
      const o: MarketOrderRecord = {
        id: mockId(state, 'mor'),
        machineId: b.machineId,
        agentPairingId: p.id,
        searchId: b.searchId ?? null,
        quoteId: b.quoteId ?? null,
        serviceId: service!.id,
        skillKey: service!.skillKey,
        providerKey: service!.providerKey,
        serviceType: service!.serviceType,
        operation: operation ?? service!.operations[0]!,
        executionMode: service!.executionMode,
        integrationStatus: service!.integrationStatus,
        status: 'created',
        input: b.input ?? {},
        budget: b.budget ?? null,
        payment: service!.payment,
        serviceSnapshot: { id: service!.id, name: service!.name },
        taskId: null,
        routeId: null,
        runId: null,
        outcomeId: null,
        handoff: service!.executionMode === 'external-handoff' ? (service!.handoff ?? null) : null,
        amount,
        currency: service!.pricing.currency ?? b.budget?.currency ?? null,
        paymentStatus: null,
        errorMessage: null,
        disputeReason: null,
        createdAt: at,
        updatedAt: at,
      };
      state.orders.set(o.id, o);
      audit(state, 'market.order.created', 'market-order', o.id, { serviceId: o.serviceId });
      return created({ item: o });
    },
    getMarketOrder: (state, req) => ok({ item: order(state, req.params.orderId!) }),
    createMarketPaymentIntent: (state, req) => {
      const o = order(state, req.params.orderId!);
      pairingFor(state, req.headers, o.machineId);
      const existing = state.payments.get(o.id);
      if (existing) return ok({ item: existing });
      if (CLOSED_ORDER_STATUSES.includes(o.status as OrderStatus))
        throw new ApiError('ORDER_CLOSED', `The order is ${o.status}.`);
      const rail = req.body?.rail ?? o.payment.defaultRail;
      if (rail === 'not-required' && o.payment.required)
        throw new ApiError('VALIDATION_ERROR', 'This service requires payment.');
      const at = now(state);
      const p = newPayment(state, o, rail, at);
      if (req.body?.payerAddress) p.payerAddress = req.body.payerAddress;
      setPayment(state, o, p, p.status as PaymentStatus, at);
      setOrderStatus(o, p.status === 'not_required' ? 'ready' : 'await-payment', at);
      audit(state, 'market.payment.intent-created', 'market-payment', p.id, { orderId: o.id });
      return created({ item: p });
    },
    submitMarketPaymentProof: (state, req) => {
      const o = order(state, req.params.orderId!);
      pairingFor(state, req.headers, o.machineId);
      if (CLOSED_ORDER_STATUSES.includes(o.status as OrderStatus))
        throw new ApiError('ORDER_CLOSED', `The order is ${o.status}.`);
      if (req.body.verificationMode === 'rpc')
        throw new ApiError('PAYMENT_RPC_REQUIRED', 'The mock has no EVM RPC: use verificationMode recorded.');
      const at = now(state);
      const p =
        state.payments.get(o.id) ??
        newPayment(state, o, o.payment.defaultRail === 'not-required' ? 'wallet' : o.payment.defaultRail, at);
      if (p.status === 'held' && p.txHash === req.body.txHash) return ok({ item: p });
      Object.assign(p, {
        txHash: req.body.txHash,
        verificationMode: 'recorded',
        chain: req.body.chain ?? p.chain,
        payerAddress: req.body.payerAddress ?? p.payerAddress,
      });
      setPayment(state, o, p, paymentStep(p.status as PaymentStatus, 'hold'), at);
      if (o.status === 'created' || o.status === 'payment_pending') setOrderStatus(o, 'ready', at);
      audit(state, 'market.payment.proof-recorded', 'market-payment', p.id, { orderId: o.id });
      return ok({ item: p });
    },
    getMarketPayment: (state, req) =>
      ok({ item: (order(state, req.params.orderId!), state.payments.get(req.params.orderId!)) ?? gone('Payment') }),
    lockMarketPaymentEscrow: (state, req) => {
      const o = order(state, req.params.orderId!);
      pairingFor(state, req.headers, o.machineId);
      const at = now(state);
      const p = state.payments.get(o.id) ?? newPayment(state, o, 'escrow', at);
      if (p.status === 'held') return ok({ item: p });
      if (CLOSED_ORDER_STATUSES.includes(o.status as OrderStatus))
        throw new ApiError('ORDER_CLOSED', `The order is ${o.status}.`);
      p.escrowRef = req.body?.escrowRef ?? p.escrowRef;
      setPayment(state, o, p, paymentStep(p.status as PaymentStatus, 'hold'), at);
      if (o.status === 'created' || o.status === 'payment_pending') setOrderStatus(o, 'ready', at);
      audit(state, 'market.payment.escrow-held', 'market-payment', p.id, { orderId: o.id });
      return ok({ item: p });
    },
    releaseMarketPayment: (state, req) => {
      const o = order(state, req.params.orderId!);
      const p = state.payments.get(o.id) ?? gone('Payment');
      setPayment(state, o, p, paymentStep(p.status as PaymentStatus, 'release'), now(state));
      audit(state, 'market.payment.released', 'market-payment', p.id, { orderId: o.id });
      return ok({ item: p });
    },
    refundMarketPayment: (state, req) => {
      const o = order(state, req.params.orderId!);
      const p = state.payments.get(o.id) ?? gone('Payment');
      const at = now(state);
      setPayment(state, o, p, paymentStep(p.status as PaymentStatus, 'refund'), at);
      if (['created', 'payment_pending', 'ready'].includes(o.status)) setOrderStatus(o, 'cancel', at);
      audit(state, 'market.payment.refunded', 'market-payment', p.id, { orderId: o.id });
      return ok({ item: p });
    },
    executeMarketOrder: (state, req) => {
      const o = order(state, req.params.orderId!);
      pairingFor(state, req.headers, o.machineId);
      const at = now(state);
      setOrderStatus(o, 'execute', at);
      const service = catalog.service(o.serviceId)!;
      const t: TaskRecord = {
        id: mockId(state, 'tsk'),
        machineId: o.machineId,
        serviceType: o.serviceType,
        operation: o.operation,
        taskType: 'market-order',
        status: 'executing',
        input: { ...o.input, ...(req.body?.input ?? {}) },
        constraints: { allowExternalHandoff: true, requireNativeExecution: false, requiredCapabilities: [] },
        discovery: { maxCandidates: 1 },
        routeId: null,
        outcomeId: null,
        createdAt: at,
        updatedAt: at,
      };
      const route: RouteRecord = {
        id: mockId(state, 'rte'),
        machineId: o.machineId,
        taskId: t.id,
        selectedSkillKey: o.skillKey,
        selectedServiceId: o.serviceId,
        executionMode: o.executionMode,
        integrationStatus: o.integrationStatus,
        status: 'selected',
        reason: `market order ${o.id}`,
        score: 1,
        fallbackChain: [],
        handoff: o.handoff,
        createdAt: at,
        updatedAt: at,
      };
      t.routeId = route.id;
      state.tasks.set(t.id, t);
      state.routes.set(route.id, route);
      const ex = executeRoute(state, catalog, t, route);
      const at2 = now(state);
      setOrderStatus(
        o,
        ex.outcome.status === 'completed' ? 'deliver' : ex.outcome.status === 'external' ? 'hand-off' : 'fail',
        at2,
      );
      Object.assign(o, {
        taskId: t.id,
        routeId: route.id,
        runId: ex.run.id,
        outcomeId: ex.outcome.id,
        errorMessage: ex.outcome.errorMessage ?? null,
      });
      audit(state, 'market.order.executed', 'market-order', o.id, { status: o.status });
      void service;
      if (ex.status >= 500)
        throw new ApiError('RUNTIME_UNAVAILABLE', ex.outcome.errorMessage ?? 'No runtime endpoint.');
      return { status: ex.status, body: { item: o, outcome: ex.outcome, run: ex.run, handoff: o.handoff } };
    },
    confirmMarketOrder: (state, req) => {
      const o = order(state, req.params.orderId!);
      pairingFor(state, req.headers, o.machineId);
      const at = now(state);
      setOrderStatus(o, 'confirm', at);
      const p = state.payments.get(o.id);
      if (p?.status === 'held') setPayment(state, o, p, paymentStep('held', 'await-release'), at);
      audit(state, 'market.order.confirmed', 'market-order', o.id);
      return ok({ item: o });
    },
    disputeMarketOrder: (state, req) => {
      const o = order(state, req.params.orderId!);
      pairingFor(state, req.headers, o.machineId);
      const at = now(state);
      setOrderStatus(o, 'dispute', at);
      o.disputeReason = req.body.reason;
      const p = state.payments.get(o.id);
      if (p && (p.status === 'held' || p.status === 'release_pending'))
        setPayment(state, o, p, paymentStep(p.status, 'freeze'), at);
      audit(state, 'market.order.disputed', 'market-order', o.id, { reason: req.body.reason });
      return ok({ item: o });
    },
    cancelMarketOrder: (state, req) => {
      const o = order(state, req.params.orderId!);
      pairingFor(state, req.headers, o.machineId);
      const paid = state.payments.get(o.id);
      if (paid && MONEY_COMMITTED.includes(paid.status)) {
        orderStep(o.status, 'cancel');
        throw new ApiError(
          'ORDER_PAYMENT_HELD',
          `The order's payment is ${paid.status}: the operator refunds it, which cancels the order.`,
        );
      }
      setOrderStatus(o, 'cancel', now(state));
      audit(state, 'market.order.cancelled', 'market-order', o.id);
      return ok({ item: o });
    },
  };
}
